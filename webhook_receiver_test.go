package herokupartner

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	hookSecret    = "whsec-current-0123456789"
	hookOldSecret = "whsec-previous-9876543210"
	hookAuth      = "Bearer hook-auth-abcdef012345"
)

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// receiverRig is a receiver whose OnEvent records events, and its clock
// and logs.
type receiverRig struct {
	r      *WebhookReceiver
	clock  *fakeClock
	logs   *bytes.Buffer
	mu     sync.Mutex
	events []*WebhookEvent
	fail   error
}

func newReceiverRig(t *testing.T, tweak func(*WebhookReceiverConfig)) *receiverRig {
	t.Helper()
	rig := &receiverRig{clock: &fakeClock{t: time.Date(2025, 1, 4, 12, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}}
	cfg := WebhookReceiverConfig{
		Secrets:       []Secret{NewSecret(hookOldSecret), NewSecret(hookSecret)},
		Authorization: NewSecret(hookAuth),
		OnEvent: func(_ context.Context, ev *WebhookEvent) error {
			rig.mu.Lock()
			defer rig.mu.Unlock()
			if rig.fail != nil {
				return rig.fail
			}
			rig.events = append(rig.events, ev)
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(rig.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    rig.clock.now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := NewWebhookReceiver(cfg)
	require.NoError(t, err)
	rig.r = r
	return rig
}

func (rig *receiverRig) handled() []*WebhookEvent {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return append([]*WebhookEvent(nil), rig.events...)
}

// deliver posts body with the given headers (pairs) to the receiver.
func (rig *receiverRig) deliver(body []byte, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/heroku/webhooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	rig.r.ServeHTTP(rec, req)
	return rec
}

// signed delivers body as Heroku would.
func (rig *receiverRig) signed(body []byte) *httptest.ResponseRecorder {
	return rig.deliver(body, "Authorization", hookAuth, webhookSignatureHeader, sign(body, hookSecret))
}

func TestReceiverHandlesASignedDelivery(t *testing.T) {
	rig := newReceiverRig(t, nil)
	body := readFixture(t, "webhook_app_update.json")
	rec := rig.signed(body)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	evs := rig.handled()
	require.Len(t, evs, 1)
	assert.Equal(t, "shop-prod", evs[0].App.Name)
	assert.Equal(t, "shop-staging", evs[0].PreviousApp.Name)
}

func TestReceiverAcceptsEitherSecretWhileRotating(t *testing.T) {
	rig := newReceiverRig(t, nil)
	for i, name := range []string{"webhook_app_update.json", "webhook_addon_destroy.json"} {
		body := readFixture(t, name)
		secret := []string{hookOldSecret, hookSecret}[i]
		rec := rig.deliver(body, "Authorization", hookAuth, webhookSignatureHeader, sign(body, secret))
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	}
	assert.Len(t, rig.handled(), 2)
}

func TestReceiverRefusesBadDeliveries(t *testing.T) {
	body := readFixture(t, "webhook_app_update.json")
	tampered := bytes.Replace(body, []byte("shop-prod"), []byte("shop-evil"), 1)
	huge := append(bytes.Repeat([]byte(" "), DefaultWebhookMaxBody), body...)
	cases := []struct {
		name   string
		method string
		body   []byte
		header []string
		status int
		reason string
	}{
		{"tampered", "POST", tampered, []string{"Authorization", hookAuth, webhookSignatureHeader, sign(body, hookSecret)}, 401, "does not match"},
		{"unsigned", "POST", body, []string{"Authorization", hookAuth}, 401, "unsigned"},
		{"unknown secret", "POST", body, []string{"Authorization", hookAuth, webhookSignatureHeader, sign(body, "someone-else")}, 401, "does not match"},
		{"signature not base64", "POST", body, []string{"Authorization", hookAuth, webhookSignatureHeader, "%%%"}, 401, "does not match"},
		{"no authorization", "POST", body, []string{webhookSignatureHeader, sign(body, hookSecret)}, 401, "Authorization"},
		{"wrong authorization", "POST", body, []string{"Authorization", "Bearer nope", webhookSignatureHeader, sign(body, hookSecret)}, 401, "Authorization"},
		{"oversized", "POST", huge, []string{"Authorization", hookAuth, webhookSignatureHeader, sign(huge, hookSecret)}, 413, "larger"},
		{"not an event", "POST", []byte(`{"hello":1}`), []string{"Authorization", hookAuth, webhookSignatureHeader, sign([]byte(`{"hello":1}`), hookSecret)}, 400, "id"},
		{"GET", "GET", nil, []string{"Authorization", hookAuth}, 405, "POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := newReceiverRig(t, nil)
			req := httptest.NewRequest(tc.method, "/hooks", bytes.NewReader(tc.body))
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			rec := httptest.NewRecorder()
			rig.r.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			assert.Contains(t, rec.Body.String(), tc.reason)
			assert.Empty(t, rig.handled(), "OnEvent was not called")
			// Refusals change nothing: the genuine delivery still goes through.
			assert.Equal(t, http.StatusNoContent, rig.signed(body).Code)
			for _, s := range []string{hookSecret, hookOldSecret, "hook-auth-abcdef012345", "shop-staging"} {
				assert.NotContains(t, rig.logs.String(), s)
				assert.NotContains(t, rec.Body.String(), s)
			}
		})
	}
}

func TestReceiverBoundsABodyOfUnknownLength(t *testing.T) {
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) { c.MaxBody = 1024 })
	body := bytes.Repeat([]byte("x"), 4096)
	req := httptest.NewRequest(http.MethodPost, "/hooks", io.MultiReader(bytes.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Authorization", hookAuth)
	req.Header.Set(webhookSignatureHeader, sign(body, hookSecret))
	rec := httptest.NewRecorder()
	rig.r.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Empty(t, rig.handled())
}

func TestReceiverDeduplicatesRedeliveries(t *testing.T) {
	rig := newReceiverRig(t, nil)
	body := readFixture(t, "webhook_app_update.json")
	require.Equal(t, http.StatusNoContent, rig.signed(body).Code)
	// Heroku's retry after a lost answer: same event, new attempt and delivery ids.
	again := bytes.Replace(body, []byte("8a440000-0000-4000-8000-000000000008"), []byte("8a440000-0000-4000-8000-0000000000ff"), 1)
	rec := rig.signed(again)
	assert.Equal(t, http.StatusOK, rec.Code, "a 2xx stops Heroku's retries")
	assert.Contains(t, rec.Body.String(), "duplicate")
	rig.clock.advance(12 * time.Hour)
	assert.Equal(t, http.StatusOK, rig.signed(body).Code)
	assert.Len(t, rig.handled(), 1, "OnEvent ran once")
}

func TestReceiverRefusesEventsOutsideTheWindow(t *testing.T) {
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) { c.Dedup = NewMemoryDedup(1) })
	body := readFixture(t, "webhook_app_update.json")
	require.Equal(t, http.StatusNoContent, rig.signed(body).Code)
	// The bounded dedup forgets the event; its age still refuses a replay.
	require.Equal(t, http.StatusNoContent, rig.signed(readFixture(t, "webhook_addon_plan.json")).Code)
	rig.clock.advance(DefaultWebhookMaxAge)
	rec := rig.signed(body)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "window")

	future := newReceiverRig(t, nil)
	future.clock.advance(-51 * time.Hour) // an hour before the app event
	assert.Equal(t, http.StatusBadRequest, future.signed(body).Code)
	assert.Len(t, rig.handled(), 2)
	assert.Empty(t, future.handled())
}

