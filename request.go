package herokupartner

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// request is one logical call: its attempts share the Request-Id.
type request struct {
	method string
	path   string
	body   []byte
}

// do sends the request, retrying as the policy allows, and decodes a 2xx
// answer into out (unless out is nil). Each attempt is bounded by
// c.attemptTimeout, from asking for the token to the end of the body; the
// whole call by the caller's deadline or, without one, by c.callTimeout.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return newCallError(method, path, "encoding request", err)
		}
		req.body = b
	}
	if c.tokens == nil {
		return newCallError(method, path, "not sent", ErrNoToken)
	}
	if ctx == nil {
		return newCallError(method, path, "nil context")
	}
	cl := call{c: c, ctx: ctx, req: req, out: out, requestID: newRequestID()}
	if dl, ok := ctx.Deadline(); ok {
		cl.deadline = dl
	} else {
		cl.deadline, cl.ownBudget = time.Now().Add(c.callTimeout), true
	}
	return cl.run()
}

// getJSON GETs path and decodes the answer into a new T: the shape of
// every lookup by id.
func getJSON[T any](ctx context.Context, c *Client, path string) (*T, error) {
	var v T
	if err := c.do(ctx, http.MethodGet, path, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// call is the state of one do.
type call struct {
	c         *Client
	ctx       context.Context
	req       request
	out       any
	requestID string
	// deadline is the caller's, or the SDK's own call budget (ownBudget).
	deadline  time.Time
	ownBudget bool
	refreshed bool // a 401 already forced one token refresh
	sent      int  // attempts that reached the transport
}

// outcome says what an attempt leaves the call to do.
type outcome int

const (
	finished  outcome = iota // return the attempt's error (nil: success)
	retryWait                // retry after the returned wait, if the policy allows
	retryNow                 // send again at once, without counting an attempt
)

func (cl *call) run() error {
	c, m, p := cl.c, cl.req.method, cl.req.path
	for attempt := 1; ; attempt++ {
		if err := cl.ctx.Err(); err != nil {
			return newCallError(m, p, "", err)
		}
		next, wait, err := cl.attempt(attempt)
		switch next {
		case finished:
			return err
		case retryNow:
			attempt--
			continue
		}
		if attempt > c.retry.MaxRetries || time.Until(cl.deadline) < wait {
			// Sleeping past the deadline could only end in
			// DeadlineExceeded; the last failure says more.
			return err
		}
		cl.logRetry(attempt, wait, err)
		t := time.NewTimer(wait)
		select {
		case <-cl.ctx.Done():
			t.Stop()
			return newCallError(m, p, "stopped while waiting to retry", cl.ctx.Err(), err)
		case <-t.C:
		}
	}
}

// logRetry logs a coming retry at info level. Checking first keeps the
// silent default free of allocations: err.Error() alone would allocate.
func (cl *call) logRetry(attempt int, wait time.Duration, err error) {
	if !cl.c.logger.Enabled(cl.ctx, slog.LevelInfo) {
		return
	}
	cl.c.logger.LogAttrs(cl.ctx, slog.LevelInfo, "herokupartner retrying",
		slog.String("method", cl.req.method), slog.String("path", cl.req.path), slog.Int("attempt", attempt),
		slog.Duration("wait", wait), slog.String("request_id", cl.requestID), slog.String("error", err.Error()))
}

// attempt sends the request once under its own deadline (the caller's,
// when that is nearer), which stays alive until the answer's body has been
// read.
func (cl *call) attempt(n int) (outcome, time.Duration, error) {
	c, m, p := cl.c, cl.req.method, cl.req.path
	ctx := cl.ctx
	if bound := minTime(time.Now().Add(c.attemptTimeout), cl.deadline); cl.ownBudget || bound.Before(cl.deadline) {
		// Without a caller deadline nearer than the bound, the attempt
		// needs a deadline of its own.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(cl.ctx, bound)
		defer cancel()
	}
	tok, err := c.token(ctx)
	if err != nil {
		return finished, 0, newCallError(m, p, "getting token", err)
	}
	if tok == nil || tok.AccessToken == "" {
		return finished, 0, newCallError(m, p, "not sent: the token source gave an empty token", ErrNoToken)
	}
	auth, ok := c.authorization(tok.AccessToken)
	if !ok {
		// net/http would refuse it locally on every attempt; the token
		// itself is not shown, since it is a secret however malformed.
		return finished, 0, newCallError(m, p, "not sent: the token holds a character an Authorization header cannot carry (control character, space or non-ASCII)")
	}
	cl.sent++
	resp, err := c.send(ctx, cl.req, cl.requestID, auth)
	if err != nil {
		return cl.sendFailed(ctx, n, err)
	}
	c.noteRateLimit(resp.Header)
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner request",
			slog.String("method", m), slog.String("path", p), slog.Int("attempt", n),
			slog.Int("status", resp.StatusCode), slog.String("request_id", resp.Header.Get("Request-Id")))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return cl.succeeded(resp)
	}
	return cl.refused(ctx, resp, tok.AccessToken)
}

