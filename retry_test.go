package herokupartner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestDefaultRetryPolicyIsACopy(t *testing.T) {
	want := RetryPolicy{MaxRetries: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}
	assert.Equal(t, want, defaultRetryPolicy())
	assert.Equal(t, want, DefaultRetryPolicy)
	saved := DefaultRetryPolicy
	t.Cleanup(func() { DefaultRetryPolicy = saved })
	DefaultRetryPolicy = RetryPolicy{MaxRetries: 100, MaxDelay: time.Hour}
	c, err := NewClient()
	require.NoError(t, err)
	assert.Equal(t, want, c.retry, "an importer's change reaches no client")
	assert.Equal(t, want, RetryPolicy{MaxRetries: 3}.withDefaults(), "the 200ms / 5s defaults are one")
}

func TestDefaultTimeBudgetFitsHerokus30Seconds(t *testing.T) {
	c, err := NewClient()
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, c.attemptTimeout)
	assert.Equal(t, 25*time.Second, c.callTimeout)
	assert.Less(t, c.callTimeout, 30*time.Second)
	d := c.WithToken("x")
	assert.Equal(t, c.attemptTimeout, d.attemptTimeout, "derived clients keep the bounds")
	assert.Equal(t, c.callTimeout, d.callTimeout)
}

func TestCallerDeadlineWinsOverTheCallBudget(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithRetry(RetryPolicy{}))
	require.NoError(t, err)
	c.callTimeout = 10 * time.Millisecond // would end the call at once without a caller deadline
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetPipeline(ctx, plID)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// A lower bound only: the caller's 300ms, not the SDK's 10ms, applied.
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	assert.Equal(t, int32(1), n.Load())
}

func TestAttemptBoundHoldsUnderALongerCallerDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write(readFixture(t, "pipeline.json"))
	}))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithRetry(fastRetry), WithHTTPClient(&http.Client{}))
	require.NoError(t, err)
	c.attemptTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.GetPipeline(ctx, plID)
	require.NoError(t, err, "the silent first attempt was cut and the GET retried")
	assert.Equal(t, int32(2), n.Load())
}

func TestOneRuleForEmptyTokens(t *testing.T) {
	var calls atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, errors.New("not reached")
	})}
	base, err := NewClient(WithBaseURL(testBase), WithHTTPClient(hc))
	require.NoError(t, err)
	clients := map[string]func() (*Client, error){
		"option WithToken empty": func() (*Client, error) { return NewClient(WithBaseURL(testBase), WithHTTPClient(hc), WithToken("")) },
		"option WithToken blank": func() (*Client, error) { return NewClient(WithBaseURL(testBase), WithHTTPClient(hc), WithToken(" \t")) },
		"option WithTokenSource nil": func() (*Client, error) {
			return NewClient(WithBaseURL(testBase), WithHTTPClient(hc), WithTokenSource(nil))
		},
		"method WithToken empty":     func() (*Client, error) { return base.WithToken(""), nil },
		"method WithTokenSource nil": func() (*Client, error) { return base.WithTokenSource(nil), nil },
	}
	for name, mk := range clients {
		t.Run(name, func(t *testing.T) {
			c, err := mk()
			require.NoError(t, err, "building the client does not fail")
			_, err = c.GetAddon(context.Background(), addonID)
			assert.ErrorIs(t, err, ErrNoToken)
			assert.True(t, strings.HasPrefix(err.Error(), "herokupartner: GET /addons/"+addonID+": not sent"), err.Error())
		})
	}
	assert.Zero(t, calls.Load())
}

func TestTokensThatCannotTravelFailAtOnce(t *testing.T) {
	for name, tok := range map[string]string{
		"CR LF":     testToken + "\r\nX-Injected: 1",
		"NUL":       testToken + "\x00",
		"space":     "HRKU-two words",
		"non-ASCII": "HRKU-tökén",
		"DEL":       testToken + "\x7f",
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, errors.New("not reached")
			})}
			src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
			c, err := NewClient(WithBaseURL(testBase), WithHTTPClient(hc), WithTokenSource(src), WithRetry(fastRetry))
			require.NoError(t, err)
			_, err = c.GetAddon(context.Background(), addonID)
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrNoToken)
			assert.Contains(t, err.Error(), "not sent")
			assert.NotContains(t, err.Error(), "HRKU-", "the token is not shown")
			assert.Zero(t, calls.Load(), "nothing reached the transport, so nothing was retried")
		})
	}
}

func TestCompleteMalformedBodyIsNotRetriedButABrokenOneIs(t *testing.T) {
	body := readFixture(t, "pipeline.json")
	for name, tc := range map[string]struct {
		first func(w http.ResponseWriter)
		hits  int32
		ok    bool
	}{
		"malformed": {func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"id":"x","na`) }, 1, false},
		"cut":       {func(w http.ResponseWriter) { cutAfter(t, w, body, 10, false) }, 2, true},
		"reset":     {func(w http.ResponseWriter) { cutAfter(t, w, body, 10, true) }, 2, true},
	} {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					tc.first(w)
					return
				}
				_, _ = w.Write(body)
			}), nil)
			_, err := c.GetPipeline(context.Background(), plID)
			assert.Equal(t, tc.ok, err == nil, "error: %v", err)
			assert.Equal(t, tc.hits, n.Load())
		})
	}
	// A write whose answer broke is not resent: the server acted.
	var n atomic.Int32
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		cutAfter(t, w, readFixture(t, "addon.json"), 10, false)
	}), nil)
	_, err := c.MarkProvisioned(context.Background(), addonID)
	require.Error(t, err)
	assert.Equal(t, int32(1), n.Load())
}

func TestSilentLoggerRetryLineAllocatesNothing(t *testing.T) {
	c, err := NewClient()
	require.NoError(t, err)
	cl := &call{c: c, ctx: context.Background(), req: request{method: "GET", path: "/x"}, requestID: "r"}
	cause := &APIError{StatusCode: 503, Method: "GET", Path: "/x"}
	allocs := testing.AllocsPerRun(100, func() { cl.logRetry(1, time.Second, cause) })
	assert.Zero(t, allocs)

	var buf bytes.Buffer
	c.logger = slog.New(slog.NewTextHandler(&buf, nil))
	cl.logRetry(2, time.Second, cause)
	assert.Contains(t, buf.String(), "herokupartner retrying")
	assert.Contains(t, buf.String(), "attempt=2")
}
