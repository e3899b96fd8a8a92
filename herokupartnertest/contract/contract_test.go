package contract_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/herokupartnertest/contract"
)

const (
	addonID  = "acme-metrics"
	password = "pw-6f1d0c2a9b"
)

// backend is a tiny partner backend; its fields choose how it breaks the
// contract, the zero value keeping it.
type backend struct {
	fake *herokupartnertest.Server
	t    *testing.T

	skipAuth        bool // accept any credentials
	provisionStatus int  // 0: 202 and provision asynchronously
	hang            bool // never answer provisioning
	noCallbacks     bool // answer 202 but never call back

	stop chan struct{}
	mu   sync.Mutex
	seen map[string]bool
	wg   sync.WaitGroup
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !b.skipAuth && (!ok || user != addonID || pass != password) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "unauthorized"})
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/heroku/resources")
	switch {
	case r.Method == http.MethodPost && rest == "":
		b.provision(w, r)
	case r.Method == http.MethodPut && rest != "":
		writeJSON(w, http.StatusOK, map[string]any{"message": "plan changed"})
	case r.Method == http.MethodDelete && rest != "":
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "not found"})
	}
}

func (b *backend) provision(w http.ResponseWriter, r *http.Request) {
	if b.hang {
		// The server notices a client that went away only once the body
		// is read; stop ends the wait if it never does.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-b.stop:
		}
		return
	}
	req, err := herokupartner.ParseProvisionRequest(r.Body)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "bad request"})
		return
	}
	id := req.UUID.String()
	if b.provisionStatus != 0 {
		writeJSON(w, b.provisionStatus, map[string]any{"id": id, "config": map[string]string{"ACME_URL": "https://acme.example.com/x"}})
		return
	}
	b.mu.Lock()
	first := !b.seen[id]
	b.seen[id] = true
	b.mu.Unlock()
	if first && !b.noCallbacks {
		b.wg.Add(1)
		go b.finish(req)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "message": "ready in a moment"})
}

