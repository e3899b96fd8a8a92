package herokupartner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

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
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return newAPIError(r.method, r.path, attempts, resp.StatusCode, resp.Header, raw)
}

// newAPIError builds the error for a non-2xx answer from its status, header
// and (bounded) body: Heroku's {"id","message","url"} when the body is
// that, else an excerpt. It is the one decoding of Heroku's error bodies,
// for the API and the token endpoint alike; secrets lists values to scrub
// from whatever of the body the error keeps.
func newAPIError(method, path string, attempts, status int, header http.Header, raw []byte, secrets ...string) *APIError {
	e := &APIError{
		StatusCode: status,
		RequestID:  header.Get("Request-Id"),
		Method:     method,
		Path:       path,
		Attempts:   attempts,
		Header:     header,
	}
	var body struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
	}
	if err := json.Unmarshal(raw, &body); err == nil && (body.ID != "" || body.Message != "") {
		e.ID, e.Message, e.URL = scrub(body.ID, secrets...), scrub(body.Message, secrets...), scrub(body.URL, secrets...)
		return e
	}
	// Scrubbing before cutting the excerpt, so a secret cut in half cannot
	// slip through.
	e.Body = excerpt([]byte(scrub(string(raw), secrets...)))
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
