package herokupartner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

const (
	testToken = "HRKU-test-token-0123456789"
	testBase  = "https://api.heroku.test"
	addonID   = "01234567-89ab-cdef-0123-456789abcdef"
	appID     = "a9a9a9a9-0000-4000-8000-000000000004"
	plID      = "7e7e7e7e-0000-4000-8000-000000000007"
)

// fastRetry keeps retry tests quick while still exercising backoff.
var fastRetry = RetryPolicy{MaxRetries: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// newMockClient returns a client whose requests go to a fresh httpmock
// transport, and that transport.
func newMockClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	base := []Option{WithBaseURL(testBase), WithToken(testToken), WithRetry(fastRetry),
		WithHTTPClient(&http.Client{Transport: mt})}
	c, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

func fixtureResponder(t *testing.T, status int, name string, header ...string) httpmock.Responder {
	body := readFixture(t, name)
	return func(*http.Request) (*http.Response, error) {
		r := httpmock.NewBytesResponse(status, body)
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r, nil
	}
}

func herokuError(status int, id, msg string, header ...string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(status, fmt.Sprintf(`{"id":%q,"message":%q}`, id, msg))
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r, nil
	}
}

// assertNoToken fails when err's text contains the test token, without
// printing the token itself.
func assertNoToken(t *testing.T, s string) {
	t.Helper()
	assert.False(t, strings.Contains(s, testToken), "the token leaked into a message")
	assert.False(t, strings.Contains(s, "HRKU-"), "a token-like string leaked into a message")
}

func TestNewClientValidatesOptions(t *testing.T) {
	bad := map[string]Option{
		"unparsable base URL":       WithBaseURL("https://exa mple.com/%zz"),
		"no host":                   WithBaseURL("/just/a/path"),
		"plain http remote":         WithBaseURL("http://api.heroku.com"),
		"ftp scheme":                WithBaseURL("ftp://127.0.0.1"),
		"credentials in URL":        WithBaseURL("https://user:pw@api.heroku.com"),
		"query in URL":              WithBaseURL("https://api.heroku.com/?x=1"),
		"negative retries":          WithRetry(RetryPolicy{MaxRetries: -1}),
		"negative delay":            WithRetry(RetryPolicy{BaseDelay: -time.Second}),
		"nil http client":           WithHTTPClient(nil),
		"nil logger":                WithLogger(nil),
		"empty user agent":          WithUserAgent(""),
		"header injection in agent": WithUserAgent("x\r\nAuthorization: y"),
	}
	for name, opt := range bad {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(opt)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), "herokupartner: With")
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://proxy.example.com/heroku/"} {
		c, err := NewClient(WithBaseURL(ok))
		require.NoError(t, err, ok)
		assert.False(t, strings.HasSuffix(c.BaseURL(), "/"), "trailing slash kept in %s", c.BaseURL())
	}
	c, err := NewClient()
	require.NoError(t, err)
	assert.Equal(t, DefaultBaseURL, c.BaseURL())
}

func TestWithHTTPClientIsCopied(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, fixtureResponder(t, 200, "pipeline.json"))
	hc := &http.Client{Transport: mt, Timeout: time.Minute}
	c, err := NewClient(WithHTTPClient(hc), WithBaseURL(testBase), WithToken(testToken))
	require.NoError(t, err)
	hc.Timeout = time.Nanosecond // a later change by the caller must not reach the client
	_, err = c.GetPipeline(context.Background(), plID)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, c.httpClient.Timeout)
	assert.NotSame(t, hc, c.httpClient)
}

func TestRequestHeaders(t *testing.T) {
	c, mt := newMockClient(t, WithUserAgent("acme-addon/2.1"))
	var got []http.Header
	mt.RegisterResponder("GET", testBase+"/addons/"+addonID, func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Header.Clone())
		if len(got) == 1 {
			return httpmock.NewStringResponse(503, `{"id":"unavailable","message":"try later"}`), nil
		}
		return fixtureResponder(t, 200, "addon.json")(r)
	})
	_, err := c.GetAddon(context.Background(), addonID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	h := got[0]
	assert.Equal(t, "application/vnd.heroku+json; version=3", h.Get("Accept"))
	assert.True(t, h.Get("Authorization") == "Bearer "+testToken, "Authorization is not the bearer token")
	assert.Equal(t, "herokupartner-go/"+Version+" acme-addon/2.1", h.Get("User-Agent"))
	_, err = uuid.Parse(h.Get("Request-Id"))
	assert.NoError(t, err, "Request-Id is a uuid")
	assert.Equal(t, h.Get("Request-Id"), got[1].Get("Request-Id"), "a retry keeps the call's Request-Id")
	assert.Empty(t, h.Get("Content-Type"), "a GET has no body")
}

