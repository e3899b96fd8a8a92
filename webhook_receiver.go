package herokupartner

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults of a WebhookReceiverConfig's zero fields.
const (
	// DefaultWebhookMaxBody bounds a delivery's body: an app or add-on
	// object is a few KiB.
	DefaultWebhookMaxBody = 256 << 10
	// DefaultWebhookHandlerTimeout bounds one OnEvent call.
	DefaultWebhookHandlerTimeout = 5 * time.Second
	// DefaultWebhookMaxAge is how old an event may be: Heroku retries a
	// sync delivery for 72 hours after the event was created.
	DefaultWebhookMaxAge = 73 * time.Hour
)

// webhookClockSkew is how far in the future an event's created_at may lie.
const webhookClockSkew = 5 * time.Minute

// The delivery header that carries the signature.
const webhookSignatureHeader = "Heroku-Webhook-Hmac-SHA256"

// WebhookReceiverConfig configures a WebhookReceiver.
type WebhookReceiverConfig struct {
	// Secrets are the webhook secrets a delivery may be signed with; a
	// delivery signed with any of them is accepted, so a secret can be
	// rotated: add the new one, update the subscription, drop the old.
	Secrets []Secret
	// Authorization, when set, must equal the Authorization header of
	// every delivery: the value given to SubscribeAddonWebhooks.
	Authorization Secret
	// OnEvent handles one event. It runs before the answer, with a
	// context that ends HandlerTimeout after the delivery was checked (the
	// wait for earlier events included); calls never overlap, so events
	// are applied one at a time in the order they arrive. It must return
	// when its context ends, since later deliveries wait for it. An error
	// answers 500, and Heroku delivers the event again (sync level).
	OnEvent func(ctx context.Context, ev *WebhookEvent) error
	// Dedup remembers handled events; nil means a MemoryDedup of
	// DefaultDedupSize, which only deduplicates within this process.
	Dedup WebhookDedup
	// MaxBody bounds a body; zero means DefaultWebhookMaxBody.
	MaxBody int64
	// HandlerTimeout bounds OnEvent; zero means
	// DefaultWebhookHandlerTimeout. Keep it well under Heroku's attempt
	// timeout.
	HandlerTimeout time.Duration
	// MaxAge refuses events created longer ago, so that a replay is
	// refused once Dedup has forgotten the event; it is also how long
	// Dedup remembers. Zero means DefaultWebhookMaxAge.
	MaxAge time.Duration
	// Logger receives one line per refused or failed delivery, without
	// body or credentials; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// WebhookReceiver is the http.Handler that Heroku's add-on webhook
// deliveries are sent to. It checks each delivery and answers:
//
//	204 handled (OnEvent returned nil)
//	200 a duplicate of a handled event: nothing done
//	401 missing or wrong Authorization, missing or wrong signature
//	405 not a POST
//	413 body larger than MaxBody
//	400 not an event, or one older than MaxAge
//	409 a duplicate of an event being handled right now: try later
//	500 OnEvent failed or ran out of time; 503 Dedup failed
//
// Only a 204 means OnEvent ran to success; nothing else calls it.
type WebhookReceiver struct {
	cfg     WebhookReceiverConfig
	secrets [][]byte
	auth    []byte
	turn    chan struct{} // one token: OnEvent calls never overlap
}

var _ http.Handler = (*WebhookReceiver)(nil)

// NewWebhookReceiver checks cfg and returns a receiver.
func NewWebhookReceiver(cfg WebhookReceiverConfig) (*WebhookReceiver, error) {
	if cfg.OnEvent == nil {
		return nil, errors.New("herokupartner: WebhookReceiverConfig.OnEvent is nil")
	}
	r := &WebhookReceiver{turn: make(chan struct{}, 1)}
	for _, s := range cfg.Secrets {
		if !s.IsZero() {
			r.secrets = append(r.secrets, []byte(s.Reveal()))
		}
	}
	if len(r.secrets) == 0 {
		return nil, errors.New("herokupartner: WebhookReceiverConfig.Secrets: no secret, so no delivery could be verified")
	}
	if !cfg.Authorization.IsZero() {
		r.auth = []byte(cfg.Authorization.Reveal())
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultWebhookMaxBody
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = DefaultWebhookHandlerTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultWebhookMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Dedup == nil {
		d := NewMemoryDedup(0)
		d.now = cfg.Now
		cfg.Dedup = d
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r.cfg = cfg
	return r, nil
}

// ServeHTTP checks, decodes, deduplicates and handles one delivery.
func (r *WebhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(w, req, http.StatusMethodNotAllowed, "webhook deliveries are POSTs")
		return
	}
	// Authorization first: it costs nothing and needs no body.
	if r.auth != nil && subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), r.auth) != 1 {
		r.refuse(w, req, http.StatusUnauthorized, "missing or wrong Authorization header")
		return
	}
	sig := req.Header.Get(webhookSignatureHeader)
	if sig == "" {
		r.refuse(w, req, http.StatusUnauthorized, "unsigned: no "+webhookSignatureHeader+" header")
		return
	}
	body, status, msg := r.readBody(w, req)
	if status != 0 {
		r.refuse(w, req, status, msg)
		return
	}
	if !r.verify(body, sig) {
		r.refuse(w, req, http.StatusUnauthorized, "the "+webhookSignatureHeader+" signature does not match the body under any configured secret")
		return
	}
	ev, err := ParseWebhookEvent(body)
	if err != nil {
		r.refuse(w, req, http.StatusBadRequest, err.Error())
		return
	}
	now := r.cfg.Now()
	if !ev.CreatedAt.IsZero() && (now.Sub(ev.CreatedAt) > r.cfg.MaxAge || ev.CreatedAt.Sub(now) > webhookClockSkew) {
		r.refuse(w, req, http.StatusBadRequest, "event created outside the accepted window (replayed or clock skew)")
		return
	}
	r.handle(w, req, ev)
}

