package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// noEnv is an empty environment.
func noEnv(string) string { return "" }

func TestFakeFlagErrorsNameTheFlagNotTheValue(t *testing.T) {
	const pasted = "tok-9f8e7d6c5b4a"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--limit", pasted}, "--limit: invalid value"},
		{[]string{"--" + pasted}, "unknown flag"},
		{[]string{"--check"}, "--check needs a value"},
		{[]string{pasted}, "unexpected argument"},
		{[]string{"--check", "https://user:" + pasted + "@example.com/heroku/resources", "--addon-id", "acme", "--password", "x"}, "--check must be"},
		{[]string{"--check", pasted}, "--check must be"},
		{[]string{"--check", "http://127.0.0.1:1/heroku/resources", "--password", pasted}, "--addon-id or ADDON_ID"},
		{[]string{"--check", "http://127.0.0.1:1/heroku/resources", "--addon-id", "acme"}, "ADDON_PASSWORD or --password"},
		{[]string{"--wait", "-1s"}, "must be positive"},
		{[]string{"--seed", filepath.Join(t.TempDir(), pasted)}, "--seed: cannot open"},
		{[]string{"--addr", pasted}, "cannot listen on --addr"},
	} {
		var stdout, stderr strings.Builder
		code := runFake(context.Background(), tc.args, &stdout, &stderr, noEnv)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", tc.args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want it to say %q", tc.args, stderr.String(), tc.want)
		}
		if strings.Contains(stderr.String()+stdout.String(), pasted) {
			t.Errorf("%v: the output echoes a value", tc.args)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: bad usage printed settings: the fake should not have started", tc.args)
		}
	}
}

func TestFakeHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := runFake(context.Background(), []string{"--help"}, &stdout, &stderr, noEnv); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"HEROKU_OAUTH_SECRET", "-check", "-seed", "/_fake/requests"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// syncBackend provisions synchronously, so it needs none of the fake's
// settings; auth says whether it checks Basic credentials.
func syncBackend(auth bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); auth && (!ok || u != "acme" || p != "pw-1") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPost:
			var req struct{ UUID string }
			_ = json.NewDecoder(r.Body).Decode(&req)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": req.UUID, "config": map[string]string{"ACME_URL": "https://acme.example.com/1"}})
		case http.MethodPut:
			_, _ = w.Write([]byte(`{"message":"done"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func TestFakeCheckExitsByTheReport(t *testing.T) {
	for _, tc := range []struct {
		auth bool
		code int
		want string
	}{
		{true, exitOK, "0 failed"},
		{false, exitFailed, "FAIL  provision: 401 for a wrong password"},
	} {
		backend := httptest.NewServer(syncBackend(tc.auth))
		env := map[string]string{"ADDON_ID": "acme", "ADDON_PASSWORD": "pw-1"}
		var stdout, stderr strings.Builder
		code := runFake(context.Background(), []string{"--check", backend.URL + "/heroku/resources", "--wait", "1s"},
			&stdout, &stderr, func(k string) string { return env[k] })
		backend.Close()
		if code != tc.code || !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("auth %v: exit %d, stdout:\n%s\nstderr: %s", tc.auth, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), "pw-1") {
			t.Error("the output carries the password")
		}
	}
}

// lines is an io.Writer that hands each complete line to a channel.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
	ch  chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	s := l.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		l.ch <- s[:i]
		s = s[i+1:]
	}
	l.buf.Reset()
	l.buf.WriteString(s)
	return len(p), nil
}

func TestFakeServesSeedsAndLogs(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "seed.json")
	err := os.WriteFile(seed, []byte(`{"apps": [
		{"name": "acme-shop-staging", "pipeline": "acme-shop", "stage": "staging", "addons": ["basic"]},
		{"name": "scratch"}]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lines{ch: make(chan string, 100)}
	done := make(chan int, 1)
	go func() { done <- runFake(ctx, []string{"--seed", seed}, out, &strings.Builder{}, noEnv) }()

	got := map[string]string{}
	var addonLine string
	for len(got) < 3 || addonLine == "" {
		select {
		case l := <-out.ch:
			if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "HEROKU_") {
				got[k] = v
			}
			if strings.HasPrefix(l, "# addon ") {
				addonLine = l
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the fake printed %v, addon line %q", got, addonLine)
		}
	}
	if got["HEROKU_OAUTH_TOKEN_URL"] != got["HEROKU_API_URL"]+"/oauth/token" || got["HEROKU_OAUTH_SECRET"] == "" {
		t.Fatalf("settings: %v", got)
	}
	addonID := strings.Fields(addonLine)[2]

	// The API answers through the chosen address: without a token, 401.
	req, _ := http.NewRequest(http.MethodGet, got["HEROKU_API_URL"]+"/addons/"+addonID, nil)
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /addons/{id} without a token: %d", resp.StatusCode)
	}
	resp, err = http.Get(got["HEROKU_API_URL"] + "/_fake/requests")
	if err != nil {
		t.Fatal(err)
	}
	var log []struct {
		Method, Path, Route string
		Status              int
	}
	err = json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&log)
	resp.Body.Close()
	if err != nil || len(log) != 1 || log[0].Path != "/addons/"+addonID || log[0].Status != http.StatusUnauthorized {
		t.Fatalf("request log %+v, %v", log, err)
	}
	api := got["HEROKU_API_URL"]
	var grant struct{ Code, Type string }
	controlCall(t, http.MethodPost, api+"/_fake/addons/"+addonID+"/grant", "", http.StatusOK, &grant)
	if grant.Code == "" || grant.Type != "authorization_code" {
		t.Fatalf("grant %+v", grant)
	}
	controlCall(t, http.MethodPost, api+"/_fake/faults", `{"route": "nope"}`, http.StatusBadRequest, nil)
	controlCall(t, http.MethodPost, api+"/_fake/faults", `{"route": "addon", "times": 1, "status": 503}`, http.StatusNoContent, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /addons/{id} after a scripted fault: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	var state struct{ State, Plan string }
	controlCall(t, http.MethodGet, api+"/_fake/addons/"+addonID, "", http.StatusOK, &state)
	if state.State != "provisioning" || state.Plan != "acme-metrics:basic" {
		t.Fatalf("add-on %+v", state)
	}
	controlCall(t, http.MethodGet, api+"/_fake/addons/not-a-uuid", "", http.StatusNotFound, nil)

	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d after interrupt", code)
	}
}

// controlCall makes one control request and decodes its answer into out.
func controlCall(t *testing.T, method, url, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}
