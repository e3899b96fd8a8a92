package herokupartnertest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// syncRetryWindow is how long Heroku retries a sync delivery: 72 hours
// from the event's creation.
const syncRetryWindow = 72 * time.Hour

// WebhookRetry says how the server delivers webhook events. Zero fields
// take the defaults, which keep retry tests fast.
type WebhookRetry struct {
	// Attempts bounds the attempts at one sync delivery, the first
	// included; default 5. Heroku retries for up to 72 hours, and so
	// does the fake by its own clock (see WithClock), whichever ends
	// first. A notify delivery gets one attempt whatever this says.
	Attempts int
	// Backoff is the wait before the first retry, doubled before each
	// next one; default 10ms.
	Backoff time.Duration
	// MaxBackoff caps the wait; default 1s (or Backoff, if longer).
	MaxBackoff time.Duration
	// Timeout bounds one attempt, from connecting to the end of the
	// answer's headers; default 5s.
	Timeout time.Duration
}

// WithWebhookRetry sets how webhook deliveries are attempted and retried.
func WithWebhookRetry(r WebhookRetry) Option {
	return func(c *config) { c.webhookRetry = r }
}

func (r WebhookRetry) withDefaults() WebhookRetry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 10 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = max(time.Second, r.Backoff)
	}
	r.MaxBackoff = max(r.MaxBackoff, r.Backoff)
	if r.Timeout <= 0 {
		r.Timeout = 5 * time.Second
	}
	return r
}

// delivery is one event on its way to one subscription.
type delivery struct {
	id       uuid.UUID
	hook     *webhook
	ev       *event
	level    string
	status   string
	attempts []attemptRecord
	next     *time.Time
	created  time.Time
	updated  time.Time
}

type attemptRecord struct {
	id               uuid.UUID
	code             int
	errClass         string
	created, updated time.Time
}

// webhookState is the server's webhook side: subscriptions, the events
// and deliveries it made, and the delivery goroutines. Its zero value is
// ready; s.mu guards it, except wg.
type webhookState struct {
	byID       map[uuid.UUID]*webhook
	seq        int
	deliveries []*delivery
	events     map[uuid.UUID][]*event // by the add-on whose subscriptions got them
	apps       map[uuid.UUID]*appMeta
	attach     map[uuid.UUID]uuid.UUID // attachment id by add-on id
	regionID   uuid.UUID
	stackID    uuid.UUID
	pending    int
	idle       chan struct{} // closed when pending drops to zero
	closed     bool
	wg         sync.WaitGroup
	client     *http.Client
	stop       context.Context
	cancel     context.CancelFunc
}

func (w *webhookState) init() {
	if w.byID != nil {
		return
	}
	w.byID = map[uuid.UUID]*webhook{}
	w.events = map[uuid.UUID][]*event{}
	w.apps = map[uuid.UUID]*appMeta{}
	w.attach = map[uuid.UUID]uuid.UUID{}
	w.regionID, w.stackID = uuid.New(), uuid.New()
	w.stop, w.cancel = context.WithCancel(context.Background())
	w.client = deliveryClient()
}

// deliveryClient sends deliveries, to loopback addresses only: the check
// runs on the address actually dialled, after name resolution, so no name
// can point a delivery at the network.
func deliveryClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return errors.New("herokupartnertest: deliveries go to loopback addresses only")
		}
		return nil
	}}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // never through a proxy from the environment
			DialContext: dialer.DialContext,
			// The receiver is a test server on this machine
			// (httptest.NewTLSServer): its certificate is the test's own,
			// and the dialer above allows no other peer.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback only, see above
			DisableKeepAlives: true,
		},
		// Heroku's redirect handling is undocumented; a 3xx counts as a
		// failed attempt rather than sending the signed body elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// enqueue queues an event for one subscription; the caller holds s.mu.
func (s *Server) enqueue(h *webhook, ev *event) {
	if s.hooks.closed {
		return
	}
	now := s.now()
	d := &delivery{id: uuid.New(), hook: h, ev: ev, level: h.level, status: "pending", created: now, updated: now}
	s.hooks.deliveries = append(s.hooks.deliveries, d)
	if s.hooks.pending == 0 {
		s.hooks.idle = make(chan struct{})
	}
	s.hooks.pending++
	h.queue = append(h.queue, d)
	if !h.running {
		h.running = true
		s.hooks.wg.Add(1)
		go s.drain(h)
	}
}

