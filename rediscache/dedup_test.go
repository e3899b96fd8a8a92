package rediscache_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/rediscache"
	"github.com/redis/go-redis/v9"
)

func TestDedupStates(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	d := rediscache.NewDedup(rdb, rediscache.WithPrefix("acme:"))
	want := func(step string, got herokupartner.DedupState, err error, wantState herokupartner.DedupState) {
		t.Helper()
		if err != nil || got != wantState {
			t.Fatalf("%s: state %v, err %v; want %v", step, got, err, wantState)
		}
	}
	st, err := d.Begin(ctx, "ev1", time.Minute)
	want("first claim", st, err, herokupartner.DedupNew)
	st, err = d.Begin(ctx, "ev1", time.Minute)
	want("while in flight", st, err, herokupartner.DedupInFlight)
	if err := d.Finish(ctx, "ev1", true, time.Hour); err != nil {
		t.Fatal(err)
	}
	st, err = d.Begin(ctx, "ev1", time.Minute)
	want("after handling", st, err, herokupartner.DedupDone)
	if ttl, _ := rdb.PTTL(ctx, "acme:ev1").Result(); ttl <= time.Minute || ttl > time.Hour {
		t.Fatalf("done mark ttl %v; want the Finish ttl", ttl)
	}

	st, err = d.Begin(ctx, "ev2", time.Minute)
	want("second event", st, err, herokupartner.DedupNew)
	if err := d.Finish(ctx, "ev2", false, time.Hour); err != nil {
		t.Fatal(err)
	}
	st, err = d.Begin(ctx, "ev2", time.Minute)
	want("after a failure", st, err, herokupartner.DedupNew)

	// A late failure never undoes another replica's success.
	_ = d.Finish(ctx, "ev2", true, time.Hour)
	_ = d.Finish(ctx, "ev2", false, time.Hour)
	st, err = d.Begin(ctx, "ev2", time.Minute)
	want("done survives a late failure", st, err, herokupartner.DedupDone)
}

func TestDedupOneClaimAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	newRedis(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		rdb := redis.NewClient(&redis.Options{Addr: server.addr})
		defer rdb.Close()
		d := rediscache.NewDedup(rdb)
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := d.Begin(ctx, "event", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if st == herokupartner.DedupNew {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d replicas claimed the event; want exactly one", wins.Load())
	}
}

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// A redelivery reaching another replica is recognised there.
func TestReceiversOnTwoReplicasShareDedup(t *testing.T) {
	newRedis(t)
	body, err := os.ReadFile(filepath.Join("..", "testdata", "webhook_app_update.json"))
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	replica := func() http.Handler {
		rdb := redis.NewClient(&redis.Options{Addr: server.addr})
		t.Cleanup(func() { _ = rdb.Close() })
		r, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
			Secrets: []herokupartner.Secret{herokupartner.NewSecret("whsec-test")},
			OnEvent: func(context.Context, *herokupartner.WebhookEvent) error { handled.Add(1); return nil },
			Dedup:   rediscache.NewDedup(rdb, rediscache.WithPrefix("acme:")),
			Now:     func() time.Time { return time.Date(2025, 1, 2, 10, 1, 0, 0, time.UTC) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := replica(), replica()
	var codes []int
	for _, h := range []http.Handler{a, b} {
		req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
		req.Header.Set("Heroku-Webhook-Hmac-SHA256", sign(body, "whsec-test"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
	}
	if codes[0] != http.StatusNoContent || codes[1] != http.StatusOK || handled.Load() != 1 {
		t.Fatalf("answers %v, handled %d times; want [204 200], once", codes, handled.Load())
	}
}