func TestEachCallGetsItsOwnRequestID(t *testing.T) {
	c, mt := newMockClient(t)
	ids := map[string]bool{}
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(r *http.Request) (*http.Response, error) {
		ids[r.Header.Get("Request-Id")] = true
		return fixtureResponder(t, 200, "pipeline.json")(r)
	})
	for range 3 {
		_, err := c.GetPipeline(context.Background(), plID)
		require.NoError(t, err)
	}
	assert.Len(t, ids, 3)
}

func TestNoTokenFailsBeforeSending(t *testing.T) {
	mt := httpmock.NewMockTransport()
	c, err := NewClient(WithBaseURL(testBase), WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)
	_, err = c.GetAddon(context.Background(), addonID)
	assert.ErrorIs(t, err, ErrNoToken)
	assert.Contains(t, err.Error(), "/addons/"+addonID)
	_, err = c.WithToken("").GetPipeline(context.Background(), plID)
	assert.ErrorIs(t, err, ErrNoToken)
	_, err = c.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{})).GetPipeline(context.Background(), plID)
	assert.ErrorIs(t, err, ErrNoToken)
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestInvalidIDsFailBeforeSending(t *testing.T) {
	c, mt := newMockClient(t)
	ctx := context.Background()
	for _, bad := range []string{"", "acme-inc-primary-database", "../apps/x", "01234567-89ab-cdef-0123-456789abcdeg", addonID + "/config", testToken} {
		_, err := c.GetAddon(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), "resourceUUID")
		assertNoToken(t, err.Error())
		_, err = c.GetAppPipelineCouplings(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), "appID")
		_, err = c.GetPipeline(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), "pipelineID")
		_, err = c.ResolvePipeline(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidID)
		_, err = c.UpdateAddonConfig(ctx, bad, nil)
		require.ErrorIs(t, err, ErrInvalidID)
		_, err = c.MarkProvisioned(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidID)
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestIDsAreCanonicalInPaths(t *testing.T) {
	c, mt := newMockClient(t)
	mt.RegisterResponder("GET", testBase+"/addons/"+addonID, fixtureResponder(t, 200, "addon.json"))
	for _, in := range []string{strings.ToUpper(addonID), "{" + addonID + "}", "urn:uuid:" + addonID, " " + addonID + "\n", strings.ReplaceAll(addonID, "-", "")} {
		a, err := c.GetAddon(context.Background(), in)
		require.NoError(t, err, in)
		assert.Equal(t, fixtureAddonID, a.ID)
	}
	assert.Equal(t, 5, mt.GetTotalCallCount())
}

func TestAPIErrorCarriesHerokuFields(t *testing.T) {
	c, mt := newMockClient(t)
	body := readFixture(t, "error_not_found.json")
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(*http.Request) (*http.Response, error) {
		r := httpmock.NewBytesResponse(404, body)
		r.Header.Set("Request-Id", "a1b2c3,d4e5f6")
		return r, nil
	})
	_, err := c.GetPipeline(context.Background(), plID)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "not_found", apiErr.ID)
	assert.Equal(t, "Couldn't find that app.", apiErr.Message)
	assert.Equal(t, "https://devcenter.heroku.com/articles/platform-api-reference#errors", apiErr.URL)
	assert.Equal(t, "a1b2c3,d4e5f6", apiErr.RequestID)
	assert.Equal(t, "GET", apiErr.Method)
	assert.Equal(t, "/pipelines/"+plID, apiErr.Path)
	assert.Equal(t, 1, apiErr.Attempts, "a 404 is not retried")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrUnauthorized)
	msg := err.Error()
	for _, part := range []string{"GET", "/pipelines/" + plID, "404", "not_found", "Couldn't find that app.", "a1b2c3,d4e5f6"} {
		assert.Contains(t, msg, part)
	}
	assertNoToken(t, msg)
	assertNoToken(t, fmt.Sprintf("%+v", apiErr))
}