// drain delivers a subscription's queue in order, one delivery at a time,
// so that a failing sync delivery holds back the later events, as Heroku
// documented for its subscriptions.
func (s *Server) drain(h *webhook) {
	defer s.hooks.wg.Done()
	for {
		s.mu.Lock()
		if len(h.queue) == 0 {
			h.running = false
			s.mu.Unlock()
			return
		}
		d := h.queue[0]
		h.queue = h.queue[1:]
		s.mu.Unlock()
		s.deliver(d)
	}
}

// deliver makes the attempts at d and settles it.
func (s *Server) deliver(d *delivery) {
	retry := s.cfg.webhookRetry.withDefaults()
	defer s.settle(d)
	for n := 1; ; n++ {
		s.mu.Lock()
		if d.hook.deleted || s.hooks.closed {
			d.status = "skipped"
			s.mu.Unlock()
			return
		}
		at := attemptRecord{id: uuid.New(), created: s.now()}
		body := d.body(at.id)
		target, secret, auth := d.hook.url, d.hook.secret(), d.hook.auth()
		s.mu.Unlock()

		at.code, at.errClass = s.post(retry.Timeout, target, body, secret, auth)

		s.mu.Lock()
		now := s.now()
		at.updated, d.updated, d.next = now, now, nil
		d.attempts = append(d.attempts, at)
		ok := at.code >= 200 && at.code < 300
		switch {
		case ok:
			d.status = "succeeded"
		case d.level != "sync" || n >= retry.Attempts || now.Sub(d.ev.created) >= syncRetryWindow:
			d.status = "failed"
		default:
			d.status = "retrying"
		}
		wait := retry.Backoff
		for i := 1; i < n && wait < retry.MaxBackoff; i++ {
			wait *= 2
		}
		wait = min(wait, retry.MaxBackoff)
		if d.status == "retrying" {
			next := now.Add(wait)
			d.next = &next
		}
		done := d.status != "retrying"
		s.mu.Unlock()
		if done || !s.sleep(wait, d.hook.gone) {
			return
		}
	}
}

// settle counts d as done for WaitForDeliveries.
func (s *Server) settle(d *delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.status == "pending" || d.status == "retrying" {
		d.status = "skipped" // the server closed or the subscription went
	}
	s.hooks.pending--
	if s.hooks.pending == 0 {
		close(s.hooks.idle)
	}
}

// sleep waits out a backoff; it reports false if the server closes or
// the subscription is deleted first.
func (s *Server) sleep(d time.Duration, gone <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-gone:
		return false
	case <-s.hooks.stop.Done():
		return false
	}
}

// post sends one signed attempt and returns the receiver's status, or 0
// and why there was none.
func (s *Server) post(timeout time.Duration, target string, body []byte, secret, auth string) (int, string) {
	ctx, cancel := context.WithTimeout(s.hooks.stop, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, "connection_error"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "herokupartnertest-webhooks")
	req.Header.Set("Heroku-Webhook-Hmac-SHA256", Sign([]byte(secret), body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.hooks.client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
			return 0, "timeout"
		case errors.Is(err, syscall.ECONNREFUSED):
			return 0, "connection_refused"
		}
		return 0, "connection_error"
	}
	// Heroku ignores the answer's body; read a little so the connection
	// ends cleanly.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, ""
}

// Sign returns the value of the Heroku-Webhook-Hmac-SHA256 header for
// body under secret: the standard base64 of its HMAC-SHA256, as Heroku
// signs deliveries. Tests can check a receiver with it.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// WaitForDeliveries waits until every webhook delivery made so far has
// succeeded, failed for good or been skipped, retries included, or until
// ctx ends. It is how a test waits for deliveries without a timer.
func (s *Server) WaitForDeliveries(ctx context.Context) error {
	s.mu.Lock()
	if s.hooks.pending == 0 {
		s.mu.Unlock()
		return nil
	}
	idle := s.hooks.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("herokupartnertest: waiting for webhook deliveries: %w", ctx.Err())
	}
}

// stopDeliveries ends the delivery goroutines: queued and retrying
// deliveries are skipped, an attempt in flight is cancelled.
func (s *Server) stopDeliveries() {
	s.mu.Lock()
	s.hooks.closed = true
	cancel := s.hooks.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.hooks.wg.Wait()
}
