package herokupartnertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookSubscriptionLifecycle(t *testing.T) {
	w := newWorld(t)
	sc := webhookSchema(t)
	rc := newReceiver(t, false)
	base := "/addons/" + w.a.ID.String() + "/webhooks"

	// Without a secret, Heroku generates one and shows it once, in a header.
	hook, a := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{
		"url": rc.srv.URL + "/hooks/" + w.a.ID.String(), "include": []string{"api:app"}, "level": "notify"})
	requireHerokuHeaders(t, a)
	generated := a.header.Get("Heroku-Webhook-Secret")
	assert.Len(t, generated, 64)
	sc.check(t, "webhook", schemaNode(t, sc, "add-on-webhook", "definitions", "addon_webhook"), hook)
	assert.Equal(t, map[string]any{"id": w.a.ID.String(), "name": w.a.Name}, hook["addon"])
	assert.Equal(t, []any{"api:app"}, hook["include"])
	assert.Equal(t, "notify", hook["level"])
	assert.NotContains(t, string(a.raw), generated, "the secret is never in the body")

	// A given secret is not echoed anywhere.
	second, a2 := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{
		"url": rc.srv.URL, "include": []string{"api:addon", "api:app"}, "level": "sync",
		"secret": "whsec-given", "authorization": "Bearer hook-auth"})
	assert.Empty(t, a2.header.Get("Heroku-Webhook-Secret"))
	assert.NotContains(t, string(a2.raw), "whsec-given")
	assert.NotContains(t, string(a2.raw), "hook-auth")

	list := call(t, w.s, http.MethodGet, base, w.tokA, nil)
	require.Equal(t, http.StatusOK, list.status)
	items := list.body.([]any)
	require.Len(t, items, 2)
	assert.Equal(t, hook["id"], items[0].(map[string]any)["id"], "oldest first")

	one := call(t, w.s, http.MethodGet, base+"/"+second["id"].(string), w.tokA, nil)
	require.Equal(t, http.StatusOK, one.status)
	assert.Equal(t, second, one.object(t))

	patched := call(t, w.s, http.MethodPatch, base+"/"+second["id"].(string), w.tokA,
		strings.NewReader(`{"level":"notify","include":["api:app"]}`))
	require.Equalf(t, http.StatusOK, patched.status, "body %s", patched.raw)
	assert.Equal(t, "notify", patched.object(t)["level"])
	assert.Equal(t, []any{"api:app"}, patched.object(t)["include"])
	assert.Equal(t, second["url"], patched.object(t)["url"], "fields not sent stay")

	empty := call(t, w.s, http.MethodPatch, base+"/"+second["id"].(string), w.tokA, strings.NewReader(`{}`))
	requireError(t, empty, http.StatusUnprocessableEntity, "invalid_params")

	del := call(t, w.s, http.MethodDelete, base+"/"+second["id"].(string), w.tokA, nil)
	require.Equal(t, http.StatusOK, del.status)
	assert.Equal(t, second["id"], del.object(t)["id"], "DELETE answers the deleted webhook")
	requireError(t, call(t, w.s, http.MethodGet, base+"/"+second["id"].(string), w.tokA, nil), http.StatusNotFound, "not_found")
	requireError(t, call(t, w.s, http.MethodGet, base+"/not-a-uuid", w.tokA, nil), http.StatusNotFound, "not_found")
	assert.Len(t, call(t, w.s, http.MethodGet, base, w.tokA, nil).body, 1)

	// The subscription works: the generated secret signs the delivery.
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	got := rc.deliveries()
	require.Len(t, got, 1)
	assert.True(t, validSignature(got[0], generated))

	// "localhost" is a loopback host too.
	local := strings.Replace(rc.srv.URL, "127.0.0.1", "localhost", 1)
	localHook, _ := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{
		"url": local, "include": []string{"api:app"}, "level": "sync", "secret": "whsec-local"})
	assert.Equal(t, local, localHook["url"])
	w.s.RenameApp(w.app1.ID, "acme-web-3")
	waitDeliveries(t, w.s)
	got = rc.deliveries()
	require.Len(t, got, 3)
	assert.True(t, validSignature(got[2], "whsec-local") || validSignature(got[1], "whsec-local"))

	wrong := call(t, w.s, http.MethodPut, base, w.tokA, nil)
	requireError(t, wrong, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "GET, POST", wrong.header.Get("Allow"))
}

