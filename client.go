// Package herokupartner is a client for the Heroku Platform API as an add-on
// partner sees it: with the OAuth token Heroku grants for one provisioned
// add-on, look up the add-on, its app's pipeline coupling and the pipeline.
package herokupartner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the Platform API's address.
const DefaultBaseURL = "https://api.heroku.com"

const (
	acceptHeader = "application/vnd.heroku+json; version=3"
	// maxSuccessBody bounds what a success answer may make us read: the
	// largest of our answers is a few KiB, so anything near this is wrong.
	maxSuccessBody = 4 << 20
	// maxErrorBody bounds what an error answer may make us read.
	maxErrorBody = 1 << 20
	// maxDrain is how much of an unread body we read to let the connection
	// be reused; beyond it, closing the connection is cheaper.
	maxDrain = 64 << 10
	// excerptLen bounds the body excerpt kept in an APIError.
	excerptLen = 256
	// defaultAttemptTimeout bounds one attempt when the caller's context has
	// no deadline, so that a silent server cannot hang a provisioning handler.
	defaultAttemptTimeout = 15 * time.Second
)

// Client calls the Platform API. A Client is safe for concurrent use; copies
// made with WithToken or WithTokenSource share its transport and settings.
type Client struct {
	baseURL    string // scheme://host[/path], no trailing slash
	httpClient *http.Client
	userAgent  string
	tokens     oauth2.TokenSource
	retry      RetryPolicy
	logger     *slog.Logger
	rate       *rateState
}

type rateState struct {
	remaining atomic.Int64 // -1 until a header has been seen
}

func newRateState() *rateState {
	r := &rateState{}
	r.remaining.Store(-1)
	return r
}

// defaultTransport keeps enough idle connections per host for a batch's
// concurrent lookups; net/http's default of two would make most of them
// open a new TLS connection.
var defaultTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}()

// Option configures a Client built by NewClient.
type Option func(*Client) error

// NewClient returns a Client for the Platform API. Without options it talks
// to DefaultBaseURL, retries with DefaultRetryPolicy, logs nothing and has no
// token: derive one per resource with WithToken or WithTokenSource.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		baseURL:    DefaultBaseURL,
		httpClient: &http.Client{Timeout: defaultAttemptTimeout, Transport: defaultTransport},
		userAgent:  "herokupartner-go/" + Version,
		retry:      DefaultRetryPolicy,
		logger:     slog.New(slog.DiscardHandler),
		rate:       newRateState(),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithToken sets a static OAuth access token for every request.
func WithToken(token string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(token) == "" {
			return errors.New("herokupartner: WithToken: empty token")
		}
		c.tokens = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
		return nil
	}
}

// WithTokenSource takes access tokens from ts, asking it before every
// attempt so that a refreshing source is honoured.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) error {
		if ts == nil {
			return errors.New("herokupartner: WithTokenSource: nil token source")
		}
		c.tokens = ts
		return nil
	}
}

// WithBaseURL points the client at another address: a fake Platform API in
// tests, or a proxy. It must be https, or http on a loopback host.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("herokupartner: WithBaseURL: %w", err)
		}
		if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("herokupartner: WithBaseURL: %q: want scheme://host[/path] without credentials, query or fragment", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !isLoopback(u.Hostname()) {
				return fmt.Errorf("herokupartner: WithBaseURL: %q: plain http is allowed only on a loopback host, since the token would travel in clear", raw)
			}
		default:
			return fmt.Errorf("herokupartner: WithBaseURL: %q: scheme must be https", raw)
		}
		c.baseURL = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
		return nil
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithHTTPClient makes requests through a copy of hc; hc itself is never
// changed. Its Timeout, if any, bounds each attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("herokupartner: WithHTTPClient: nil client")
		}
		cp := *hc
		c.httpClient = &cp
		return nil
	}
}

// WithUserAgent appends product to the SDK's own User-Agent, so Heroku can
// tell which add-on is calling.
func WithUserAgent(product string) Option {
	return func(c *Client) error {
		product = strings.TrimSpace(product)
		if product == "" || strings.ContainsAny(product, "\r\n") {
			return errors.New("herokupartner: WithUserAgent: empty or multi-line user agent")
		}
		c.userAgent = "herokupartner-go/" + Version + " " + product
		return nil
	}
}

// WithRetry sets how failed requests are retried.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p.withDefaults()
		return nil
	}
}

// WithLogger logs each attempt at debug level and each retry at info level
// to l. Tokens are never logged. The default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("herokupartner: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithToken returns a copy of c that sends token; it shares c's transport
// and settings, so deriving one client per add-on resource is cheap. With an
// empty token the copy has none, and its requests fail with ErrNoToken.
func (c *Client) WithToken(token string) *Client {
	if strings.TrimSpace(token) == "" {
		return c.WithTokenSource(nil)
	}
	return c.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
}

