package herokupartnertest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statuses returns the answer statuses logged for route, oldest first.
func statuses(s *herokupartnertest.Server, route herokupartnertest.Route) []int {
	var out []int
	for _, r := range s.Requests() {
		if r.Route == route {
			out = append(out, r.Status)
		}
	}
	return out
}

func TestFaultStatusBodies(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		status int
		id     string
	}{
		{429, "rate_limit"}, {500, "internal_server_error"}, {502, "bad_gateway"},
		{503, "unavailable"}, {504, "gateway_timeout"},
	} {
		w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Status: tc.status})
		a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil)
		requireError(t, a, tc.status, tc.id)
		assert.NotEmpty(t, a.header.Get("Request-Id"))
		assert.Empty(t, a.header.Get("Retry-After"))
	}
	// The fault was used up: the next request is served.
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil).status)
}

func TestFault429WithRetryAfter(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Status: 429, RetryAfter: "0"})
	a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil)
	requireError(t, a, http.StatusTooManyRequests, "rate_limit")
	assert.Equal(t, "0", a.header.Get("Retry-After"))
	assert.Equal(t, "0", a.header.Get("RateLimit-Remaining"))
}

func TestFaultsAreRetriedBySDK(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Times: 2, Status: 503})
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Status: 429, RetryAfter: "0"})
	got, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)
	assert.Equal(t, w.a.ID, got.ID)
	assert.Equal(t, []int{503, 503, 429, 200}, statuses(w.s, herokupartnertest.RouteAddon), "faults for a route apply in the order they were scripted")

	// Faults are per route: the couplings route was untouched.
	assert.Empty(t, statuses(w.s, herokupartnertest.RouteCouplings))

	// More failures than retries: the SDK gives up with the last answer.
	w.s.ResetRequests()
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Times: 10, Status: 500})
	_, err = w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.StatusCode)
	assert.Equal(t, "internal_server_error", apiErr.ID)
	assert.Len(t, w.s.Requests(), 4, "one attempt and three retries")
}

func TestFaultedWritesHaveNoEffect(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteProvision, herokupartnertest.Fault{Status: 503})
	_, err := w.s.Client(w.tokA).MarkProvisioned(context.Background(), w.a.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	cur, _ := w.s.Addon(w.a.ID)
	assert.Equal(t, herokupartner.AddonStateProvisioning, cur.State)
	assert.Equal(t, []int{503}, statuses(w.s, herokupartnertest.RouteProvision), "a POST is not retried")
}

func TestFaultDisconnect(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Kind: herokupartnertest.FaultDisconnect})
	req, _ := http.NewRequest(http.MethodGet, w.s.URL+w.addonPath(w.a.ID), nil)
	req.Header.Set("Accept", accept3)
	req.Header.Set("Authorization", "Bearer "+w.tokA)
	resp, err := w.s.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the connection is closed without an answer")
	assert.Equal(t, []int{0}, statuses(w.s, herokupartnertest.RouteAddon))

	// A GET through the SDK retries past it.
	w.s.ResetRequests()
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Kind: herokupartnertest.FaultDisconnect})
	_, err = w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)
	assert.Equal(t, []int{0, 200}, statuses(w.s, herokupartnertest.RouteAddon))

	// A write is not retried, and the fake did not act on it.
	w.s.Fail(herokupartnertest.RouteConfig, herokupartnertest.Fault{Kind: herokupartnertest.FaultDisconnect})
	v := "x"
	_, err = w.s.Client(w.tokA).UpdateAddonConfig(context.Background(), w.a.ID.String(), []herokupartner.ConfigVar{{Name: "A", Value: &v}})
	require.Error(t, err)
	assert.Empty(t, w.s.AddonConfig(w.a.ID))
	assert.Equal(t, []int{0}, statuses(w.s, herokupartnertest.RouteConfig))
}

func TestFaultTruncated(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Kind: herokupartnertest.FaultTruncated})
	req, _ := http.NewRequest(http.MethodGet, w.s.URL+w.addonPath(w.a.ID), nil)
	req.Header.Set("Accept", accept3)
	req.Header.Set("Authorization", "Bearer "+w.tokA)
	resp, err := w.s.HTTPClient().Do(req)
	require.NoError(t, err, "the status line and headers arrive")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.True(t, strings.HasPrefix(`{"actions":`, string(body)) || strings.HasPrefix(string(body), `{"actions":`), "the start of the real answer arrives")
	assert.Less(t, int64(len(body)), resp.ContentLength)

	// A truncated write did take effect: the connection broke after the
	// server acted, which is why the SDK must not blindly resend writes.
	w.s.Fail(herokupartnertest.RouteConfig, herokupartnertest.Fault{Kind: herokupartnertest.FaultTruncated})
	v := "x"
	_, err = w.s.Client(w.tokA).UpdateAddonConfig(context.Background(), w.a.ID.String(), []herokupartner.ConfigVar{{Name: "A", Value: &v}})
	require.Error(t, err)
	assert.Equal(t, map[string]string{"A": "x"}, w.s.AddonConfig(w.a.ID))
}

func TestFaultNotJSON(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Kind: herokupartnertest.FaultNotJSON})
	a := call(t, w.s, http.MethodGet, w.pipPath(w.p1.ID), w.tokA, nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Nil(t, a.body, "the body must not parse as JSON: %s", a.raw)
	assert.NotEmpty(t, a.raw)

	w.s.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Kind: herokupartnertest.FaultNotJSON})
	_, err := w.s.Client(w.tokA).GetPipeline(context.Background(), w.p1.ID.String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decoding")

	// With an error status the SDK keeps an excerpt of the body.
	w.s.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Kind: herokupartnertest.FaultNotJSON, Status: 400})
	_, err = w.s.Client(w.tokA).GetPipeline(context.Background(), w.p1.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Contains(t, apiErr.Body, "not JSON")
}