func TestWebhookBodiesRefused(t *testing.T) {
	w := newWorld(t)
	base := "/addons/" + w.a.ID.String() + "/webhooks"
	const secretish = "HRKU-pasted-by-mistake"
	good := `"include":["api:app"],"level":"sync"`
	rows := []struct {
		name, body string
		status     int
	}{
		{"not JSON", `{"url":`, 400},
		{"not an object", `["api:app"]`, 400},
		{"no url", `{` + good + `}`, 422},
		{"no level", `{"url":"http://127.0.0.1:9/h","include":["api:app"]}`, 422},
		{"no include", `{"url":"http://127.0.0.1:9/h","level":"sync"}`, 422},
		{"empty include", `{"url":"http://127.0.0.1:9/h","include":[],"level":"sync"}`, 422},
		{"unknown entity", `{"url":"http://127.0.0.1:9/h","include":["api:` + secretish + `"],"level":"sync"}`, 422},
		{"bad level", `{"url":"http://127.0.0.1:9/h",` + `"include":["api:app"],"level":"` + secretish + `"}`, 422},
		{"network url", `{"url":"https://hooks.example.com/` + secretish + `",` + good + `}`, 422},
		{"public ip", `{"url":"http://8.8.8.8/` + secretish + `",` + good + `}`, 422},
		{"user info", `{"url":"http://user:` + secretish + `@127.0.0.1/h",` + good + `}`, 422},
		{"not http", `{"url":"ftp://127.0.0.1/` + secretish + `",` + good + `}`, 422},
		{"relative", `{"url":"/hooks/` + secretish + `",` + good + `}`, 422},
		{"unknown key", `{"url":"http://127.0.0.1:9/h",` + good + `,"` + secretish + `":1}`, 422},
		{"empty secret", `{"url":"http://127.0.0.1:9/h",` + good + `,"secret":""}`, 422},
		{"secret not a string", `{"url":"http://127.0.0.1:9/h",` + good + `,"secret":12}`, 422},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			a := call(t, w.s, http.MethodPost, base, w.tokA, strings.NewReader(r.body))
			requireError(t, a, r.status, map[int]string{400: "bad_request", 422: "invalid_params"}[r.status])
			assert.False(t, strings.Contains(string(a.raw), secretish), "the error repeats a value")
		})
	}
	// A bad body from a token without access gets the access error.
	a := call(t, w.s, http.MethodPost, base, w.tokB, strings.NewReader(`{}`))
	requireError(t, a, http.StatusForbidden, "forbidden")
	list := call(t, w.s, http.MethodGet, base, w.tokA, nil)
	assert.Equal(t, []any{}, list.body, "nothing was created")
}

func TestWebhookTokenScoping(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	hook, _ := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{
		"url": rc.srv.URL, "include": []string{"api:app"}, "level": "sync"})
	own := "/addons/" + w.a.ID.String()
	hookPath := own + "/webhooks/" + hook["id"].(string)
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	deliveryID := w.s.WebhookDeliveries()[0].ID.String()

	tokC := w.s.IssueToken(w.c.ID) // another add-on on the same app
	for _, p := range []string{own + "/webhooks", hookPath, own + "/webhook-deliveries", own + "/webhook-deliveries/" + deliveryID, own + "/webhook-events"} {
		for name, tok := range map[string]string{"other customer": w.tokB, "sibling add-on": tokC} {
			t.Run(name+p, func(t *testing.T) {
				requireError(t, call(t, w.s, http.MethodGet, p, tok, nil), http.StatusForbidden, "forbidden")
			})
		}
		requireError(t, call(t, w.s, http.MethodGet, p, "", nil), http.StatusUnauthorized, "unauthorized")
	}
	requireError(t, call(t, w.s, http.MethodDelete, hookPath, w.tokB, nil), http.StatusForbidden, "forbidden")
	requireError(t, call(t, w.s, http.MethodPatch, hookPath, tokC, strings.NewReader(`{"level":"notify"}`)), http.StatusForbidden, "forbidden")

	// Through its own add-on's path, a sibling still cannot reach the
	// webhook, delivery or event: they are not its add-on's.
	sib := "/addons/" + w.c.ID.String()
	requireError(t, call(t, w.s, http.MethodGet, sib+"/webhooks/"+hook["id"].(string), tokC, nil), http.StatusNotFound, "not_found")
	requireError(t, call(t, w.s, http.MethodDelete, sib+"/webhooks/"+hook["id"].(string), tokC, nil), http.StatusNotFound, "not_found")
	requireError(t, call(t, w.s, http.MethodGet, sib+"/webhook-deliveries/"+deliveryID, tokC, nil), http.StatusNotFound, "not_found")
	assert.Equal(t, []any{}, call(t, w.s, http.MethodGet, sib+"/webhooks", tokC, nil).body)
	requireError(t, call(t, w.s, http.MethodGet, "/addons/"+w.unknownID+"/webhooks", w.tokA, nil), http.StatusNotFound, "not_found")

	// The owner still has it.
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, hookPath, w.tokA, nil).status)
}

