package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// What the scenarios ask of the standalone fake, through its /_fake/
// control routes: grants, faults, the request log and the add-on's state.

// provisionBody asks the fake for a fresh oauth_grant and returns Heroku's
// provisioning request body carrying it.
func (e *crashEnv) provisionBody() []byte {
	e.t.Helper()
	var g struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
		Type      string    `json:"type"`
	}
	e.control(http.MethodPost, "/_fake/addons/"+e.addon.String()+"/grant", nil, &g)
	if g.Code == "" {
		e.t.Fatal("fake: the grant route returned no code")
	}
	e.secrets = append(e.secrets, g.Code)
	body, err := json.Marshal(map[string]any{
		"uuid": e.addon.String(), "name": e.addonName, "plan": "basic", "region": "amazon-web-services::us-east-1",
		"callback_url": e.apiURL + "/addons/" + e.addon.String(),
		"oauth_grant": map[string]string{
			"code": g.Code, "type": g.Type,
			"expires_at": g.ExpiresAt.In(time.FixedZone("PST", -8*3600)).Format("2006-01-02T15:04:05-0700"),
		},
		"options": map[string]string{},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return body
}

// fault scripts a fault on a route of the fake.
func (e *crashEnv) fault(route string, times, status, latencyMS int) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"route": route, "times": times, "status": status, "latency_ms": latencyMS})
	e.control(http.MethodPost, "/_fake/faults", b, nil)
}

// fakeRequest is an entry of the fake's request log.
type fakeRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Route  string `json:"route"`
	Status int    `json:"status"`
}

func (e *crashEnv) requests() []fakeRequest {
	e.t.Helper()
	var out []fakeRequest
	e.control(http.MethodGet, "/_fake/requests", nil, &out)
	return out
}

// addonState is the add-on's state at the fake and whether it has the
// backend's ACME_URL config var (its value is not the test's business).
func (e *crashEnv) addonState() (state string, configured bool) {
	e.t.Helper()
	var a struct {
		State  string            `json:"state"`
		Config map[string]string `json:"config"`
	}
	e.control(http.MethodGet, "/_fake/addons/"+e.addon.String(), nil, &a)
	return a.State, a.Config["ACME_URL"] != ""
}

// control calls a /_fake/ route and decodes its answer into out.
func (e *crashEnv) control(method, path string, body []byte, out any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.apiURL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("fake %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("fake %s %s: answered %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			e.t.Fatalf("fake %s %s: decoding the answer: %v", method, path, err)
		}
	}
}

// failCouplings makes the couplings lookup fail: four quick 503s (the
// client's first try and its three retries, so one failed attempt at the
// resolve step), then one 503 that takes a minute, which keeps the next
// attempt in flight. The fake has no route to lift a fault; these run out
// by themselves, so the route heals once the hanging request has ended.
func (e *crashEnv) failCouplings() {
	e.t.Helper()
	e.fault("couplings", 4, http.StatusServiceUnavailable, 0)
	e.fault("couplings", 1, http.StatusServiceUnavailable, int(time.Minute/time.Millisecond))
}

// waitMidStep waits until the job is in the middle of its resolve step:
// one attempt failed, a backend holds the job's lease for the next, and
// that attempt's add-on lookup has been answered, so its couplings lookup,
// the hanging one, is under way.
func (e *crashEnv) waitMidStep() {
	e.t.Helper()
	waitUntil(e.t, bound, "the job retries its resolve step under a lease", func() (bool, error) {
		j, err := e.job()
		if err != nil || j.step != "resolve" || j.attempts != 1 || !j.leased {
			return false, err
		}
		addonLookups := 0
		for _, r := range e.requests() {
			if r.Route == "addon" && r.Method == http.MethodGet {
				addonLookups++
			}
		}
		return addonLookups >= 2, nil
	})
	// The couplings request follows the add-on answer at once; this only
	// covers the gap between the two on a loaded machine.
	time.Sleep(300 * time.Millisecond)
}

// waitHangEnded waits until the fake logs the hanging couplings request,
// which ends when its sender dies or gives up: the fault is then used up.
func (e *crashEnv) waitHangEnded() {
	e.t.Helper()
	waitUntil(e.t, bound, "the hanging couplings request ends (was it sent before the kill?)", func() (bool, error) {
		return e.counts().Couplings >= 5, nil
	})
}

// stepCounts are what the fake saw of the add-on's provisioning.
type stepCounts struct {
	Exchanges, ConfigPatches, ProvisionActions, Couplings, CouplingsOK int
}

func (e *crashEnv) counts() stepCounts {
	e.t.Helper()
	var c stepCounts
	for _, r := range e.requests() {
		switch {
		case r.Route == "token" && r.Method == http.MethodPost:
			// Grant exchanges and refreshes share the route; the fake's
			// tokens outlive the test, so each one here is an exchange.
			c.Exchanges++
		case r.Route == "config" && r.Method == http.MethodPatch:
			c.ConfigPatches++
		case r.Route == "provision":
			c.ProvisionActions++
		case r.Route == "couplings":
			c.Couplings++
			if r.Status == http.StatusOK {
				c.CouplingsOK++
			}
		}
	}
	return c
}