func TestReceiverLetsAFailedEventBeRedelivered(t *testing.T) {
	rig := newReceiverRig(t, nil)
	rig.fail = errors.New("database down: password=hunter2")
	body := readFixture(t, "webhook_addon_destroy.json")
	rec := rig.signed(body)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "hunter2", "the handler's error stays in the log")
	rig.fail = nil
	assert.Equal(t, http.StatusNoContent, rig.signed(body).Code, "the retry is handled, not taken for a duplicate")
	assert.Len(t, rig.handled(), 1)
}

func TestReceiverBoundsOnEvent(t *testing.T) {
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) {
		c.HandlerTimeout = 20 * time.Millisecond
		c.OnEvent = func(ctx context.Context, _ *WebhookEvent) error {
			<-ctx.Done()
			return ctx.Err()
		}
	})
	rec := rig.signed(readFixture(t, "webhook_app_update.json"))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestReceiverInFlightDuplicateIsRetriedLater(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls int
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) {
		c.HandlerTimeout = time.Minute
		c.OnEvent = func(context.Context, *WebhookEvent) error {
			calls++
			close(entered)
			<-release
			return nil
		}
	})
	body := readFixture(t, "webhook_app_update.json")
	first := make(chan int)
	go func() { first <- rig.signed(body).Code }()
	<-entered
	rec := rig.signed(body)
	assert.Equal(t, http.StatusConflict, rec.Code)
	close(release)
	assert.Equal(t, http.StatusNoContent, <-first)
	assert.Equal(t, 1, calls)
}

