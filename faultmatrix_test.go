package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fault matrix: one row per request-path fault of issue 9 (redirects
// 1, writes 2, time 6, retries 7) and per fault fixed before it. Each row
// states what the user sees (the error, its text, which must hold no secret
// and start with one "herokupartner: METHOD PATH: ") and what reached the
// wire (requests at the API, anything at another host).

// secretInURL stands for credentials a hostile Location may carry; it must
// never reach an error text.
const secretInURL = "LOCATION-SECRET-42"

// faultEnv is one row's world: the API under test and another origin that
// records whatever reaches it.
type faultEnv struct {
	api, other *httptest.Server
	apiHits    atomic.Int32
	otherHits  atomic.Int32
	// transportCalls counts round trips the client's http.Client began,
	// including those net/http refused locally.
	transportCalls atomic.Int32

	mu          sync.Mutex
	otherAuth   []string
	otherBodies []string
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type faultRow struct {
	name string
	// tls serves the API over https (the other origin stays plain http).
	tls bool
	// api answers the API's requests; n counts from 1.
	api func(env *faultEnv, n int, w http.ResponseWriter, r *http.Request)
	// client adjusts the client after the common options.
	client func(env *faultEnv, c *Client) *Client
	// hc replaces the API server's own http.Client.
	hc   func(env *faultEnv) *http.Client
	ctx  func() (context.Context, context.CancelFunc)
	call func(ctx context.Context, c *Client) error
	// see checks the error; wire checks what the servers received.
	see  func(t *testing.T, env *faultEnv, err error)
	wire func(t *testing.T, env *faultEnv)
	// guard explains a row whose behaviour was already right before issue
	// 9: it pins a classification the new retry rules could have broken.
	guard string
}

func getAddon(ctx context.Context, c *Client) error {
	_, err := c.GetAddon(ctx, addonID)
	return err
}

func patchConfig(ctx context.Context, c *Client) error {
	v := "postgres://user:DBPASSWORD@db.example.com/x"
	_, err := c.UpdateAddonConfig(ctx, addonID, []ConfigVar{{Name: "DATABASE_URL", Value: &v}})
	return err
}

func markProvisioned(ctx context.Context, c *Client) error {
	_, err := c.MarkProvisioned(ctx, addonID)
	return err
}

func redirectTo(status int, target string) func(*faultEnv, int, http.ResponseWriter, *http.Request) {
	return func(env *faultEnv, _ int, w http.ResponseWriter, r *http.Request) {
		loc := target
		if loc == "" {
			loc = env.other.URL
		}
		u := strings.Replace(loc, "://", "://user:"+secretInURL+"@", 1) + r.URL.Path + "?sig=" + secretInURL
		http.Redirect(w, r, u, status)
	}
}

func serveAddon(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// cutAfter sends headers promising the whole body, then part of it, then
// drops the connection; reset makes the drop an RST.
func cutAfter(t *testing.T, w http.ResponseWriter, body []byte, n int, reset bool) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(200)
	_, _ = w.Write(body[:n])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if !assert.NoError(t, err) {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// silent reads the request and never answers. Reading the body first lets
// the server notice the client hanging up, which ends r.Context().
func silent(_ *faultEnv, _ int, _ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func hits(api, other int32) func(*testing.T, *faultEnv) {
	return func(t *testing.T, env *faultEnv) {
		assert.Equal(t, api, env.apiHits.Load(), "requests at the API")
		assert.Equal(t, other, env.otherHits.Load(), "requests at another origin")
	}
}

func refusedRedirect(status int) func(*testing.T, *faultEnv, error) {
	return func(t *testing.T, env *faultEnv, err error) {
		var re *RedirectError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, status, re.StatusCode)
		assert.NotContains(t, err.Error(), "user:", "the Location's user info")
	}
}

// budgets shortens the SDK's time bounds so time faults run in ~200ms.
func budgets(attempt, whole time.Duration) func(*faultEnv, *Client) *Client {
	return func(_ *faultEnv, c *Client) *Client {
		c.attemptTimeout, c.callTimeout = attempt, whole
		return c
	}
}

// tightBudget leaves no room for any retry wait: each is half a second or
// more, and the call has 300ms.
func tightBudget(env *faultEnv, c *Client) *Client {
	c.retry.BaseDelay, c.retry.MaxDelay = time.Second, time.Second
	return budgets(5*time.Second, 300*time.Millisecond)(env, c)
}

func faultRows(t *testing.T) []faultRow {
	addon := readFixture(t, "addon.json")
	rows := []faultRow{
		{
			name: "9.1 GET redirected to another origin",
			api:  redirectTo(http.StatusFound, ""),
			call: getAddon, see: refusedRedirect(302), wire: hits(1, 0),
		},
		{
			name: "9.1 https GET redirected to plain http on the same host",
			tls:  true,
			api:  redirectTo(http.StatusFound, ""),
			call: getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				refusedRedirect(302)(t, env, err)
				assert.Contains(t, err.Error(), "downgrade")
			},
			wire: hits(1, 0),
		},
		{
			name: "9.1 a chain of 10 same-origin redirects",
			api: func(env *faultEnv, n int, w http.ResponseWriter, r *http.Request) {
				if n <= 10 {
					http.Redirect(w, r, "/addons/"+addonID+"?hop="+strconv.Itoa(n), http.StatusFound)
					return
				}
				serveAddon(w, addon)
			},
			call: getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				refusedRedirect(302)(t, env, err)
				assert.Contains(t, err.Error(), "more than 5 redirects")
			},
			wire: hits(1+maxRedirects, 0),
		},
		{
			name: "9.1 PATCH config answered 307 to another host",
			api:  redirectTo(http.StatusTemporaryRedirect, ""),
			call: patchConfig, see: refusedRedirect(307), wire: hits(1, 0),
		},
		{
			name: "9.2 POST provision answered 307 to another host",
			api:  redirectTo(http.StatusTemporaryRedirect, ""),
			call: markProvisioned, see: refusedRedirect(307), wire: hits(1, 0),
		},
		{
			name: "9.2 a 2xx to a write whose method was changed on the way",
			hc: func(env *faultEnv) *http.Client {
				return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					env.transportCalls.Add(1)
					get := r.Clone(r.Context())
					get.Method = http.MethodGet
					return &http.Response{StatusCode: 200, Header: http.Header{}, Request: get,
						Body: io.NopCloser(strings.NewReader(`[]`))}, nil
				})}
			},
			call: patchConfig,
			see: func(t *testing.T, env *faultEnv, err error) {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "not done")
			},
			wire: func(t *testing.T, env *faultEnv) { assert.Equal(t, int32(1), env.transportCalls.Load()) },
		},
		{
			name:   "9.6 silent server, GET: every attempt and the whole call bounded",
			api:    silent,
			client: budgets(100*time.Millisecond, 250*time.Millisecond),
			call:   getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), "call budget ran out")
			},
			wire: func(t *testing.T, env *faultEnv) {
				assert.GreaterOrEqual(t, env.apiHits.Load(), int32(2), "a timed-out GET is retried")
			},
		},
		{
			name:   "9.6 silent server, POST: one bounded attempt, never resent",
			api:    silent,
			client: budgets(150*time.Millisecond, time.Hour),
			call:   markProvisioned,
			see: func(t *testing.T, env *faultEnv, err error) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			},
			wire: hits(1, 0),
		},
		{
			name: "9.6 1 byte/s body through an http.Client without Timeout",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(addon)))
				for i := 0; i < len(addon); i++ {
					_, _ = w.Write(addon[i : i+1])
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(time.Second):
					}
				}
			},
			hc:     func(*faultEnv) *http.Client { return &http.Client{} },
			client: budgets(200*time.Millisecond, 200*time.Millisecond),
			call:   getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			},
			wire: hits(1, 0),
		},
		{
			name:   "9.7 a token with CR/LF fails at once, never retried",
			client: func(_ *faultEnv, c *Client) *Client { return c.WithToken(testToken + "\r\nX-Injected: 1") },
			hc: func(env *faultEnv) *http.Client {
				base := env.api.Client()
				return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					env.transportCalls.Add(1)
					return base.Transport.RoundTrip(r)
				})}
			},
			call: getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "not sent")
			},
			wire: func(t *testing.T, env *faultEnv) {
				assert.Zero(t, env.transportCalls.Load(), "the request never reached the transport")
				hits(0, 0)(t, env)
			},
		},
		{
			name: "9.7 and truncation: a GET's 200 body cut mid-way is retried",
			api: func(_ *faultEnv, n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					cutAfter(t, w, addon, len(addon)/2, false)
					return
				}
				serveAddon(w, addon)
			},
			call: getAddon,
			see:  func(t *testing.T, _ *faultEnv, err error) { assert.NoError(t, err) },
			wire: hits(2, 0),
		},
		{
			name: "9.7 and resets: a GET's 200 body reset mid-way is retried",
			api: func(_ *faultEnv, n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					cutAfter(t, w, addon, 100, true)
					return
				}
				serveAddon(w, addon)
			},
			call: getAddon,
			see:  func(t *testing.T, _ *faultEnv, err error) { assert.NoError(t, err) },
			wire: hits(2, 0),
		},
		{
			name: "resets on every attempt: the error names no address, the budget holds",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			},
			client: tightBudget,
			call:   getAddon,
			see: func(t *testing.T, env *faultEnv, err error) {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), strings.TrimPrefix(env.api.URL, "http://"), "the server's address")
				assert.Contains(t, err.Error(), "attempt 1")
			},
			wire: hits(1, 0),
		},
		{
			name: "429 with a Retry-After the call budget cannot fit",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(429)
				_, _ = io.WriteString(w, `{"id":"rate_limit","message":"Your account reached the API rate limit"}`)
			},
			client: tightBudget, call: getAddon,
			see:  func(t *testing.T, _ *faultEnv, err error) { assert.ErrorIs(t, err, ErrRateLimited) },
			wire: hits(1, 0),
		},
		{
			name: "429 without Retry-After: a bucket refill does not fit the budget",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(429)
				_, _ = io.WriteString(w, `{"id":"rate_limit","message":"Your account reached the API rate limit"}`)
			},
			client: tightBudget, call: getAddon,
			see:  func(t *testing.T, _ *faultEnv, err error) { assert.ErrorIs(t, err, ErrRateLimited) },
			wire: hits(1, 0),
		},
		{
			name: "5xx HTML page while the budget has no room for a backoff",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				_, _ = io.WriteString(w, "<html><title>502 Bad Gateway</title></html>")
			},
			client: tightBudget,
			call:   getAddon,
			see: func(t *testing.T, _ *faultEnv, err error) {
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, 502, apiErr.StatusCode)
				assert.Contains(t, apiErr.Body, "502 Bad Gateway")
			},
			wire: hits(1, 0),
		},
		{
			name: "401, refresh, 401 again: revoked grant, one prefix",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(401)
				_, _ = io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
			},
			client: func(_ *faultEnv, c *Client) *Client {
				return c.WithTokenSource(&refreshingSource{current: testToken, next: []string{testToken + "-2"}})
			},
			call: getAddon,
			see: func(t *testing.T, _ *faultEnv, err error) {
				assert.ErrorIs(t, err, ErrUnauthorized)
				assert.ErrorIs(t, err, ErrGrantRevoked)
			},
			wire: hits(2, 0),
		},
		{
			name: "a complete but invalid JSON 200 body is not retried",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, `{"id":"01234567-89ab-cdef-0123-456789abcdef","na`)
			},
			call: getAddon,
			see: func(t *testing.T, _ *faultEnv, err error) {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "decoding 200 answer")
				assert.NotContains(t, err.Error(), "[request id ]")
			},
			wire: hits(1, 0),
		},
		{
			name: "an HTML 200 body is not retried",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "<html>maintenance</html>")
			},
			call:  getAddon,
			see:   func(t *testing.T, _ *faultEnv, err error) { assert.ErrorContains(t, err, "decoding 200 answer") },
			wire:  hits(1, 0),
			guard: "never retried before either; pins that a malformed body is not taken for a broken connection",
		},
		{
			name: "a huge 200 body is cut at the limit, not retried",
			api: func(_ *faultEnv, _ int, w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, `{"name":"`)
				chunk := strings.Repeat("x", 64<<10)
				for range maxSuccessBody/len(chunk) + 2 {
					if _, err := io.WriteString(w, chunk); err != nil {
						return
					}
				}
			},
			call:  getAddon,
			see:   func(t *testing.T, _ *faultEnv, err error) { assert.ErrorContains(t, err, "larger than") },
			wire:  hits(1, 0),
			guard: "the size limit now lives in bodyReader; pins that hitting it is not a broken body",
		},
		{
			name: "an invalid id (a pasted token) sends nothing",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetAddon(ctx, testToken)
				return err
			},
			see:   func(t *testing.T, _ *faultEnv, err error) { assert.ErrorIs(t, err, ErrInvalidID) },
			wire:  hits(0, 0),
			guard: "unchanged; kept so the matrix lists every fault",
		},
	}
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, where := range []string{"same origin", "another host"} {
			row := faultRow{
				name: fmt.Sprintf("9.2 PATCH config answered %d to %s", status, where),
				call: patchConfig, see: refusedRedirect(status), wire: hits(1, 0),
			}
			if where == "same origin" {
				// The GET or PATCH a redirect would send here succeeds, so
				// following it would report a write that never happened.
				row.api = func(env *faultEnv, n int, w http.ResponseWriter, r *http.Request) {
					if n == 1 {
						redirectTo(status, env.api.URL)(env, n, w, r)
						return
					}
					_, _ = io.WriteString(w, `[]`)
				}
			} else {
				row.api = redirectTo(status, "")
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func TestFaultMatrix(t *testing.T) {
	for _, row := range faultRows(t) {
		t.Run(row.name, func(t *testing.T) { runFaultRow(t, row) })
	}
}

func newFaultEnv(t *testing.T, row faultRow) *faultEnv {
	env := &faultEnv{}
	env.other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.otherHits.Add(1)
		b, _ := io.ReadAll(r.Body)
		env.mu.Lock()
		env.otherAuth = append(env.otherAuth, r.Header.Get("Authorization"))
		env.otherBodies = append(env.otherBodies, string(b))
		env.mu.Unlock()
		// Answer what a follower would take for success.
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(env.other.Close)
	apiHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(env.apiHits.Add(1))
		if row.api == nil {
			w.WriteHeader(500)
			return
		}
		row.api(env, n, w, r)
	})
	if row.tls {
		env.api = httptest.NewTLSServer(apiHandler)
	} else {
		env.api = httptest.NewServer(apiHandler)
	}
	t.Cleanup(env.api.Close)
	return env
}