// sendFailed classifies an attempt that got no answer.
func (cl *call) sendFailed(ctx context.Context, n int, err error) (outcome, time.Duration, error) {
	c, m, p := cl.c, cl.req.method, cl.req.path
	var re *RedirectError
	if errors.As(err, &re) {
		// Only the RedirectError is kept: the *url.Error around it holds
		// the Location, which may carry credentials or a query.
		return finished, 0, newCallError(m, p, "", re)
	}
	if cl.ctx.Err() != nil {
		return finished, 0, newCallError(m, p, "", cl.ctx.Err())
	}
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner request failed",
			slog.String("method", m), slog.String("path", p), slog.Int("attempt", n),
			slog.String("request_id", cl.requestID), slog.String("error", err.Error()))
	}
	if ue, ok := err.(*url.Error); ok {
		// Method and URL are already in our text.
		err = ue.Err
	}
	what := "attempt " + strconv.Itoa(n)
	if ctx.Err() != nil {
		err = context.DeadlineExceeded
		what += ": no complete answer within the attempt's time bound"
		if cl.ownBudget && !time.Now().Before(cl.deadline) {
			return finished, 0, newCallError(m, p, what+" (the SDK's "+c.callTimeout.String()+
				" call budget ran out; pass a context with a deadline to choose another)", err)
		}
	}
	lastErr := newCallError(m, p, what, err)
	if m != http.MethodGet {
		// The server may have acted before the connection broke.
		return finished, 0, lastErr
	}
	return retryWait, c.retry.backoff(n), lastErr
}

// succeeded decodes a 2xx answer; a body broken in transit is retried like
// a broken connection.
func (cl *call) succeeded(resp *http.Response) (outcome, time.Duration, error) {
	m, p := cl.req.method, cl.req.path
	if resp.Request != nil && resp.Request.Method != m {
		// A write turned into another method on the way was not done.
		closeBody(resp)
		return finished, 0, newCallError(m, p, "not done: the answer is to a "+resp.Request.Method)
	}
	broken, err := decodeBody(resp, cl.req, cl.out)
	if err == nil || !broken || m != http.MethodGet || cl.ctx.Err() != nil {
		return finished, 0, err
	}
	return retryWait, cl.c.retry.backoff(cl.sent), err
}

// refused turns a non-2xx answer into an APIError, forcing one token
// refresh on a first 401.
func (cl *call) refused(ctx context.Context, resp *http.Response, token string) (outcome, time.Duration, error) {
	m, p := cl.req.method, cl.req.path
	apiErr := readAPIError(resp, cl.req, cl.sent)
	if resp.StatusCode == http.StatusUnauthorized {
		if cl.refreshed {
			return finished, 0, newCallError(m, p,
				"the API refused the token even after a refresh (revoked, or the add-on was deprovisioned)", ErrGrantRevoked, apiErr)
		}
		if inv, ok := cl.c.tokens.(tokenInvalidator); ok {
			// A token can be revoked or expire early; one forced refresh
			// tells that apart from a dead grant.
			cl.refreshed = true
			if ierr := inv.InvalidateToken(ctx, token); ierr != nil {
				return finished, 0, newCallError(m, p, "the token was refused and refreshing it failed", apiErr, ierr)
			}
			return retryNow, 0, nil
		}
	}
	if !retryableStatus(resp.StatusCode) || m != http.MethodGet {
		return finished, 0, apiErr
	}
	return retryWait, cl.c.retry.waitFor(cl.sent, resp), apiErr
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// newRequestID returns a random version 4 UUID for the Request-Id header.
// It only correlates log lines and guards nothing, so the runtime's
// generator (seeded by the system) serves, sparing a system call per call.
func newRequestID() string {
	var id uuid.UUID
	binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id.String()
}

func (c *Client) send(ctx context.Context, r request, requestID, auth string) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.baseURL+r.path, body)
	if err != nil {
		return nil, err
	}
	// Filling the map directly, with one backing array for all values,
	// spares Header.Set's slice per header; the keys are canonical.
	vals := make([]string, 5)
	vals[0], vals[1], vals[2], vals[3] = acceptHeader, auth, c.userAgent, requestID
	h := req.Header
	h["Accept"], h["Authorization"], h["User-Agent"], h["Request-Id"] = vals[0:1:1], vals[1:2:2], vals[2:3:3], vals[3:4:4]
	if r.body != nil {
		vals[4] = "application/json"
		h["Content-Type"] = vals[4:5:5]
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
