package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

const (
	testUser = "acme"
	testPass = "manifest-password"
)

// env is a fake Heroku with one coupled add-on, and the backend under test
// served over a socket.
type env struct {
	fake    *herokupartnertest.Server
	backend *Backend
	tokens  *herokupartner.TokenManager
	srv     *httptest.Server
	addon   *herokupartner.Addon
	body    []byte // the provisioning request Heroku sends for addon
}

type envOption func(*Config, *herokupartner.TokenManagerConfig)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	app := fake.AddApp("acme-web")
	pipeline := fake.AddPipeline("acme")
	fake.Couple(app.ID, pipeline.ID, herokupartner.StageStaging)
	addon := fake.AddAddon(app.ID, "basic")

	tcfg := herokupartner.TokenManagerConfig{ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL()}
	api, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL),
		herokupartner.WithRetry(herokupartner.RetryPolicy{MaxRetries: 1, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	require.NoError(t, err)
	cfg := Config{Username: testUser, Password: testPass, API: api, WorkTimeout: 30 * time.Second, RetryDelay: 5 * time.Millisecond}
	for _, o := range opts {
		o(&cfg, &tcfg)
	}
	tokens, err := herokupartner.NewTokenManager(tcfg)
	require.NoError(t, err)
	cfg.Tokens = tokens
	b, err := NewBackend(cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	e := &env{fake: fake, backend: b, tokens: tokens, srv: srv, addon: addon}
	e.body = e.provisionBody(addon)
	return e
}

func (e *env) provisionBody(addon *herokupartner.Addon) []byte {
	code, expiresAt := e.fake.IssueGrant(addon.ID)
	b, _ := json.Marshal(map[string]any{
		"uuid": addon.ID, "name": addon.Name, "plan": "basic", "region": "amazon-web-services::us-east-1",
		"callback_url": e.fake.URL + "/addons/" + addon.ID.String(),
		"options":      map[string]any{"replicas": 2},
		"oauth_grant":  map[string]string{"code": code, "expires_at": expiresAt.Format("2006-01-02T15:04:05-0700"), "type": "authorization_code"},
	})
	return b
}

func (e *env) post(t *testing.T, body []byte, user, pass string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/heroku/resources", bytes.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func (e *env) wait(t *testing.T, id uuid.UUID) Resource {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.backend.Wait(ctx, id)
	require.NoError(t, err)
	return res
}

func (e *env) count(route herokupartnertest.Route, match func(herokupartnertest.Request) bool) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Route == route && (match == nil || match(r)) {
			n++
		}
	}
	return n
}

func isExchange(r herokupartnertest.Request) bool {
	return r.Form.Get("grant_type") == "authorization_code"
}

func (e *env) getStatus(t *testing.T, id uuid.UUID) (int, Resource) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/heroku/resources/"+id.String(), nil)
	require.NoError(t, err)
	req.SetBasicAuth(testUser, testPass)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var res Resource
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	}
	return resp.StatusCode, res
}

func TestProvisioningEndToEnd(t *testing.T) {
	e := newEnv(t)
	status, answer := e.post(t, e.body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, e.addon.ID.String(), answer["id"])
	assert.NotEmpty(t, answer["message"])

	res := e.wait(t, e.addon.ID)
	require.Equal(t, StateProvisioned, res.State, res.Error)
	assert.Equal(t, "acme-web", res.App)
	assert.Equal(t, "acme", res.Pipeline)
	assert.Equal(t, "staging", res.Stage)

	a, ok := e.fake.Addon(e.addon.ID)
	require.True(t, ok)
	assert.Equal(t, herokupartner.AddonStateProvisioned, a.State, "Heroku was told provisioning finished")
	assert.Equal(t, "https://acme.example/r/"+e.addon.ID.String(), e.fake.AddonConfig(e.addon.ID)["ACME_URL"])
	assert.Equal(t, 1, e.count(herokupartnertest.RouteToken, isExchange))

	code, got := e.getStatus(t, e.addon.ID)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, res, got, "the status endpoint shows the same record")
}

// Heroku delivers at least once: repeated and concurrent deliveries of one
// request make one resource and one grant exchange.
func TestRepeatedDeliveryIsIdempotent(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	statuses := make(chan int, 5)
	for range 5 {
		wg.Go(func() {
			status, _ := e.post(t, e.body, testUser, testPass)
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Equal(t, http.StatusAccepted, s)
	}
	res := e.wait(t, e.addon.ID)
	require.Equal(t, StateProvisioned, res.State, res.Error)

	status, answer := e.post(t, e.body, testUser, testPass) // a late redelivery
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, e.addon.ID.String(), answer["id"])
	assert.Equal(t, 1, e.count(herokupartnertest.RouteToken, isExchange), "one grant exchange")
	assert.Equal(t, 1, e.count(herokupartnertest.RouteProvision, nil), "marked provisioned once")
	e.backend.mu.Lock()
	assert.Len(t, e.backend.resources, 1, "one resource")
	e.backend.mu.Unlock()
}

func TestBasicAuthIsRequired(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ user, pass string }{
		{testUser, "wrong"}, {"other", testPass}, {"", ""}, {testUser, testPass + "x"}, {testUser, testPass[:3]},
	} {
		status, _ := e.post(t, e.body, c.user, c.pass)
		assert.Equal(t, http.StatusUnauthorized, status, "%q", c.user)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/heroku/resources", bytes.NewReader(e.body))
	require.NoError(t, err)
	resp, err := e.srv.Client().Do(req) // no Authorization header at all
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 0, e.count(herokupartnertest.RouteToken, nil), "nothing was started")
	_, known := e.backend.Resource(e.addon.ID)
	assert.False(t, known)
}