func TestRenameAppDeliversSignedUpdate(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsServer), func(t *testing.T) {
			w := newWorld(t)
			rc := newReceiver(t, tlsServer)
			tokC := w.s.IssueToken(w.c.ID)
			hookA, _ := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL + "/a",
				"include": []string{"api:app", "api:addon"}, "level": "sync", "secret": "whsec-a", "authorization": "Bearer auth-a"})
			subscribe(t, w.s, w.c.ID.String(), tokC, map[string]any{"url": rc.srv.URL + "/c",
				"include": []string{"api:app"}, "level": "notify", "secret": "whsec-c"})
			// Subscribed to add-on events only: a rename is not for it.
			subscribe(t, w.s, w.c.ID.String(), tokC, map[string]any{"url": rc.srv.URL + "/c-addon",
				"include": []string{"api:addon"}, "level": "sync", "secret": "whsec-c"})
			// Another app's add-on hears nothing of app1.
			subscribe(t, w.s, w.b.ID.String(), w.tokB, map[string]any{"url": rc.srv.URL + "/b",
				"include": []string{"api:app"}, "level": "sync", "secret": "whsec-b"})

			w.s.RenameApp(w.app1.ID, "acme-storefront")
			waitDeliveries(t, w.s)
			got := rc.deliveries()
			require.Len(t, got, 2)
			byAddon := map[string]delivered{}
			for _, d := range got {
				byAddon[d.field("data", "id").(string)+"/"+d.header.Get("Authorization")] = d
			}
			d := byAddon[w.app1.ID.String()+"/Bearer auth-a"]
			require.NotNil(t, d.env, "add-on A's delivery carries its authorization")
			assert.True(t, validSignature(d, "whsec-a"))
			assert.False(t, validSignature(d, "whsec-c"))
			assert.Equal(t, "application/json", d.header.Get("Content-Type"))
			assert.Equal(t, "update", d.field("action"))
			assert.Equal(t, "app", d.field("resource"))
			assert.Equal(t, "acme-storefront", d.field("data", "name"))
			assert.Equal(t, "https://acme-storefront.herokuapp.com/", d.field("data", "web_url"))
			assert.Equal(t, map[string]any{"name": "acme-web"}, d.field("previous_data"))
			assert.Equal(t, "application/vnd.heroku+json; version=3", d.field("version"))
			assert.Equal(t, "api:app", d.field("webhook_metadata", "event", "include"))
			assert.Equal(t, d.field("id"), d.field("webhook_metadata", "event", "id"))
			assert.Equal(t, hookA["id"], d.field("webhook_metadata", "webhook", "id"))
			assert.Contains(t, d.env, "published_at")

			other := byAddon[w.app1.ID.String()+"/"]
			require.NotNil(t, other.env, "add-on C's delivery, without authorization")
			assert.True(t, validSignature(other, "whsec-c"))
			assert.Equal(t, d.field("id"), other.field("id"), "one event, two deliveries")
			assert.NotEqual(t, d.field("webhook_metadata", "delivery", "id"), other.field("webhook_metadata", "delivery", "id"))

			// The API shows the new name at once.
			res, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
			require.NoError(t, err)
			assert.Equal(t, "acme-storefront", res.App.Name)

			// The app object decodes into the types a partner uses.
			var app struct {
				ID        uuid.UUID         `json:"id"`
				Region    herokupartner.Ref `json:"region"`
				Stack     herokupartner.Ref `json:"stack"`
				Owner     struct{ ID uuid.UUID }
				CreatedAt time.Time `json:"created_at"`
				UpdatedAt time.Time `json:"updated_at"`
			}
			require.NoError(t, json.Unmarshal(mustJSON(t, d.field("data")), &app))
			assert.Equal(t, w.app1.ID, app.ID)
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestDestroyAddonDeliversAndRevokes(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:addon", "api:addon-attachment"}, "level": "sync", "secret": "whsec-a"})

	w.s.DestroyAddon(w.a.ID)
	waitDeliveries(t, w.s)
	got := rc.deliveries()
	require.Len(t, got, 2)
	att, ad := got[0], got[1]
	assert.Equal(t, "addon-attachment", att.field("resource"))
	assert.Equal(t, "destroy", att.field("action"))
	assert.Equal(t, w.a.ID.String(), att.field("data", "addon", "id"))
	assert.Equal(t, "ACME_METRICS", att.field("data", "name"))
	assert.Equal(t, "addon", ad.field("resource"))
	assert.Equal(t, "destroy", ad.field("action"))
	assert.Equal(t, map[string]any{}, ad.field("previous_data"))
	for _, d := range got {
		assert.True(t, validSignature(d, "whsec-a"))
	}
	var addon herokupartner.Addon
	require.NoError(t, json.Unmarshal(mustJSON(t, ad.field("data")), &addon), "the SDK's Addon decodes the data")
	assert.Equal(t, w.a.ID, addon.ID)
	assert.Equal(t, herokupartner.AddonStateDeprovisioned, addon.State)

	_, ok := w.s.Addon(w.a.ID)
	assert.False(t, ok)
	requireError(t, call(t, w.s, http.MethodGet, "/addons/"+w.a.ID.String(), w.tokA, nil), http.StatusUnauthorized, "unauthorized")
	// The sibling on the same app is untouched.
	_, ok = w.s.Addon(w.c.ID)
	assert.True(t, ok)
	assert.Panics(t, func() { w.s.DestroyAddon(w.a.ID) }, "an unknown id fails at the call")
}

