package herokupartnertest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddonAnswerMatchesSchema(t *testing.T) {
	w := newWorld(t)
	sch := loadSchema(t)

	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	requireHerokuHeaders(t, a)
	// provision_message is the one add-on property the schema does not
	// require; Heroku sends it only when the partner set one.
	sch.check(t, "add-on", sch.definition(t, "add-on"), a.body, "provision_message")

	m := a.object(t)
	assert.Equal(t, w.a.ID.String(), m["id"])
	assert.Equal(t, "provisioning", m["state"])
	assert.Equal(t, map[string]any{"id": w.app1.ID.String(), "name": "acme-web"}, m["app"])
	assert.Equal(t, "acme-metrics:basic", m["plan"].(map[string]any)["name"])
	assert.Equal(t, map[string]any{"id": w.app1.ID.String(), "name": "acme-web", "type": "app"}, m["billing_entity"])
	assert.Equal(t, map[string]any{"cents": float64(900), "contract": false, "unit": "month"}, m["billed_price"])
	assert.Equal(t, []any{}, m["config_vars"])
	assert.Len(t, m["actions"], 1)
	assert.NotEmpty(t, m["web_url"])
	assert.NotEmpty(t, m["provider_id"])

	// The record AddAddon returned is what the SDK decodes from the API.
	got, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)
	assert.Equal(t, w.a, got)
	cur, ok := w.s.Addon(w.a.ID)
	require.True(t, ok)
	assert.Equal(t, w.a, cur)
}

func TestAddonByName(t *testing.T) {
	w := newWorld(t)
	a := call(t, w.s, http.MethodGet, "/addons/"+w.a.Name, w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, w.a.ID.String(), a.object(t)["id"])
	// Another add-on's name is out of scope.
	requireError(t, call(t, w.s, http.MethodGet, "/addons/"+w.b.Name, w.tokA, nil), http.StatusForbidden, "forbidden")
}

func TestAddonNamesAreStable(t *testing.T) {
	// Golden outputs (the resolve demo's) rely on names being a function
	// of the order add-ons were added in.
	names := func() []string {
		s := herokupartnertest.NewServer()
		defer s.Close()
		app := s.AddApp("a-app")
		var out []string
		for range 3 {
			out = append(out, s.AddAddon(app.ID, "basic").Name)
		}
		return out
	}
	first := names()
	assert.Equal(t, first, names())
	assert.Len(t, map[string]bool{first[0]: true, first[1]: true, first[2]: true}, 3)
	for _, n := range first {
		assert.Regexp(t, `^acme-metrics-[a-z]+-\d{5}$`, n)
	}
}

func TestCouplingsObjectShape(t *testing.T) {
	w := newWorld(t)
	sch := loadSchema(t)

	a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	requireHerokuHeaders(t, a)
	sch.check(t, "pipeline-coupling", sch.definition(t, "pipeline-coupling"), a.body)
	m := a.object(t)
	assert.Equal(t, "production", m["stage"])
	assert.Equal(t, map[string]any{"id": w.p1.ID.String()}, m["pipeline"], "by default the coupling's pipeline carries only its id, as the schema says")
	assert.Equal(t, map[string]any{"id": w.app1.ID.String()}, m["app"])

	// An app in no pipeline: 404 not_found, as the schema's single object implies.
	requireError(t, call(t, w.s, http.MethodGet, w.couplingsPath(w.lone), w.tokL, nil), http.StatusNotFound, "not_found")
}

func TestCouplingsArrayShape(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithCouplingsShape(herokupartnertest.CouplingsArray))
	sch := loadSchema(t)

	a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	list, ok := a.body.([]any)
	require.True(t, ok, "want an array, got %s", a.raw)
	require.Len(t, list, 1)
	sch.check(t, "pipeline-coupling", sch.definition(t, "pipeline-coupling"), list[0])

	a = call(t, w.s, http.MethodGet, w.couplingsPath(w.lone), w.tokL, nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "[]", string(a.raw))
}