// WithTokenSource returns a copy of c that takes its tokens from ts; it
// shares c's transport and settings. With a nil ts the copy has no token.
func (c *Client) WithTokenSource(ts oauth2.TokenSource) *Client {
	cp := *c
	cp.tokens = ts
	// Each token may draw on a different rate-limit bucket, so a derived
	// client reports what its own answers said.
	cp.rate = newRateState()
	return &cp
}

// BaseURL returns the address the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL }

// RateLimitRemaining returns the RateLimit-Remaining header of the latest
// answer this client received, and false until one carried it.
func (c *Client) RateLimitRemaining() (int, bool) {
	v := c.rate.remaining.Load()
	return int(v), v >= 0
}

// parseID validates an id argument and returns its canonical form, so that
// no caller string ever reaches a URL path.
func parseID(param, s string) (string, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		// The value is not echoed: a caller who swapped arguments could
		// otherwise put a token into an error message.
		return "", fmt.Errorf("%w: %s is not a UUID (%d characters)", ErrInvalidID, param, len(s))
	}
	return id.String(), nil
}

// contextTokenSource is implemented by token sources that can honour the
// request's context while fetching or refreshing a token.
type contextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	if cts, ok := c.tokens.(contextTokenSource); ok {
		return cts.TokenContext(ctx)
	}
	return c.tokens.Token()
}

// tokenInvalidator is implemented by token sources that can throw away an
// access token the API rejected and fetch a fresh one.
type tokenInvalidator interface {
	InvalidateToken(ctx context.Context, rejected string) error
}

// request is one logical call: its attempts share the Request-Id.
type request struct {
	method string
	path   string
	body   []byte
}

// do sends the request, retrying as the policy allows, and decodes a 2xx
// answer into out (unless out is nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("herokupartner: %s %s: encoding request: %w", method, path, err)
		}
		req.body = b
	}
	if c.tokens == nil {
		return fmt.Errorf("%w: %s %s not sent", ErrNoToken, method, path)
	}
	if ctx == nil {
		return fmt.Errorf("herokupartner: %s %s: nil context", method, path)
	}
	requestID := uuid.NewString()
	refreshed := false
	sent := 0
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("herokupartner: %s %s: %w", method, path, err)
		}
		tok, err := c.token(ctx)
		if err != nil {
			return fmt.Errorf("herokupartner: %s %s: getting token: %w", method, path, err)
		}
		if tok == nil || tok.AccessToken == "" {
			return fmt.Errorf("%w: %s %s not sent: token source gave an empty token", ErrNoToken, method, path)
		}
		sent++
		resp, err := c.send(ctx, req, requestID, tok.AccessToken)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("herokupartner: %s %s: %w", method, path, ctx.Err())
			}
			lastErr = fmt.Errorf("herokupartner: %s %s: attempt %d: %w", method, path, attempt, err)
			if req.method != http.MethodGet {
				// The server may have acted before the connection broke.
				return lastErr
			}
			wait = c.retry.backoff(attempt)
			if c.logger.Enabled(ctx, slog.LevelDebug) {
				c.logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner request failed",
					slog.String("method", method), slog.String("path", path), slog.Int("attempt", attempt),
					slog.String("request_id", requestID), slog.String("error", err.Error()))
			}
		} else {
			c.noteRateLimit(resp.Header)
			// Checking first keeps the silent default free of allocations.
			if c.logger.Enabled(ctx, slog.LevelDebug) {
				c.logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner request",
					slog.String("method", method), slog.String("path", path), slog.Int("attempt", attempt),
					slog.Int("status", resp.StatusCode), slog.String("request_id", resp.Header.Get("Request-Id")))
			}
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return decodeBody(resp, req, out)
			}
			apiErr := readAPIError(resp, req, sent)
			if resp.StatusCode == http.StatusUnauthorized && !refreshed {
				if inv, ok := c.tokens.(tokenInvalidator); ok {
					// A token can be revoked or expire early; one forced
					// refresh tells that apart from a dead grant.
					refreshed = true
					if ierr := inv.InvalidateToken(ctx, tok.AccessToken); ierr != nil {
						return fmt.Errorf("%w (refreshing the token failed: %w)", apiErr, ierr)
					}
					attempt--
					continue
				}
			}
			if resp.StatusCode == http.StatusUnauthorized && refreshed {
				return fmt.Errorf("%w: the API refused the token even after a refresh (revoked, or the add-on was deprovisioned): %w", ErrGrantRevoked, apiErr)
			}
			if !retryableStatus(resp.StatusCode) || req.method != http.MethodGet {
				return apiErr
			}
			lastErr = apiErr
			wait = c.retry.waitFor(attempt, resp)
		}
		if attempt > c.retry.MaxRetries {
			return lastErr
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Sleeping past the deadline could only end in
			// DeadlineExceeded; the last answer says more.
			return lastErr
		}
		c.logger.LogAttrs(ctx, slog.LevelInfo, "herokupartner retrying",
			slog.String("method", method), slog.String("path", path), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.String("request_id", requestID), slog.String("error", lastErr.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("herokupartner: %s %s: %w (while waiting to retry: %v)", method, path, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

func (c *Client) send(ctx context.Context, r request, requestID, token string) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.baseURL+r.path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Request-Id", requestID)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.httpClient.Do(req)
}

func (c *Client) noteRateLimit(h http.Header) {
	// Indexing by the canonical key skips the per-call canonicalisation
	// that Get would do for this mixed-case name.
	vs := h["Ratelimit-Remaining"]
	if len(vs) == 0 {
		return
	}
	v := vs[0]
	if v == "" {
		return
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
		c.rate.remaining.Store(n)
	}
}

// closeBody drains a little of what is left so the connection can be
// reused, then closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
}

func decodeBody(resp *http.Response, r request, out any) error {
	if out == nil {
		closeBody(resp)
		return nil
	}
	lr := &io.LimitedReader{R: resp.Body, N: maxSuccessBody + 1}
	defer func() {
		// Reusing lr to drain saves an allocation on every call.
		lr.N = maxDrain
		_, _ = io.Copy(io.Discard, lr)
		_ = resp.Body.Close()
	}()
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N <= 0 {
			err = fmt.Errorf("body larger than %d bytes", maxSuccessBody)
		}
		return fmt.Errorf("herokupartner: %s %s: decoding %d answer [request id %s]: %w",
			r.method, r.path, resp.StatusCode, resp.Header.Get("Request-Id"), err)
	}
	return nil
}