func TestChangePlanDeliversPreviousPlan(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:addon"}, "level": "sync", "secret": "whsec-a"})

	changed := w.s.ChangePlan(w.a.ID, "premium")
	assert.Equal(t, "acme-metrics:premium", changed.Plan.Name)
	waitDeliveries(t, w.s)
	got := rc.deliveries()
	require.Len(t, got, 1)
	assert.Equal(t, "update", got[0].field("action"))
	assert.Equal(t, "acme-metrics:premium", got[0].field("data", "plan", "name"))
	assert.Equal(t, map[string]any{"id": w.a.Plan.ID.String(), "name": "acme-metrics:basic"}, got[0].field("previous_data", "plan"))
	res, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)
	assert.Equal(t, "acme-metrics:premium", res.Plan.Name)
}

func TestDestroyAppDestroysItsAddonsFirst(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app", "api:addon"}, "level": "sync", "secret": "whsec-a"})

	w.s.DestroyApp(w.app1.ID)
	waitDeliveries(t, w.s)
	var seen []string
	for _, d := range rc.deliveries() {
		seen = append(seen, fmt.Sprint(d.field("resource"), " ", d.field("action")))
	}
	assert.Equal(t, []string{"addon destroy", "app destroy"}, seen)
	_, ok := w.s.Addon(w.c.ID)
	assert.False(t, ok, "every add-on of the app is gone")
	requireError(t, call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokB, nil), http.StatusNotFound, "not_found")
}

// Heroku has no event for pipeline couplings: coupling, moving and
// uncoupling an app deliver nothing, while a rename right after does.
func TestCouplingChangesDeliverNothing(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app", "api:addon", "api:addon-attachment"}, "level": "sync", "secret": "whsec-a"})

	w.s.Couple(w.app1.ID, w.p2.ID, herokupartner.StageStaging)
	w.s.Couple(w.app1.ID, w.p2.ID, herokupartner.StageProduction)
	w.s.Uncouple(w.app1.ID)
	w.s.Couple(w.app1.ID, w.p1.ID, herokupartner.StageDevelopment)
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	got := rc.deliveries()
	require.Len(t, got, 1, "only the rename")
	assert.Equal(t, "app", got[0].field("resource"))
	assert.Len(t, w.s.WebhookDeliveries(), 1)
}