func TestPipelineNameInCoupling(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithPipelineNameInCoupling(true))
	a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, map[string]any{"id": w.p1.ID.String(), "name": "acme"}, a.object(t)["pipeline"])
	c := w.s.Couple(w.app1.ID, w.p1.ID, herokupartner.StageProduction)
	assert.Equal(t, "acme", c.Pipeline.Name, "Couple returns the coupling as the endpoint shows it")
}

func TestPipelineAnswerMatchesSchema(t *testing.T) {
	w := newWorld(t)
	sch := loadSchema(t)
	a := call(t, w.s, http.MethodGet, w.pipPath(w.p1.ID), w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	requireHerokuHeaders(t, a)
	sch.check(t, "pipeline", sch.definition(t, "pipeline"), a.body)
	m := a.object(t)
	assert.Equal(t, "acme", m["name"])
	assert.Equal(t, "team", m["owner"].(map[string]any)["type"])
	assert.Equal(t, "cedar", m["generation"].(map[string]any)["name"])

	got, err := w.s.Client(w.tokA).GetPipeline(context.Background(), w.p1.ID.String())
	require.NoError(t, err)
	assert.Equal(t, w.p1, got, "AddPipeline returns what the SDK decodes")
}

func TestResolveThroughSDK(t *testing.T) {
	for _, shape := range []herokupartnertest.CouplingsShape{herokupartnertest.CouplingsObject, herokupartnertest.CouplingsArray} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			w := newWorld(t, herokupartnertest.WithCouplingsShape(shape))
			ctx := context.Background()

			res, err := w.s.Client(w.tokB).ResolvePipeline(ctx, w.b.ID.String())
			require.NoError(t, err)
			require.True(t, res.InPipeline())
			assert.Equal(t, "globex", res.Pipeline.Name)
			assert.Equal(t, herokupartner.StageStaging, res.Stage)
			assert.Equal(t, w.app2, res.App)

			res, err = w.s.Client(w.tokL).ResolvePipeline(ctx, w.l.ID.String())
			require.NoError(t, err)
			assert.False(t, res.InPipeline())
			assert.Equal(t, "lonely-app", res.App.Name)
		})
	}
}

func TestCoupleMovesAndUncouples(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	require.NotNil(t, w.s.Couple(w.app1.ID, w.p2.ID, herokupartner.StageDevelopment))
	cs, err := w.s.Client(w.tokA).GetAppPipelineCouplings(ctx, w.app1.ID.String())
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, w.p2.ID, cs[0].Pipeline.ID)
	assert.Equal(t, herokupartner.StageDevelopment, cs[0].Stage)
	// The token now reaches the new pipeline and no longer the old one.
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.pipPath(w.p2.ID), w.tokA, nil).status)
	requireError(t, call(t, w.s, http.MethodGet, w.pipPath(w.p1.ID), w.tokA, nil), http.StatusForbidden, "forbidden")

	w.s.Uncouple(w.app1.ID)
	_, err = w.s.Client(w.tokA).GetAppPipelineCouplings(ctx, w.app1.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrNotFound)
}

func TestSeedingWithUnknownIDs(t *testing.T) {
	w := newWorld(t)
	nobody := uuid.New()
	// A typo fails at the call, naming the id, not as a nil pointer later.
	msg := func(method, what string) string {
		return "herokupartnertest: " + method + ": no " + what + " with id " + nobody.String() + " on this server"
	}
	assert.PanicsWithValue(t, msg("AddAddon", "app"), func() { w.s.AddAddon(nobody, "basic") })
	assert.PanicsWithValue(t, msg("Couple", "app"), func() { w.s.Couple(nobody, w.p1.ID, herokupartner.StageProduction) })
	assert.PanicsWithValue(t, msg("Couple", "pipeline"), func() { w.s.Couple(w.app1.ID, nobody, herokupartner.StageProduction) })
	assert.PanicsWithValue(t, msg("Uncouple", "app"), func() { w.s.Uncouple(nobody) })
	assert.PanicsWithValue(t, msg("IssueToken", "add-on"), func() { w.s.IssueToken(nobody) })
	assert.PanicsWithValue(t, msg("IssueGrant", "add-on"), func() { w.s.IssueGrant(nobody) })
	assert.PanicsWithValue(t, msg("RevokeGrant", "add-on"), func() { w.s.RevokeGrant(nobody) })
	assert.PanicsWithValue(t, msg("ExpireAccessTokens", "add-on"), func() { w.s.ExpireAccessTokens(nobody) })
	// The server still works after a seeding panic: no lock is left held.
	_, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)

	// Queries answer "not there" instead: an add-on may be gone on purpose.
	_, ok := w.s.Addon(nobody)
	assert.False(t, ok)
	assert.Nil(t, w.s.AddonConfig(nobody))
}