func TestBadProvisioningRequests(t *testing.T) {
	e := newEnv(t)
	status, answer := e.post(t, []byte(`{"uuid":"nope"}`), testUser, testPass)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, answer["message"], "uuid")

	status, answer = e.post(t, []byte(`{"uuid":"`+e.addon.ID.String()+`","oauth_grant":{"code":""}}`), testUser, testPass)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, answer["message"], "oauth_grant.code")

	status, _ = e.post(t, []byte(`{"uuid":"`+e.addon.ID.String()+`","oauth_grant":null}`), testUser, testPass)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "no grant, no way to finish provisioning")
	assert.Equal(t, 0, e.count(herokupartnertest.RouteToken, nil))
}

// gatedTransport holds every request until release is closed.
type gatedTransport struct {
	release chan struct{}
	arrived chan struct{}
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// The 202 does not wait for Heroku: it comes back while the grant exchange
// is still stuck.
func TestAnswersBeforeTheBackgroundWork(t *testing.T) {
	gate := &gatedTransport{release: make(chan struct{}), arrived: make(chan struct{}, 10)}
	e := newEnv(t, func(_ *Config, tc *herokupartner.TokenManagerConfig) {
		tc.HTTPClient = &http.Client{Transport: gate}
	})
	status, _ := e.post(t, e.body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	<-gate.arrived // the exchange has started and is held
	res, ok := e.backend.Resource(e.addon.ID)
	require.True(t, ok)
	assert.Equal(t, StateProvisioning, res.State)
	close(gate.release)
	res = e.wait(t, e.addon.ID)
	assert.Equal(t, StateProvisioned, res.State, res.Error)
}

// A Platform API outage during the background work delays it; when Heroku
// recovers, provisioning completes.
func TestOutageDuringWorkRecovers(t *testing.T) {
	e := newEnv(t)
	e.fake.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Times: 5, Status: http.StatusServiceUnavailable})
	e.fake.Fail(herokupartnertest.RouteConfig, herokupartnertest.Fault{Times: 2, Status: http.StatusServiceUnavailable})
	status, _ := e.post(t, e.body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	res := e.wait(t, e.addon.ID)
	require.Equal(t, StateProvisioned, res.State, res.Error)
	assert.Equal(t, "acme", res.Pipeline)
	assert.GreaterOrEqual(t, res.Retries, 3, "the backend itself retried past the client's own retries")
	assert.Empty(t, res.Error, "a recovered failure is cleared")
	assert.Equal(t, 5, e.count(herokupartnertest.RouteCouplings, func(r herokupartnertest.Request) bool { return r.Status == 503 }))
	a, _ := e.fake.Addon(e.addon.ID)
	assert.Equal(t, herokupartner.AddonStateProvisioned, a.State)
}

// An outage that outlasts the work's deadline leaves a failed resource
// whose status says what went wrong.
func TestOutageOutlastingTheDeadlineIsRecorded(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *herokupartner.TokenManagerConfig) {
		c.WorkTimeout = 500 * time.Millisecond
		c.RetryDelay = 20 * time.Millisecond
	})
	e.fake.Fail(herokupartnertest.RouteProvision, herokupartnertest.Fault{Times: 1 << 20, Status: http.StatusServiceUnavailable})
	status, _ := e.post(t, e.body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	res := e.wait(t, e.addon.ID)
	assert.Equal(t, StateFailed, res.State)
	assert.Contains(t, res.Error, "marking provisioned")
	assert.Contains(t, res.Error, "503")
	code, got := e.getStatus(t, e.addon.ID)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, StateFailed, got.State)
	assert.Equal(t, "acme", got.Pipeline, "what did succeed is kept")
}

// A spent grant is a permanent failure, reported at once rather than
// retried until the deadline.
func TestSpentGrantFailsAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *herokupartner.TokenManagerConfig) { c.WorkTimeout = time.Hour })
	other := e.fake.AddAddon(e.addon.App.ID, "basic")
	body := e.provisionBody(other)
	var req map[string]any
	require.NoError(t, json.Unmarshal(body, &req))
	req["oauth_grant"] = map[string]string{"code": "not-a-real-code"}
	body, _ = json.Marshal(req)
	status, _ := e.post(t, body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	res := e.wait(t, other.ID)
	assert.Equal(t, StateFailed, res.State)
	assert.Contains(t, res.Error, "exchanging the grant")
	assert.Equal(t, 0, res.Retries)
}

func TestDeprovisionForgetsTheResource(t *testing.T) {
	e := newEnv(t)
	status, _ := e.post(t, e.body, testUser, testPass)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, StateProvisioned, e.wait(t, e.addon.ID).State)

	req, err := http.NewRequest(http.MethodDelete, e.srv.URL+"/heroku/resources/"+e.addon.ID.String(), nil)
	require.NoError(t, err)
	req.SetBasicAuth(testUser, testPass)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	code, _ := e.getStatus(t, e.addon.ID)
	assert.Equal(t, http.StatusNotFound, code)
	_, err = e.tokens.Token(context.Background(), e.addon.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)
}

// The demo that `go run ./examples/provisioning` prints runs through.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, demo(&out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	assert.True(t, strings.HasPrefix(lines[0], "delivery 1: 202 Accepted"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "delivery 2: 202 Accepted"), lines[1])
	assert.Contains(t, lines[2], "backend: provisioned, app acme-web in pipeline acme at production")
	assert.Equal(t, "heroku: add-on provisioned, ACME_URL set: true, grant exchanges: 1", lines[3])
}