func TestStatusSentinels(t *testing.T) {
	cases := []struct {
		status int
		id     string
		want   error
	}{
		{401, "unauthorized", ErrUnauthorized},
		{403, "forbidden", ErrForbidden},
		{404, "not_found", ErrNotFound},
		{429, "rate_limit", ErrRateLimited},
	}
	for _, tc := range cases {
		c, mt := newMockClient(t, WithRetry(RetryPolicy{}))
		mt.RegisterResponder("GET", testBase+"/addons/"+addonID, herokuError(tc.status, tc.id, "no"))
		_, err := c.GetAddon(context.Background(), addonID)
		assert.ErrorIs(t, err, tc.want, tc.id)
		for _, other := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrInvalidID} {
			if other != tc.want {
				assert.NotErrorIs(t, err, other)
			}
		}
	}
}

func TestNonJSONErrorBodies(t *testing.T) {
	html := "<html><head><title>502 Bad Gateway</title></head>\n<body>" + strings.Repeat("upstream went away ", 200) + "</body></html>"
	for name, body := range map[string]string{"html": html, "empty": "", "truncated": `{"id":"not_fo`, "binary": "\xff\xfe\x00garbage"} {
		t.Run(name, func(t *testing.T) {
			c, mt := newMockClient(t)
			mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, httpmock.NewStringResponder(404, body))
			_, err := c.GetPipeline(context.Background(), plID)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 404, apiErr.StatusCode)
			assert.Empty(t, apiErr.ID)
			assert.LessOrEqual(t, len(apiErr.Body), excerptLen+len("…"))
			assert.Less(t, len(err.Error()), 600, "error text stays short")
			if name == "html" {
				assert.Contains(t, apiErr.Body, "502 Bad Gateway")
			}
		})
	}
}

func TestBadSuccessBodies(t *testing.T) {
	huge := `{"name":"` + strings.Repeat("x", maxSuccessBody) + `"}`
	for name, body := range map[string]string{
		"not json":   "<html>maintenance</html>",
		"truncated":  `{"id":"7e7e7e7e-0000-4000-8000-000000000007","na`,
		"wrong type": `{"id":12}`,
		"bad uuid":   `{"id":"nope"}`,
		"bad time":   `{"created_at":"yesterday"}`,
		"too large":  huge,
		"empty":      "",
	} {
		t.Run(name, func(t *testing.T) {
			c, mt := newMockClient(t)
			mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, httpmock.NewStringResponder(200, body))
			p, err := c.GetPipeline(context.Background(), plID)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), "GET /pipelines/"+plID)
			assert.Contains(t, err.Error(), "decoding")
			if name == "too large" {
				assert.Contains(t, err.Error(), "larger than")
			}
		})
	}
}

func TestRetriesTransientStatuses(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		c, mt := newMockClient(t)
		n := 0
		mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(r *http.Request) (*http.Response, error) {
			n++
			if n < 3 {
				return herokuError(status, "x", "transient")(r)
			}
			return fixtureResponder(t, 200, "pipeline.json")(r)
		})
		p, err := c.GetPipeline(context.Background(), plID)
		require.NoError(t, err, status)
		assert.Equal(t, "example", p.Name)
		assert.Equal(t, 3, n, status)
	}
}

func TestRetriesGiveUpWithAttemptCount(t *testing.T) {
	c, mt := newMockClient(t)
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, herokuError(503, "unavailable", "Could not complete the action. Please try again later."))
	_, err := c.GetPipeline(context.Background(), plID)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 3, apiErr.Attempts)
	assert.Equal(t, 3, mt.GetTotalCallCount())
	assert.Contains(t, err.Error(), "after 3 attempts")
}

func TestNoRetryOnClientErrorsOrWrites(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 406, 409, 422} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, herokuError(status, "x", "no"))
		_, err := c.GetPipeline(context.Background(), plID)
		require.Error(t, err)
		assert.Equal(t, 1, mt.GetTotalCallCount(), "status %d retried", status)
	}
	// A POST is not idempotent: a 503 after Heroku acted must not act twice.
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/addons/"+addonID+"/actions/provision", herokuError(503, "unavailable", "later"))
	_, err := c.MarkProvisioned(context.Background(), addonID)
	require.Error(t, err)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestRetryStopsAtContextDeadline(t *testing.T) {
	c, mt := newMockClient(t, WithRetry(RetryPolicy{MaxRetries: 5, MaxDelay: time.Hour}))
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, herokuError(429, "rate_limit", "wait", "Retry-After", "120"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.GetPipeline(ctx, plID)
	// The two-minute wait cannot fit in the minute left: the client gives
	// up at once with what it learned instead of sleeping into the deadline.
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, mt.GetTotalCallCount())
	assert.NoError(t, ctx.Err())
}