func TestConfigUpdate(t *testing.T) {
	w := newWorld(t)
	sch := loadSchema(t)
	cfgSchema := map[string]any{"type": []any{"array"}, "items": sch.definition(t, "add-on-config")}

	a := call(t, w.s, http.MethodPatch, w.addonPath(w.a.ID)+"/config", w.tokA,
		strings.NewReader(`{"config":[{"name":"ACME_METRICS_URL","value":"https://m.example.com/x"},{"name":"ACME_METRICS_KEY","value":"k1"}]}`))
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	requireHerokuHeaders(t, a)
	sch.check(t, "config", cfgSchema, a.body)
	assert.JSONEq(t, `[{"name":"ACME_METRICS_KEY","value":"k1"},{"name":"ACME_METRICS_URL","value":"https://m.example.com/x"}]`, string(a.raw))

	// A null value deletes; the answer is the whole config.
	a = call(t, w.s, http.MethodPatch, w.addonPath(w.a.ID)+"/config", w.tokA,
		strings.NewReader(`{"config":[{"name":"ACME_METRICS_KEY","value":null}]}`))
	require.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `[{"name":"ACME_METRICS_URL","value":"https://m.example.com/x"}]`, string(a.raw))
	assert.Equal(t, map[string]string{"ACME_METRICS_URL": "https://m.example.com/x"}, w.s.AddonConfig(w.a.ID))

	// GET lists it too, and the add-on's config_vars name it.
	a = call(t, w.s, http.MethodGet, w.addonPath(w.a.ID)+"/config", w.tokA, nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `[{"name":"ACME_METRICS_URL","value":"https://m.example.com/x"}]`, string(a.raw))
	a = call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
	assert.Equal(t, []any{"ACME_METRICS_URL"}, a.object(t)["config_vars"])

	// Through the SDK.
	v := "v2"
	vars, err := w.s.Client(w.tokA).UpdateAddonConfig(context.Background(), w.a.ID.String(), []herokupartner.ConfigVar{{Name: "ACME_METRICS_KEY", Value: &v}})
	require.NoError(t, err)
	require.Len(t, vars, 2)
	assert.Equal(t, "ACME_METRICS_KEY", vars[0].Name)
	assert.True(t, vars[0].Value != nil && *vars[0].Value == "v2")
}

func TestConfigUpdateRejectsBadBodies(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		body   string
		status int
		id     string
	}{
		{`not json`, http.StatusBadRequest, "bad_request"},
		{`{}`, http.StatusUnprocessableEntity, "invalid_params"},
		{`{"config":{"name":"A"}}`, http.StatusUnprocessableEntity, "invalid_params"},
		{`{"config":[{"name":"A","value":3}]}`, http.StatusUnprocessableEntity, "invalid_params"},
		{`{"config":[{"name":"","value":"x"}]}`, http.StatusUnprocessableEntity, "invalid_params"},
	} {
		a := call(t, w.s, http.MethodPatch, w.addonPath(w.a.ID)+"/config", w.tokA, strings.NewReader(tc.body))
		requireError(t, a, tc.status, tc.id)
	}
	assert.Empty(t, w.s.AddonConfig(w.a.ID), "a rejected body changes nothing")

	// Credentials and scope are checked before the body is judged.
	requireError(t, call(t, w.s, http.MethodPatch, w.addonPath(w.a.ID)+"/config", "HRKU-nope", strings.NewReader(`not json`)), http.StatusUnauthorized, "unauthorized")
	requireError(t, call(t, w.s, http.MethodPatch, w.addonPath(w.b.ID)+"/config", w.tokA, strings.NewReader(`not json`)), http.StatusForbidden, "forbidden")
}

