package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo that `go -C examples/provisioning run .` prints runs through.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, demo(&out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 6, out.String())
	assert.True(t, strings.HasPrefix(lines[0], "delivery 1: 202 Accepted"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "delivery 2: 202 Accepted"), lines[1])
	assert.Contains(t, lines[2], "a new instance resumed the job")
	assert.Equal(t, "backend: provisioned, app acme-web in pipeline acme at production, after 4 failed request(s) to Heroku", lines[3])
	assert.Equal(t, "heroku: add-on provisioned, ACME_URL set: true, grant exchanges: 1, config updates: 1, provision actions: 1", lines[4])
	assert.Equal(t, "deprovision: 200 OK; a late redelivery: 410 Gone", lines[5])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromEnv(env(nil))
	require.NoError(t, err)
	assert.Nil(t, c, "no configuration: the demo")

	_, err = configFromEnv(env(map[string]string{"ADDON_ID": "acme"}))
	assert.EqualError(t, err, "set ADDON_PASSWORD, HEROKU_OAUTH_SECRET too (or none of ADDON_ID, ADDON_PASSWORD, HEROKU_OAUTH_SECRET for the demo)")

	full := map[string]string{"ADDON_ID": "acme", "ADDON_PASSWORD": "pw-123", "HEROKU_OAUTH_SECRET": "oauth-456"}
	c, err = configFromEnv(env(full))
	require.NoError(t, err)
	assert.Equal(t, "8080", c.port)
	assert.Equal(t, "https://acme.example", c.serviceURL)
	assert.True(t, c.databaseURL.IsZero())

	full["DATABASE_ENCRYPTION_KEY"] = "not-base64-hunter2"
	_, err = configFromEnv(env(full))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	full["DATABASE_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err = configFromEnv(env(full))
	require.NoError(t, err)
	assert.Len(t, c.encryptionKey, 32)
}

func TestOpenStores(t *testing.T) {
	var logs bytes.Buffer
	jobs, tokens, closeDB, err := openStores(context.Background(), &config{}, newLogger(&logs))
	require.NoError(t, err)
	closeDB()
	assert.IsType(t, new(herokupartner.MemoryJobStore), jobs)
	assert.IsType(t, new(herokupartner.MemoryTokenStore), tokens)
	assert.Contains(t, logs.String(), "DATABASE_URL is not set")

	_, _, _, err = openStores(context.Background(), &config{databaseURL: herokupartner.NewSecret("postgres://u:hunter2@[::1")}, newLogger(&logs))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestLoggerRedactsCredentials(t *testing.T) {
	var logs bytes.Buffer
	newLogger(&logs).Info("x", "password", "p-1", "database_url", "postgres://u:p-2@h/db",
		"client_secret", herokupartner.NewSecret("p-3"), "resource", "kept")
	assert.NotContains(t, logs.String(), "p-1")
	assert.NotContains(t, logs.String(), "p-2")
	assert.NotContains(t, logs.String(), "p-3")
	assert.Contains(t, logs.String(), "kept")
}

// The backend as serve wires it, against the fake (as acme:s3cret, which
// send uses): provision, status, plan change, deprovision, and Basic auth
// on every route; nothing it logs holds a secret.
func TestBackendServesHeroku(t *testing.T) {
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	app := fake.AddApp("acme-web")
	addon := fake.AddAddon(app.ID, "basic")
	code, expiresAt := fake.IssueGrant(addon.ID)
	cfg := &config{addonID: "acme", password: herokupartner.NewSecret("s3cret"), secret: herokupartner.NewSecret(fake.ClientSecret()),
		apiURL: fake.URL, tokenURL: fake.TokenURL(), serviceURL: "https://acme.example"}
	logs := &syncWriter{w: new(bytes.Buffer)}
	pc, err := provisionerConfig(cfg, new(herokupartner.MemoryJobStore), new(herokupartner.MemoryTokenStore), newLogger(logs))
	require.NoError(t, err)
	pc.PollInterval = 5 * time.Millisecond
	p, err := herokupartner.NewProvisioner(pc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = p.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	body := []byte(`{"uuid":"` + addon.ID.String() + `","name":"` + addon.Name + `","plan":"basic",
		"oauth_grant":{"code":"` + code + `","expires_at":"` + expiresAt.Format("2006-01-02T15:04:05-0700") + `","type":"authorization_code"}}`)
	status, answer, err := send(srv, http.MethodPost, "/heroku/resources", body)
	require.NoError(t, err)
	assert.Equal(t, "202 Accepted", status)
	assert.Equal(t, addon.ID.String(), answer["id"])

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, answer, err = send(srv, http.MethodGet, "/heroku/resources/"+addon.ID.String(), nil)
		require.NoError(t, err)
		if answer["state"] == "provisioned" || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, "provisioned", answer["state"])
	assert.Equal(t, "Ready for app acme-web", answer["message"], "an app in no pipeline")
	assert.Equal(t, "https://acme.example/r/"+addon.ID.String(), fake.AddonConfig(addon.ID)["ACME_URL"])

	status, answer, err = send(srv, http.MethodPut, "/heroku/resources/"+addon.ID.String(), []byte(`{"plan":"premium"}`))
	require.NoError(t, err)
	assert.Equal(t, "200 OK", status)
	assert.Equal(t, "Now on the premium plan.", answer["message"])
	status, _, err = send(srv, http.MethodPut, "/heroku/resources/"+addon.ID.String(), []byte(`{"plan":"gold"}`))
	require.NoError(t, err)
	assert.Equal(t, "422 Unprocessable Entity", status)

	for _, r := range []struct{ method, path string }{{"POST", "/heroku/resources"}, {"DELETE", "/heroku/resources/" + addon.ID.String()}, {"PUT", "/heroku/resources/" + addon.ID.String()}} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(`{"plan":"basic"}`))
		req.SetBasicAuth("acme", "wrong")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, r.method)
	}

	status, _, err = send(srv, http.MethodDelete, "/heroku/resources/"+addon.ID.String(), nil)
	require.NoError(t, err)
	assert.Equal(t, "200 OK", status)
	for _, secret := range []string{code, fake.ClientSecret(), "s3cret"} {
		assert.NotContains(t, logs.String(), secret)
	}
}

// syncWriter serialises writes from the backend's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