func TestReceiverSerialisesOnEvent(t *testing.T) {
	var mu sync.Mutex
	running, most := 0, 0
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) {
		c.HandlerTimeout = time.Minute
		c.OnEvent = func(context.Context, *WebhookEvent) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}
	})
	var wg sync.WaitGroup
	for _, name := range []string{"webhook_app_update.json", "webhook_addon_destroy.json", "webhook_addon_plan.json",
		"webhook_attachment_create.json", "webhook_release_create.json"} {
		body := readFixture(t, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Equal(t, http.StatusNoContent, rig.signed(body).Code)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, most, "OnEvent calls never overlap")
}

func TestReceiverSurvivesAPanickingHandler(t *testing.T) {
	var calls int
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) {
		c.OnEvent = func(context.Context, *WebhookEvent) error {
			calls++
			if calls == 1 {
				panic("bug in the partner's handler")
			}
			return nil
		}
	})
	body := readFixture(t, "webhook_app_update.json")
	func() {
		defer func() { assert.NotNil(t, recover()) }()
		rig.signed(body)
	}()
	assert.Equal(t, http.StatusNoContent, rig.signed(body).Code, "the turn was given back and the event forgotten")
}

// failingDedup fails every call.
type failingDedup struct{}

func (failingDedup) Begin(context.Context, string, time.Duration) (DedupState, error) {
	return 0, errors.New("redis: connection refused")
}
func (failingDedup) Finish(context.Context, string, bool, time.Duration) error { return nil }

func TestReceiverDedupOutageAsksForARetry(t *testing.T) {
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) { c.Dedup = failingDedup{} })
	assert.Equal(t, http.StatusServiceUnavailable, rig.signed(readFixture(t, "webhook_app_update.json")).Code)
	assert.Empty(t, rig.handled())
}

func TestNewWebhookReceiverValidates(t *testing.T) {
	_, err := NewWebhookReceiver(WebhookReceiverConfig{Secrets: []Secret{NewSecret("x")}})
	assert.ErrorContains(t, err, "OnEvent")
	_, err = NewWebhookReceiver(WebhookReceiverConfig{Secrets: []Secret{{}}, OnEvent: func(context.Context, *WebhookEvent) error { return nil }})
	assert.ErrorContains(t, err, "Secrets")
}

func TestReceiverOverHTTP(t *testing.T) {
	rig := newReceiverRig(t, nil)
	srv := httptest.NewServer(rig.r)
	defer srv.Close()
	body := readFixture(t, "webhook_attachment_create.json")
	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", hookAuth)
	req.Header.Set(webhookSignatureHeader, sign(body, hookSecret))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Len(t, rig.handled(), 1)
	assert.Equal(t, "shop-worker", rig.handled()[0].Attachment.App.Name)
}