func TestProvision(t *testing.T) {
	w := newWorld(t)
	sch := loadSchema(t)
	a := call(t, w.s, http.MethodPost, w.addonPath(w.a.ID)+"/actions/provision", w.tokA, strings.NewReader(`{}`))
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	requireHerokuHeaders(t, a)
	sch.check(t, "add-on", sch.definition(t, "add-on"), a.body, "provision_message")
	assert.Equal(t, "provisioned", a.object(t)["state"])

	cur, ok := w.s.Addon(w.a.ID)
	require.True(t, ok)
	assert.Equal(t, herokupartner.AddonStateProvisioned, cur.State)

	// Through the SDK, on another add-on.
	tokC := w.s.IssueToken(w.c.ID)
	got, err := w.s.Client(tokC).MarkProvisioned(context.Background(), w.c.ID.String())
	require.NoError(t, err)
	assert.Equal(t, herokupartner.AddonStateProvisioned, got.State)
	other, _ := w.s.Addon(w.b.ID)
	assert.Equal(t, herokupartner.AddonStateProvisioning, other.State, "only the named add-on changes")
}

func TestTokenScoping(t *testing.T) {
	w := newWorld(t)
	tokC := w.s.IssueToken(w.c.ID)
	type row struct {
		name, method, path, token string
		status                    int
		id                        string
	}
	rows := []row{
		{"own add-on", "GET", w.addonPath(w.a.ID), w.tokA, 200, ""},
		{"other customer's add-on", "GET", w.addonPath(w.b.ID), w.tokA, 403, "forbidden"},
		{"other add-on on the same app", "GET", w.addonPath(w.c.ID), w.tokA, 403, "forbidden"},
		{"unknown add-on", "GET", "/addons/" + w.unknownID, w.tokA, 404, "not_found"},
		{"config of another add-on", "PATCH", w.addonPath(w.b.ID) + "/config", w.tokA, 403, "forbidden"},
		{"provision another add-on", "POST", w.addonPath(w.c.ID) + "/actions/provision", w.tokA, 403, "forbidden"},
		{"own app's couplings", "GET", w.couplingsPath(w.app1), w.tokA, 200, ""},
		{"sibling add-on reaches the app too", "GET", w.couplingsPath(w.app1), tokC, 200, ""},
		{"other app's couplings", "GET", w.couplingsPath(w.app2), w.tokA, 403, "forbidden"},
		{"unknown app", "GET", "/apps/" + w.unknownID + "/pipeline-couplings", w.tokA, 404, "not_found"},
		{"own pipeline", "GET", w.pipPath(w.p1.ID), w.tokA, 200, ""},
		{"other pipeline", "GET", w.pipPath(w.p2.ID), w.tokA, 403, "forbidden"},
		{"uncoupled app's token and a pipeline", "GET", w.pipPath(w.p1.ID), w.tokL, 403, "forbidden"},
		{"unknown pipeline", "GET", "/pipelines/" + w.unknownID, w.tokA, 404, "not_found"},
		{"no token", "GET", w.addonPath(w.a.ID), "", 401, "unauthorized"},
		{"made-up token", "GET", w.addonPath(w.a.ID), "HRKU-not-a-real-token", 401, "unauthorized"},
		{"made-up token on a missing add-on", "GET", "/addons/" + w.unknownID, "HRKU-nope", 401, "unauthorized"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var body *strings.Reader
			if r.method == "PATCH" {
				body = strings.NewReader(`{"config":[]}`)
			}
			var a answer
			if body != nil {
				a = call(t, w.s, r.method, r.path, r.token, body)
			} else {
				a = call(t, w.s, r.method, r.path, r.token, nil)
			}
			if r.status == 200 {
				assert.Equal(t, 200, a.status, "body %s", a.raw)
				return
			}
			requireError(t, a, r.status, r.id)
			if r.status == 401 {
				assert.JSONEq(t, `{"id":"unauthorized","message":"Invalid credentials provided."}`, string(a.raw))
			}
		})
	}

	// The SDK maps these onto its sentinels.
	_, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.b.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrForbidden)
	_, err = w.s.Client("HRKU-nope").GetAddon(context.Background(), w.a.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrUnauthorized)
	_, err = w.s.Client(w.tokA).GetAddon(context.Background(), w.unknownID)
	assert.ErrorIs(t, err, herokupartner.ErrNotFound)
}