func runFaultRow(t *testing.T, row faultRow) {
	env := newFaultEnv(t, row)
	hc := env.api.Client()
	if row.hc != nil {
		hc = row.hc(env)
	}
	c, err := NewClient(WithBaseURL(env.api.URL), WithToken(testToken), WithHTTPClient(hc), WithRetry(fastRetry))
	require.NoError(t, err)
	if row.client != nil {
		c = row.client(env, c)
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if row.ctx != nil {
		ctx, cancel = row.ctx()
	}
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- row.call(ctx, c) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		// Generous: only an unbounded call gets here.
		t.Fatal("the call did not end")
	}
	if row.see != nil {
		row.see(t, env, err)
	}
	if err != nil {
		checkErrorText(t, err)
	}
	if row.wire != nil {
		row.wire(t, env)
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	for _, a := range env.otherAuth {
		assert.Empty(t, a, "Authorization reached another origin")
	}
	for _, b := range env.otherBodies {
		assert.Empty(t, b, "a request body reached another origin")
	}
}

// checkErrorText asserts the error text holds no secret and starts with
// exactly one "herokupartner: " followed by the method and path (an
// invalid id fails before there is a request).
func checkErrorText(t *testing.T, err error) {
	t.Helper()
	s := err.Error()
	assertNoToken(t, s)
	for _, secret := range []string{secretInURL, "DBPASSWORD", "\r", "\n"} {
		assert.NotContains(t, s, secret)
	}
	assert.Equal(t, 1, strings.Count(s, errPrefix), "one prefix in %q", s)
	if errors.Is(err, ErrInvalidID) {
		return
	}
	rest, ok := strings.CutPrefix(s, errPrefix)
	require.True(t, ok, "prefix at the start of %q", s)
	method, path, _ := strings.Cut(rest, " ")
	assert.Contains(t, []string{"GET", "PATCH", "POST"}, method, "method after the prefix in %q", s)
	assert.True(t, strings.HasPrefix(path, "/addons/"+addonID), "path after the method in %q", s)
}