// finish does what an asynchronous backend does after its 202.
func (b *backend) finish(req *herokupartner.ProvisionRequest) {
	defer b.wg.Done()
	ctx := context.Background()
	m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(b.fake.ClientSecret()),
		TokenURL:     b.fake.TokenURL(),
		HTTPClient:   b.fake.HTTPClient(),
	})
	if err == nil {
		_, err = m.Exchange(ctx, req.UUID.String(), *req.OAuthGrant)
	}
	var c *herokupartner.Client
	if err == nil {
		c, err = b.fake.Client("").ForResource(m, req.UUID.String())
	}
	if err == nil {
		v := "https://acme.example.com/" + req.UUID.String()
		_, err = c.UpdateAddonConfig(ctx, req.UUID.String(), []herokupartner.ConfigVar{{Name: "ACME_URL", Value: &v}})
	}
	if err == nil {
		_, err = c.MarkProvisioned(ctx, req.UUID.String())
	}
	// The credential probes carry an unknown uuid and no real grant; a
	// backend that skips Basic auth fails on them, as it should.
	if _, known := b.fake.Addon(req.UUID); err != nil && known {
		b.t.Errorf("backend: finishing the provisioning: %v", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// runCheck starts the backend and the fake and runs Check against them.
func runCheck(t *testing.T, b *backend, cfg contract.Config) *contract.Report {
	t.Helper()
	fake := herokupartnertest.NewServer(herokupartnertest.WithAddonService(addonID))
	t.Cleanup(fake.Close)
	b.fake, b.t, b.seen, b.stop = fake, t, map[string]bool{}, make(chan struct{})
	srv := httptest.NewServer(b)
	t.Cleanup(func() { close(b.stop); srv.Close(); b.wg.Wait() })
	cfg.BaseURL = srv.URL + "/heroku/resources"
	cfg.AddonID = addonID
	cfg.Password = herokupartner.NewSecret(password)
	cfg.Fake = fake
	rep, err := contract.Check(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var out strings.Builder
	if _, err := rep.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{password, fake.ClientSecret()} {
		if strings.Contains(out.String(), s) {
			t.Fatalf("the report carries a secret:\n%s", out.String())
		}
	}
	t.Logf("report:\n%s", out.String())
	return rep
}

// result finds the check whose name starts with prefix.
func result(t *testing.T, rep *contract.Report, prefix string) contract.Result {
	t.Helper()
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Name, prefix) {
			return r
		}
	}
	t.Fatalf("no check named %q", prefix)
	return contract.Result{}
}

func TestCheckPassesAnAsynchronousBackend(t *testing.T) {
	b := &backend{}
	rep := runCheck(t, b, contract.Config{})
	if !rep.Passed() {
		t.Fatal("a backend that keeps the contract failed the check")
	}
	for _, name := range []string{
		"provision: 401 for a wrong password", "provision: 401 without credentials",
		"provision (async): config PATCH and provision action", "provision (async): config set before",
		"provision (async): the add-on is provisioned", "provision: a redelivered request",
		"plan change: answers 200", "deprovision: 401 for a wrong password", "deprovision: answers 2xx",
	} {
		result(t, rep, name)
	}
	b.wg.Wait()
	if got := b.fake.AddonConfig(rep.AddonID)["ACME_URL"]; got == "" {
		t.Fatal("the backend's config never reached the fake")
	}
}

func TestCheckPassesASynchronousBackend(t *testing.T) {
	rep := runCheck(t, &backend{provisionStatus: http.StatusOK}, contract.Config{})
	if !rep.Passed() {
		t.Fatal("a synchronous backend that keeps the contract failed the check")
	}
	if r := result(t, rep, "provision: config names"); !strings.Contains(r.Detail, "ACME_URL") {
		t.Fatalf("config detail = %q, want the var's name", r.Detail)
	}
}

func TestCheckFailsAWrongStatus(t *testing.T) {
	rep := runCheck(t, &backend{provisionStatus: http.StatusCreated}, contract.Config{})
	if rep.Passed() {
		t.Fatal("a 201 passed")
	}
	if r := result(t, rep, "provision: answers 200 or 202"); r.Passed || !strings.Contains(r.Detail, "201") {
		t.Fatalf("status check = %+v", r)
	}
}

func TestCheckFailsABackendWithoutBasicAuth(t *testing.T) {
	rep := runCheck(t, &backend{skipAuth: true}, contract.Config{})
	if rep.Passed() {
		t.Fatal("a backend that skips Basic auth passed")
	}
	for _, name := range []string{
		"provision: 401 for a wrong password", "provision: 401 without credentials",
		"plan change: 401 for a wrong password", "deprovision: 401 without credentials",
	} {
		if r := result(t, rep, name); r.Passed {
			t.Errorf("%s passed: %s", name, r.Detail)
		}
	}
	if r := result(t, rep, "provision (async): config PATCH"); !r.Passed {
		t.Errorf("the provisioning itself should still pass: %s", r.Detail)
	}
}

func TestCheckFailsASlowBackend(t *testing.T) {
	rep := runCheck(t, &backend{hang: true}, contract.Config{Limit: 100 * time.Millisecond})
	r := result(t, rep, "provision: answers within 100ms")
	if r.Passed || !strings.Contains(r.Detail, "within 100ms") {
		t.Fatalf("limit check = %+v", r)
	}
	if rep.Passed() {
		t.Fatal("a backend that never answers passed")
	}
}

func TestCheckFailsWhenCallbacksNeverCome(t *testing.T) {
	rep := runCheck(t, &backend{noCallbacks: true}, contract.Config{AsyncWait: 100 * time.Millisecond})
	r := result(t, rep, "provision (async): config PATCH and provision action")
	if r.Passed || r.Detail != "no config PATCH and no provision action" {
		t.Fatalf("async check = %+v", r)
	}
}

func TestCheckRejectsABadConfigWithoutEchoingIt(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	for _, cfg := range []contract.Config{
		{BaseURL: "https://user:hunter2-secret@example.com/heroku/resources", AddonID: addonID, Password: herokupartner.NewSecret("x"), Fake: fake},
		{BaseURL: "hunter2-secret", AddonID: addonID, Password: herokupartner.NewSecret("x"), Fake: fake},
		{BaseURL: "https://example.com", AddonID: "hunter2-secret:x", Password: herokupartner.NewSecret("x"), Fake: fake},
		{BaseURL: "https://example.com", AddonID: addonID, Fake: fake},
		{BaseURL: "https://example.com", AddonID: addonID, Password: herokupartner.NewSecret("x")},
	} {
		_, err := contract.Check(context.Background(), cfg)
		if err == nil {
			t.Fatal("an unusable config was accepted")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error echoes a value: %v", err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("the fake saw %d requests", n)
	}
}