// readBody reads at most MaxBody bytes; a non-zero status means refuse.
func (r *WebhookReceiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, int, string) {
	const tooLarge = "body larger than the receiver's limit"
	if req.ContentLength > r.cfg.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	case err != nil:
		return nil, http.StatusBadRequest, "reading the body failed"
	}
	return body, 0, ""
}

// verify compares the signature with the HMAC under every secret, all of
// them each time, so the timing says nothing about which one matched.
func (r *WebhookReceiver) verify(body []byte, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := 0
	for _, key := range r.secrets {
		m := hmac.New(sha256.New, key)
		m.Write(body)
		ok |= subtle.ConstantTimeCompare(m.Sum(nil), got)
	}
	return ok == 1
}

// handle claims the event, runs OnEvent within the budget and records the
// outcome.
func (r *WebhookReceiver) handle(w http.ResponseWriter, req *http.Request, ev *WebhookEvent) {
	// The handler's work is not abandoned when Heroku hangs up: it is
	// bounded by HandlerTimeout instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), r.cfg.HandlerTimeout)
	defer cancel()
	key := "herokupartner:v1:webhook-event:" + ev.ID.String()
	state, err := r.cfg.Dedup.Begin(ctx, key, r.cfg.HandlerTimeout+time.Minute)
	switch {
	case err != nil:
		r.fail(w, req, ev, http.StatusServiceUnavailable, "deduplication store failed", err)
		return
	case state == DedupDone:
		// A 2xx stops Heroku's retries: our earlier answer was lost.
		r.log(req, slog.LevelInfo, "duplicate webhook event ignored", ev, http.StatusOK)
		http.Error(w, "duplicate event: already handled", http.StatusOK)
		return
	case state == DedupInFlight:
		r.refuse(w, req, http.StatusConflict, "this event is being handled by another delivery; try again later")
		return
	}
	handled := false
	defer func() {
		// Background: the outcome must be recorded even when ctx is spent.
		fctx, fcancel := context.WithTimeout(context.Background(), r.cfg.HandlerTimeout)
		defer fcancel()
		if ferr := r.cfg.Dedup.Finish(fctx, key, handled, r.cfg.MaxAge); ferr != nil {
			r.log(req, slog.LevelWarn, "recording a webhook event in the deduplication store failed", ev, 0, slog.String("error", ferr.Error()))
		}
	}()
	select {
	case r.turn <- struct{}{}:
	case <-ctx.Done():
		r.fail(w, req, ev, http.StatusServiceUnavailable, "waited too long for earlier events to be handled", ctx.Err())
		return
	}
	err = r.call(ctx, ev)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		r.fail(w, req, ev, http.StatusInternalServerError, "handling the event failed", err)
		return
	}
	handled = true
	w.WriteHeader(http.StatusNoContent)
}

// call runs OnEvent holding the turn, which it gives back even if OnEvent
// panics, so one bad event cannot stop every later one.
func (r *WebhookReceiver) call(ctx context.Context, ev *WebhookEvent) error {
	defer func() { <-r.turn }()
	return r.cfg.OnEvent(ctx, ev)
}

func (r *WebhookReceiver) refuse(w http.ResponseWriter, req *http.Request, status int, msg string) {
	r.log(req, slog.LevelWarn, "webhook delivery refused", nil, status, slog.String("reason", msg))
	http.Error(w, msg, status)
}

// fail answers a 5xx; the handler's error is logged, never sent.
func (r *WebhookReceiver) fail(w http.ResponseWriter, req *http.Request, ev *WebhookEvent, status int, msg string, err error) {
	r.log(req, slog.LevelError, "webhook delivery failed", ev, status, slog.String("reason", msg), slog.String("error", err.Error()))
	http.Error(w, msg, status)
}

func (r *WebhookReceiver) log(req *http.Request, level slog.Level, msg string, ev *WebhookEvent, status int, attrs ...slog.Attr) {
	if !r.cfg.Logger.Enabled(req.Context(), level) {
		return
	}
	attrs = append(attrs, slog.Int("status", status))
	if ev != nil {
		attrs = append(attrs, slog.Any("event", ev.LogValue()))
	}
	r.cfg.Logger.LogAttrs(req.Context(), level, msg, attrs...)
}