func TestMemoryDedup(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	d := NewMemoryDedup(2)
	d.now = clock.now
	st, _ := d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupNew, st)
	st, _ = d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupInFlight, st)
	require.NoError(t, d.Finish(ctx, "a", true, time.Hour))
	st, _ = d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupDone, st)
	clock.advance(time.Hour)
	st, _ = d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupNew, st, "done expires after its ttl")
	require.NoError(t, d.Finish(ctx, "a", false, time.Hour))
	st, _ = d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupNew, st, "a failed event is forgotten")
	clock.advance(2 * time.Minute)
	st, _ = d.Begin(ctx, "a", time.Minute)
	assert.Equal(t, DedupNew, st, "a claim whose handler died expires")

	for _, k := range []string{"b", "c", "d"} {
		_, _ = d.Begin(ctx, k, time.Hour)
	}
	assert.Equal(t, 2, d.Len(), "bounded")
	st, _ = d.Begin(ctx, "d", time.Hour)
	assert.Equal(t, DedupInFlight, st, "the newest are kept")
}

func TestReceiverLogsNoSecrets(t *testing.T) {
	rig := newReceiverRig(t, nil)
	body := readFixture(t, "webhook_attachment_create.json")
	rig.signed(body)
	rig.signed(body)
	rig.deliver(body, "Authorization", hookAuth, webhookSignatureHeader, sign(body, "wrong"))
	logs := rig.logs.String()
	assert.True(t, strings.Contains(logs, "duplicate") && strings.Contains(logs, "refused"))
	for _, s := range []string{hookSecret, "hook-auth-abcdef012345", "logplex-secret", sign(body, hookSecret)} {
		assert.NotContains(t, logs, s)
	}
}

func TestReceiverWithoutAuthorizationAndAtTheSizeLimit(t *testing.T) {
	body := readFixture(t, "webhook_addon_plan.json")
	rig := newReceiverRig(t, func(c *WebhookReceiverConfig) {
		c.Authorization = Secret{}
		c.MaxBody = int64(len(body))
	})
	rec := rig.deliver(body, webhookSignatureHeader, sign(body, hookSecret))
	assert.Equal(t, http.StatusNoContent, rec.Code, "no Authorization configured, a body of exactly MaxBody")
	longer := append(append([]byte(nil), body...), ' ')
	rec = rig.deliver(longer, webhookSignatureHeader, sign(longer, hookSecret))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
}

// alwaysNew is a WebhookDedup that never remembers, so a benchmark can
// deliver one body again and again.
type alwaysNew struct{}

func (alwaysNew) Begin(context.Context, string, time.Duration) (DedupState, error) {
	return DedupNew, nil
}
func (alwaysNew) Finish(context.Context, string, bool, time.Duration) error { return nil }

// BenchmarkWebhookReceiver compares a whole delivery (authorization,
// signature under two secrets, decoding, dedup, OnEvent) with decoding
// alone, the baseline: go test -run '^$' -bench WebhookReceiver -benchmem .
func BenchmarkWebhookReceiver(b *testing.B) {
	body := readFixture(b, "webhook_app_update.json")
	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseWebhookEvent(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delivery", func(b *testing.B) {
		r, err := NewWebhookReceiver(WebhookReceiverConfig{
			Secrets: []Secret{NewSecret(hookOldSecret), NewSecret(hookSecret)}, Authorization: NewSecret(hookAuth),
			OnEvent: func(context.Context, *WebhookEvent) error { return nil }, Dedup: alwaysNew{},
			Now: func() time.Time { return time.Date(2025, 1, 2, 10, 1, 0, 0, time.UTC) },
		})
		if err != nil {
			b.Fatal(err)
		}
		sig := sign(body, hookSecret)
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
			req.Header.Set("Authorization", hookAuth)
			req.Header.Set(webhookSignatureHeader, sig)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatal(rec.Code)
			}
		}
	})
}