func readAPIError(resp *http.Response, r request, attempts int) *APIError {
	defer closeBody(resp)
	e := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("Request-Id"),
		Method:     r.method,
		Path:       r.path,
		Attempts:   attempts,
		Header:     resp.Header,
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
	}
	if err := json.Unmarshal(raw, &body); err == nil && (body.ID != "" || body.Message != "") {
		e.ID, e.Message, e.URL = body.ID, body.Message, body.URL
		return e
	}
	e.Body = excerpt(raw)
	return e
}

// excerpt keeps the start of a body as printable text.
func excerpt(raw []byte) string {
	s := strings.ToValidUTF8(string(raw[:min(len(raw), excerptLen)]), "")
	s = strings.Join(strings.Fields(s), " ")
	if len(raw) > excerptLen {
		s += "…"
	}
	return s
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RetryPolicy says how a failed GET is retried: on 429, 500, 502, 503 and
// 504 answers and on connection errors, with exponential backoff and full
// jitter. Other 4xx answers are never retried.
type RetryPolicy struct {
	// MaxRetries is how many times a request is sent again after its first
	// attempt; 0 disables retries.
	MaxRetries int
	// BaseDelay is the first backoff; each retry doubles it. 0 means 200ms.
	BaseDelay time.Duration
	// MaxDelay caps any single wait, a Retry-After header's included.
	// 0 means 5s.
	MaxDelay time.Duration
}

// DefaultRetryPolicy suits a provisioning handler: a few quick retries that
// fit well inside Heroku's 30 second budget.
var DefaultRetryPolicy = RetryPolicy{MaxRetries: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}

// rateLimitRefill is how long Heroku's bucket takes to give back one
// request: about 75 a minute.
const rateLimitRefill = 800 * time.Millisecond

func (p RetryPolicy) validate() error {
	if p.MaxRetries < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
		return fmt.Errorf("herokupartner: WithRetry: negative value in %+v", p)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.BaseDelay == 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 5 * time.Second
	}
	return p
}

// backoff returns a random wait in [d/2, d] where d doubles per attempt.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// waitFor picks the wait before retrying after resp: Retry-After when the
// server sent one, else backoff, and at least one bucket refill on a 429.
func (p RetryPolicy) waitFor(attempt int, resp *http.Response) time.Duration {
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return min(ra, p.MaxDelay)
	}
	d := p.backoff(attempt)
	if resp.StatusCode == http.StatusTooManyRequests {
		d = max(d, min(rateLimitRefill, p.MaxDelay))
	}
	return d
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