func TestCancelDuringRetryWait(t *testing.T) {
	c, mt := newMockClient(t, WithRetry(RetryPolicy{MaxRetries: 5, MaxDelay: time.Hour}))
	ctx, cancel := context.WithCancel(context.Background())
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(r *http.Request) (*http.Response, error) {
		cancel()
		// A wait that fits the call budget, so the client sleeps and sees
		// the cancellation.
		return herokuError(503, "unavailable", "later", "Retry-After", "10")(r)
	})
	_, err := c.GetPipeline(ctx, plID)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestCanceledContextSendsNothing(t *testing.T) {
	c, mt := newMockClient(t)
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, fixtureResponder(t, 200, "pipeline.json"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.GetPipeline(ctx, plID)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = c.ResolvePipeline(ctx, addonID)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestWaitPolicy(t *testing.T) {
	p := RetryPolicy{MaxRetries: 3}.withDefaults()
	resp := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	assert.Equal(t, 2*time.Second, p.waitFor(1, resp(503, "2")))
	assert.Equal(t, p.MaxDelay, p.waitFor(1, resp(429, "86400")), "Retry-After is capped")
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	w := p.waitFor(1, resp(503, date))
	assert.True(t, w > time.Second && w <= 3*time.Second, "HTTP-date Retry-After gave %v", w)
	for range 50 {
		assert.GreaterOrEqual(t, p.waitFor(1, resp(429, "")), rateLimitRefill, "a 429 without Retry-After waits for a bucket refill")
		b := p.waitFor(1, resp(503, "garbage"))
		assert.True(t, b >= p.BaseDelay/2 && b <= p.BaseDelay, "first backoff %v", b)
		assert.LessOrEqual(t, p.waitFor(40, resp(503, "")), p.MaxDelay)
	}
	_, ok := parseRetryAfter("-5", time.Now())
	assert.False(t, ok)
}

func TestRateLimitRemaining(t *testing.T) {
	c, mt := newMockClient(t)
	_, ok := c.RateLimitRemaining()
	assert.False(t, ok)
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, fixtureResponder(t, 200, "pipeline.json", "RateLimit-Remaining", "4321"))
	_, err := c.GetPipeline(context.Background(), plID)
	require.NoError(t, err)
	n, ok := c.RateLimitRemaining()
	assert.True(t, ok)
	assert.Equal(t, 4321, n)
	d := c.WithToken("another-token")
	_, ok = d.RateLimitRemaining()
	assert.False(t, ok, "a derived client reports its own bucket")
}

func TestDerivedClientsShareSettings(t *testing.T) {
	c, mt := newMockClient(t, WithUserAgent("acme/1"))
	var auths []string
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(r *http.Request) (*http.Response, error) {
		auths = append(auths, r.Header.Get("Authorization"))
		assert.Equal(t, "herokupartner-go/"+Version+" acme/1", r.Header.Get("User-Agent"))
		return fixtureResponder(t, 200, "pipeline.json")(r)
	})
	r1 := c.WithToken("token-one")
	r2 := c.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token-two"}))
	for _, cl := range []*Client{c, r1, r2} {
		_, err := cl.GetPipeline(context.Background(), plID)
		require.NoError(t, err)
	}
	assert.True(t, auths[0] == "Bearer "+testToken && auths[1] == "Bearer token-one" && auths[2] == "Bearer token-two",
		"each client sent its own token")
}