func TestAcceptHeaderChecked(t *testing.T) {
	w := newWorld(t)
	for _, v := range []string{"", "application/json", "application/vnd.heroku+json; version=2", "application/vnd.heroku+json", "*/*"} {
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Accept", v)
		requireError(t, a, http.StatusNotAcceptable, "not_acceptable")
	}
	for _, v := range []string{"application/vnd.heroku+json;version=3", "application/json, application/vnd.heroku+json; version=3"} {
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Accept", v)
		assert.Equal(t, http.StatusOK, a.status, "Accept %q", v)
	}
	// Heroku's CLI asks for variants of version 3; Heroku serves them.
	for _, v := range []string{
		"application/vnd.heroku+json; version=3.pipelines",
		"application/vnd.heroku+json; version=3.sdk",
		"application/vnd.heroku+json; version=3.webhooks",
		"text/plain, application/vnd.heroku+json; version=3.pipelines",
	} {
		a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil, "Accept", v)
		assert.Equal(t, http.StatusOK, a.status, "Accept %q", v)
	}
	// A version that is not 3 or a variant of it still gets Heroku's 406.
	for _, v := range []string{
		"application/vnd.heroku+json; version=3.",
		"application/vnd.heroku+json; version=30",
		"application/vnd.heroku+json; version=3pipelines",
		"application/vnd.heroku+json; version=4.pipelines",
		"application/vnd.heroku+json; variant=3.pipelines",
	} {
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Accept", v)
		requireError(t, a, http.StatusNotAcceptable, "not_acceptable",
			"Please specify a version with the Accept header, e.g. Accept: application/vnd.heroku+json; version=3.")
	}
	// The token endpoint is id.heroku.com's, which needs no version.
	code, _ := w.s.IssueGrant(w.a.ID)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()), "Accept", "")
	assert.Equal(t, http.StatusOK, a.status)
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	w := newWorld(t)
	for _, p := range []string{"/", "/apps", "/addons", "/addons/" + w.a.ID.String() + "/attachments", "/account/rate-limits", "/addons//config"} {
		a := call(t, w.s, http.MethodGet, p, w.tokA, nil)
		requireError(t, a, http.StatusNotFound, "not_found")
		assert.NotEmpty(t, a.header.Get("Request-Id"))
	}
	a := call(t, w.s, http.MethodDelete, w.addonPath(w.a.ID), w.tokA, nil)
	requireError(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "GET", a.header.Get("Allow"))
	a = call(t, w.s, http.MethodPut, w.addonPath(w.a.ID)+"/config", w.tokA, nil)
	requireError(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "GET, PATCH", a.header.Get("Allow"))
	a = call(t, w.s, http.MethodGet, "/oauth/token", "", nil)
	requireError(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestRequestID(t *testing.T) {
	w := newWorld(t)
	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Request-Id", "")
	first := a.header.Get("Request-Id")
	_, err := uuid.Parse(first)
	require.NoError(t, err)
	b := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Request-Id", "")
	assert.NotEqual(t, first, b.header.Get("Request-Id"), "each answer gets a fresh id")

	mine := uuid.NewString()
	a = call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil, "Request-Id", mine)
	ids := strings.Split(a.header.Get("Request-Id"), ",")
	require.Len(t, ids, 2)
	assert.Equal(t, mine, ids[0], "the client's id comes first")
	_, err = uuid.Parse(ids[1])
	assert.NoError(t, err)

	// The SDK keeps the whole header in its errors.
	_, err = w.s.Client(w.tokA).GetAddon(context.Background(), w.b.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Len(t, strings.Split(apiErr.RequestID, ","), 2)
}

func remaining(t *testing.T, a answer) int {
	t.Helper()
	n, err := strconv.Atoi(a.header.Get("RateLimit-Remaining"))
	require.NoError(t, err)
	return n
}

func TestRateLimitFallsAndRunsOut(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithRateLimit(3, 0))
	var left []int
	for range 3 {
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
		require.Equal(t, http.StatusOK, a.status)
		left = append(left, remaining(t, a))
	}
	assert.Equal(t, []int{2, 1, 0}, left)
	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
	requireError(t, a, http.StatusTooManyRequests, "rate_limit")
	assert.Equal(t, 0, remaining(t, a))

	// The SDK retries a 429 and then reports it.
	c := w.s.Client(w.tokA)
	_, err := c.GetAddon(context.Background(), w.a.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrRateLimited)
	n, ok := c.RateLimitRemaining()
	assert.True(t, ok)
	assert.Equal(t, 0, n)
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimitRefills(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithRateLimit(4500, 75), herokupartnertest.WithClock(clk.Now))
	get := func() answer { return call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil) }
	assert.Equal(t, 4499, remaining(t, get()))
	assert.Equal(t, 4498, remaining(t, get()))
	clk.Advance(1600 * time.Millisecond) // two requests' worth at 75 a minute
	assert.Equal(t, 4499, remaining(t, get()))
	clk.Advance(time.Hour)
	assert.Equal(t, 4499, remaining(t, get()), "the bucket never holds more than its capacity")
}