func TestFaultHTML(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Kind: herokupartnertest.FaultHTML, Status: 502})
	a := call(t, w.s, http.MethodGet, w.couplingsPath(w.app1), w.tokA, nil)
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"))
	assert.Contains(t, string(a.raw), "<h1>502 Bad Gateway</h1>")

	w.s.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Times: 4, Kind: herokupartnertest.FaultHTML})
	_, err := w.s.Client(w.tokA).GetAppPipelineCouplings(context.Background(), w.app1.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode, "FaultHTML defaults to 503")
	assert.Contains(t, apiErr.Body, "<html>")
}

// cancelWhenReached returns a context cancelled once reached is closed:
// an event, so the test does not depend on how fast a loaded machine sends.
func cancelWhenReached(t *testing.T, reached <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		select {
		case <-reached:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

func TestFaultLatencyRespectsCancellation(t *testing.T) {
	w := newWorld(t)
	reached := make(chan struct{})
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Latency: time.Hour, Reached: reached})
	_, err := w.s.Client(w.tokA).GetAddon(cancelWhenReached(t, reached), w.a.ID.String())
	require.ErrorIs(t, err, context.Canceled)
	// The handler notices the client left instead of sleeping an hour; its
	// log entry (status 0: nothing answered) appears once it returns.
	require.Eventually(t, func() bool { return len(w.s.Requests()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 0, w.s.Requests()[0].Status)

	// A latency-only fault delays but does not spoil the answer.
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Latency: time.Millisecond})
	_, err = w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err)
}

func TestFaultReachedIsClosedOnceOnArrival(t *testing.T) {
	w := newWorld(t)
	reached := make(chan struct{})
	w.s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Times: 2, Status: http.StatusServiceUnavailable, Reached: reached})
	select {
	case <-reached:
		t.Fatal("Reached closed before any request")
	default:
	}
	_, err := w.s.Client(w.tokA).GetAddon(context.Background(), w.a.ID.String())
	require.NoError(t, err, "two 503s, then the answer")
	<-reached // closed by the first spoiled request, not closed again by the second
	assert.Equal(t, 3, w.s.RequestCount())
}

func TestServerLatencyRespectsCancellationAndClose(t *testing.T) {
	s := herokupartnertest.NewServer(herokupartnertest.WithLatency(time.Hour))
	defer s.Close()
	app := s.AddApp("slow-app")
	a := s.AddAddon(app.ID, "basic")
	// A fault that spoils nothing marks the moment the request arrives,
	// before the server's latency.
	reached := make(chan struct{})
	s.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Reached: reached})
	_, err := s.Client(s.IssueToken(a.ID)).GetAddon(cancelWhenReached(t, reached), a.ID.String())
	require.ErrorIs(t, err, context.Canceled)

	require.Eventually(t, func() bool { return len(s.Requests()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 0, s.Requests()[0].Status)

	// Close must not wait out the latency of a request in flight.
	inFlight := make(chan struct{})
	s.Fail(herokupartnertest.RouteConfig, herokupartnertest.Fault{Reached: inFlight})
	req, _ := http.NewRequest(http.MethodPatch, s.URL+"/addons/"+a.ID.String()+"/config", strings.NewReader(`{"config":[]}`))
	req.Header.Set("Accept", accept3)
	errc := make(chan error, 1)
	go func() {
		resp, err := s.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-inFlight
	s.Close()
	assert.Error(t, <-errc, "the request is cut, not answered after an hour")
}

func TestRequestLogRedaction(t *testing.T) {
	w := newWorld(t)
	_, err := w.s.Client(w.tokA).ResolvePipeline(context.Background(), w.a.ID.String())
	require.NoError(t, err)
	code, _ := w.s.IssueGrant(w.a.ID)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status)
	refresh := a.object(t)["refresh_token"].(string)
	a = postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status)

	reqs := w.s.Requests()
	require.Len(t, reqs, 5)
	for i, r := range reqs[:3] {
		assert.Equal(t, []herokupartnertest.Route{herokupartnertest.RouteAddon, herokupartnertest.RouteCouplings, herokupartnertest.RoutePipeline}[i], r.Route)
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "Bearer [redacted]", r.Header.Get("Authorization"))
		assert.Equal(t, accept3, r.Header.Get("Accept"), "other headers are kept")
		assert.Nil(t, r.Form)
	}
	assert.Equal(t, "/addons/"+w.a.ID.String(), reqs[0].Path)
	ex := reqs[3]
	assert.Equal(t, herokupartnertest.RouteToken, ex.Route)
	assert.Equal(t, "authorization_code", ex.Form.Get("grant_type"))
	assert.Equal(t, "[redacted]", ex.Form.Get("code"))
	assert.Equal(t, "[redacted]", ex.Form.Get("client_secret"))
	assert.Equal(t, "[redacted]", reqs[4].Form.Get("refresh_token"))

	dump := strings.Join(func() []string {
		var out []string
		for _, r := range reqs {
			out = append(out, r.Path, r.Form.Encode())
			for k, vs := range r.Header {
				out = append(out, k+"="+strings.Join(vs, ","))
			}
		}
		return out
	}(), "\n")
	for _, secret := range []string{w.tokA, code, w.s.ClientSecret(), refresh} {
		assert.False(t, strings.Contains(dump, secret), "a secret leaked into the request log")
	}

	// The log is a copy: changing it does not change the server's.
	reqs[0].Header.Set("Authorization", "changed")
	assert.Equal(t, "Bearer [redacted]", w.s.Requests()[0].Header.Get("Authorization"))
	w.s.ResetRequests()
	assert.Empty(t, w.s.Requests())
}