func TestCouplingsShapes(t *testing.T) {
	ctx := context.Background()
	path := testBase + "/apps/" + appID + "/pipeline-couplings"
	c, mt := newMockClient(t)

	mt.RegisterResponder("GET", path, fixtureResponder(t, 200, "coupling_object.json"))
	got, err := c.GetAppPipelineCouplings(ctx, appID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, StageProduction, got[0].Stage)
	assert.Equal(t, fixturePipelineID, got[0].Pipeline.ID)

	mt.RegisterResponder("GET", path, fixtureResponder(t, 200, "coupling_array.json"))
	got, err = c.GetAppPipelineCouplings(ctx, appID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "example", got[0].Pipeline.Name)

	mt.RegisterResponder("GET", path, fixtureResponder(t, 200, "coupling_empty.json"))
	got, err = c.GetAppPipelineCouplings(ctx, appID)
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)

	mt.RegisterResponder("GET", path, herokuError(404, "not_found", "Couldn't find that pipeline coupling."))
	got, err = c.GetAppPipelineCouplings(ctx, appID)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Nil(t, got)
}

func registerWorld(t *testing.T, mt *httpmock.MockTransport, couplings httpmock.Responder) {
	mt.RegisterResponder("GET", testBase+"/addons/"+addonID, fixtureResponder(t, 200, "addon.json"))
	mt.RegisterResponder("GET", testBase+"/apps/"+appID+"/pipeline-couplings", couplings)
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, fixtureResponder(t, 200, "pipeline.json"))
}

func TestResolvePipeline(t *testing.T) {
	c, mt := newMockClient(t)
	registerWorld(t, mt, fixtureResponder(t, 200, "coupling_object.json"))
	res, err := c.ResolvePipeline(context.Background(), addonID)
	require.NoError(t, err)
	assert.True(t, res.InPipeline())
	assert.Equal(t, fixtureAddonID, res.Addon.ID)
	assert.Equal(t, Ref{ID: fixtureAppID, Name: "example"}, res.App)
	assert.Equal(t, StageProduction, res.Stage)
	assert.Equal(t, fixturePipelineID, res.Coupling.Pipeline.ID)
	assert.Equal(t, "example", res.Pipeline.Name)
	assert.Equal(t, 3, mt.GetTotalCallCount())
}

func TestResolvePipelineNoPipeline(t *testing.T) {
	for name, couplings := range map[string]httpmock.Responder{
		"empty array": fixtureResponder(t, 200, "coupling_empty.json"),
		"404":         herokuError(404, "not_found", "Not found."),
	} {
		t.Run(name, func(t *testing.T) {
			c, mt := newMockClient(t)
			registerWorld(t, mt, couplings)
			res, err := c.ResolvePipeline(context.Background(), addonID)
			require.NoError(t, err)
			assert.False(t, res.InPipeline())
			assert.Nil(t, res.Pipeline)
			assert.Nil(t, res.Coupling)
			assert.Empty(t, res.Stage)
			assert.Equal(t, fixtureAppID, res.App.ID)
			assert.Equal(t, 2, mt.GetTotalCallCount(), "no pipeline lookup without a coupling")
		})
	}
	var nilRes *Resolution
	assert.False(t, nilRes.InPipeline())
}

func TestResolvePipelineNamesTheFailedStep(t *testing.T) {
	cases := []struct {
		step, route string
		status      int
		want        error
	}{
		{"add-on", "/addons/" + addonID, 404, ErrNotFound},
		{"couplings", "/apps/" + appID + "/pipeline-couplings", 403, ErrForbidden},
		{"pipeline", "/pipelines/" + plID, 401, ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			c, mt := newMockClient(t)
			registerWorld(t, mt, fixtureResponder(t, 200, "coupling_object.json"))
			mt.RegisterResponder("GET", testBase+tc.route, herokuError(tc.status, "x", "denied"))
			res, err := c.ResolvePipeline(context.Background(), addonID)
			assert.Nil(t, res)
			var rerr *ResolveError
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, tc.step, rerr.Step)
			assert.Equal(t, addonID, rerr.ResourceID)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.step+" step")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
		})
	}
	c, mt := newMockClient(t)
	registerWorld(t, mt, httpmock.NewStringResponder(200, `[{"stage":"staging"},{"stage":"production"}]`))
	_, err := c.ResolvePipeline(context.Background(), addonID)
	var rerr *ResolveError
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, "couplings", rerr.Step)
}