func TestRateLimitOff(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithRateLimit(0, 0))
	for range 5 {
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
		require.Equal(t, http.StatusOK, a.status)
		assert.Empty(t, a.header.Get("RateLimit-Remaining"))
	}
}

func TestAccessTokenLifetime(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithClock(clk.Now), herokupartnertest.WithAccessTokenLifetime(time.Hour))
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil).status)
	clk.Advance(time.Hour)
	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
	requireError(t, a, http.StatusUnauthorized, "unauthorized", "Invalid credentials provided.")
}

func TestClientIsWiredToTheServer(t *testing.T) {
	w := newWorld(t)
	c := w.s.Client(w.tokA)
	assert.Equal(t, w.s.URL, c.BaseURL())
	_, err := w.s.Client("").GetAddon(context.Background(), w.a.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrNoToken)
	assert.Empty(t, w.s.Requests(), "a client without a token sends nothing")
}

// TestConcurrentUse drives the server from many goroutines while faults
// are scripted and the log is read, for the race detector.
func TestConcurrentUse(t *testing.T) {
	s := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	defer s.Close()
	p := s.AddPipeline("busy")
	const n = 16
	var ids []uuid.UUID
	var toks []string
	for i := range n {
		app := s.AddApp(fmt.Sprintf("busy-%02d", i))
		s.Couple(app.ID, p.ID, herokupartner.StageStaging)
		a := s.AddAddon(app.ID, "basic")
		ids = append(ids, a.ID)
		toks = append(toks, s.IssueToken(a.ID))
	}
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range n {
		wg.Go(func() {
			for range 5 {
				res, err := s.Client(toks[i]).ResolvePipeline(context.Background(), ids[i].String())
				if err != nil || res.Pipeline.Name != "busy" {
					failures.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			s.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Latency: time.Millisecond})
			_ = s.Requests()
		}
	})
	wg.Wait()
	assert.Zero(t, failures.Load())
	counts := map[herokupartnertest.Route]int{}
	for _, r := range s.Requests() {
		if r.Status == http.StatusOK {
			counts[r.Route]++
		}
	}
	assert.Equal(t, map[herokupartnertest.Route]int{
		herokupartnertest.RouteAddon: n * 5, herokupartnertest.RouteCouplings: n * 5, herokupartnertest.RoutePipeline: n * 5,
	}, counts)
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	w := newWorld(t)
	_, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.b.ID.String())
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), w.tokA), "the token must not appear in the error")
	var apiErr *herokupartner.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, "forbidden", apiErr.ID)
}