func TestUpdateAddonConfigAndMarkProvisioned(t *testing.T) {
	c, mt := newMockClient(t)
	var sent []byte
	mt.RegisterResponder("PATCH", testBase+"/addons/"+addonID+"/config", func(r *http.Request) (*http.Response, error) {
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		sent, _ = io.ReadAll(r.Body)
		return httpmock.NewStringResponse(200, `[{"name":"ACME_URL","value":"https://acme.test/r/1"},{"name":"OLD","value":null}]`), nil
	})
	mt.RegisterResponder("POST", testBase+"/addons/"+addonID+"/actions/provision", fixtureResponder(t, 200, "addon.json"))
	url := "https://acme.test/r/1"
	cfg, err := c.UpdateAddonConfig(context.Background(), addonID, []ConfigVar{{Name: "ACME_URL", Value: &url}, {Name: "OLD"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"config":[{"name":"ACME_URL","value":"https://acme.test/r/1"},{"name":"OLD","value":null}]}`, string(sent))
	require.Len(t, cfg, 2)
	assert.Equal(t, url, *cfg[0].Value)
	assert.Nil(t, cfg[1].Value)

	_, err = c.UpdateAddonConfig(context.Background(), addonID, []ConfigVar{{Value: &url}})
	assert.Error(t, err)
	assert.Equal(t, 1, mt.GetCallCountInfo()["PATCH "+testBase+"/addons/"+addonID+"/config"])

	a, err := c.MarkProvisioned(context.Background(), addonID)
	require.NoError(t, err)
	assert.Equal(t, AddonStateProvisioned, a.State)
}

// refreshingSource stands in for a token manager: it hands out a new token
// when told the current one was rejected.
type refreshingSource struct {
	mu          sync.Mutex
	current     string
	next        []string
	invalidated int
}

func (s *refreshingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &oauth2.Token{AccessToken: s.current}, nil
}

func (s *refreshingSource) InvalidateToken(_ context.Context, rejected string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated++
	if len(s.next) == 0 {
		return errors.New("no refresh token left")
	}
	s.current, s.next = s.next[0], s.next[1:]
	return nil
}

func TestUnauthorizedForcesOneRefresh(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", testBase+"/pipelines/"+plID, func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer fresh" {
			return fixtureResponder(t, 200, "pipeline.json")(r)
		}
		return herokuError(401, "unauthorized", "Invalid credentials provided.")(r)
	})
	base, err := NewClient(WithBaseURL(testBase), WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)

	src := &refreshingSource{current: "expired", next: []string{"fresh"}}
	_, err = base.WithTokenSource(src).GetPipeline(context.Background(), plID)
	require.NoError(t, err)
	assert.Equal(t, 1, src.invalidated)

	// A token that is rejected again after the refresh is final.
	src = &refreshingSource{current: "revoked", next: []string{"also-revoked", "never-used"}}
	_, err = base.WithTokenSource(src).GetPipeline(context.Background(), plID)
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.ErrorIs(t, err, ErrGrantRevoked, "a second 401 says the grant is no longer valid")
	assert.Contains(t, err.Error(), "even after a refresh")
	assert.Equal(t, 1, src.invalidated)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 2, apiErr.Attempts)

	// A refresh that fails is reported with the 401 that caused it.
	src = &refreshingSource{current: "revoked"}
	_, err = base.WithTokenSource(src).GetPipeline(context.Background(), plID)
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "refreshing it failed")
}

func TestLoggerNeverSeesTheToken(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mt := newMockClient(t, WithLogger(logger))
	registerWorld(t, mt, herokuError(503, "unavailable", "later", "Request-Id", "req-503"))
	_, err := c.ResolvePipeline(context.Background(), addonID)
	require.Error(t, err)
	logs := buf.String()
	assert.Contains(t, logs, "herokupartner retrying")
	assert.Contains(t, logs, "req-503")
	assertNoToken(t, logs)
	assertNoToken(t, err.Error())
}

func TestConcurrentUse(t *testing.T) {
	c, mt := newMockClient(t)
	registerWorld(t, mt, fixtureResponder(t, 200, "coupling_object.json", "RateLimit-Remaining", "100"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			cl := c
			if i%2 == 0 {
				cl = c.WithToken(fmt.Sprintf("token-%d", i))
			}
			res, err := cl.ResolvePipeline(context.Background(), addonID)
			if err == nil && res.Pipeline.Name != "example" {
				err = fmt.Errorf("wrong pipeline %q", res.Pipeline.Name)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 64*3, mt.GetTotalCallCount())
}
