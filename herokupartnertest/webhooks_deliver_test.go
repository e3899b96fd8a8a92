package herokupartnertest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSyncDeliveryRetriesAfterFailure(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false, http.StatusInternalServerError, http.StatusServiceUnavailable)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	got := rc.deliveries()
	require.Len(t, got, 3, "two failures, then success")
	attempts := map[any]bool{}
	for _, d := range got {
		assert.True(t, validSignature(d, "whsec-a"), "every attempt is signed")
		assert.Equal(t, got[0].field("id"), d.field("id"), "the same event")
		assert.Equal(t, got[0].field("webhook_metadata", "delivery", "id"), d.field("webhook_metadata", "delivery", "id"))
		attempts[d.field("webhook_metadata", "attempt", "id")] = true
	}
	assert.Len(t, attempts, 3, "a new attempt id each time")

	ds := w.s.WebhookDeliveries()
	require.Len(t, ds, 1)
	assert.Equal(t, "succeeded", ds[0].Status)
	assert.Equal(t, "sync", ds[0].Level)
	require.Len(t, ds[0].Attempts, 3)
	assert.Equal(t, []int{500, 503, 204}, []int{ds[0].Attempts[0].Code, ds[0].Attempts[1].Code, ds[0].Attempts[2].Code})
}

func TestNotifyDeliveryIsNotRetried(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false, http.StatusInternalServerError)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "notify", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	assert.Len(t, rc.deliveries(), 1)
	ds := w.s.WebhookDeliveries()
	require.Len(t, ds, 1)
	assert.Equal(t, "failed", ds[0].Status)
	assert.Len(t, ds[0].Attempts, 1)

	// A later event is attempted again: notify gives up on one event only.
	w.s.RenameApp(w.app1.ID, "acme-web-3")
	waitDeliveries(t, w.s)
	assert.Len(t, rc.deliveries(), 2)
	assert.Equal(t, "succeeded", w.s.WebhookDeliveries()[1].Status)
}

func TestSyncDeliveryGivesUpAfterItsAttempts(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Attempts: 3}))
	rc := newReceiver(t, false, 500, 500, 500, 500, 500)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	assert.Len(t, rc.deliveries(), 3)
	ds := w.s.WebhookDeliveries()
	require.Len(t, ds, 1)
	assert.Equal(t, "failed", ds[0].Status)
	assert.Len(t, ds[0].Attempts, 3)
}

// Heroku stops retrying 72 hours after the event; the fake reads those
// hours from its clock, so a test can cross them without waiting.
func TestSyncDeliveryStopsAfter72Hours(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithClock(clk.Now), herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Attempts: 100}))
	rc := newReceiver(t, false, 500, 500, 500)
	rc.onRequest = func() { clk.Advance(72 * time.Hour) }
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	assert.Len(t, rc.deliveries(), 1)
	assert.Equal(t, "failed", w.s.WebhookDeliveries()[0].Status)
}

// Deliveries to one subscription keep the order of the events, a retry
// holding back the next one.
func TestDeliveriesKeepEventOrderPerSubscription(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false, 500, 500)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app", "api:addon"}, "level": "sync", "secret": "whsec-a"})

	for i := 1; i <= 5; i++ {
		w.s.RenameApp(w.app1.ID, fmt.Sprintf("acme-web-%d", i))
	}
	w.s.ChangePlan(w.a.ID, "standard")
	waitDeliveries(t, w.s)
	var names []string
	for _, d := range rc.deliveries() {
		if d.field("resource") == "app" {
			names = append(names, d.field("data", "name").(string))
		} else {
			names = append(names, "plan")
		}
	}
	assert.Equal(t, []string{"acme-web-1", "acme-web-1", "acme-web-1", "acme-web-2", "acme-web-3", "acme-web-4", "acme-web-5", "plan"}, names)
}

func TestFailedAttemptsAreRecorded(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Attempts: 2}))
	rc := newReceiver(t, false)
	url := rc.srv.URL
	rc.srv.Close() // nothing listens there any more
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": url,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	ds := w.s.WebhookDeliveries()
	require.Len(t, ds, 1)
	assert.Equal(t, "failed", ds[0].Status)
	require.Len(t, ds[0].Attempts, 2)
	assert.Equal(t, 0, ds[0].Attempts[0].Code)
	assert.Equal(t, "connection_refused", ds[0].Attempts[0].Error)
}

func TestDeliveryAttemptTimesOut(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Attempts: 1, Timeout: 50 * time.Millisecond}))
	release := make(chan struct{})
	rc := newReceiver(t, false)
	rc.onRequest = func() { <-release }
	t.Cleanup(func() { close(release) })
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	ds := w.s.WebhookDeliveries()
	require.Len(t, ds, 1)
	assert.Equal(t, "failed", ds[0].Status)
	assert.Equal(t, "timeout", ds[0].Attempts[0].Error)
}

func TestDeletedSubscriptionSkipsQueuedDeliveries(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Backoff: time.Hour}))
	arrived := make(chan struct{}, 10)
	rc := newReceiver(t, false, 500)
	rc.onRequest = func() { arrived <- struct{}{} }
	hook, _ := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-a"})

	w.s.RenameApp(w.app1.ID, "acme-web-2")
	w.s.RenameApp(w.app1.ID, "acme-web-3")
	<-arrived // the first attempt failed; a retry an hour away holds both
	del := call(t, w.s, http.MethodDelete, "/addons/"+w.a.ID.String()+"/webhooks/"+hook["id"].(string), w.tokA, nil)
	require.Equal(t, http.StatusOK, del.status)
	// The delete ends the hour-long backoff and skips what is left.
	waitDeliveries(t, w.s)
	for _, d := range w.s.WebhookDeliveries() {
		assert.Equal(t, "skipped", d.Status)
	}
	assert.Len(t, rc.deliveries(), 1)
}

func TestCloseEndsPendingDeliveries(t *testing.T) {
	s := herokupartnertest.NewServer(herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Attempts: 10, Backoff: time.Hour}))
	seeded := s.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{{Name: "shop"}}})
	r := seeded.Resources[0]
	arrived := make(chan struct{}, 10)
	rc := newReceiver(t, false, 500)
	rc.onRequest = func() { arrived <- struct{}{} }
	subscribe(t, s, r.Addon.ID.String(), r.Token.Reveal(), map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec"})
	s.RenameApp(r.App.ID, "shop-2")
	<-arrived
	s.Close() // must not wait out the hour
	require.NoError(t, s.WaitForDeliveries(context.Background()))
	assert.Equal(t, "skipped", s.WebhookDeliveries()[0].Status)
	s.RenameApp(r.App.ID, "shop-3") // after Close: recorded nowhere, sent nowhere
	assert.Len(t, s.WebhookDeliveries(), 1)
}

func TestWaitForDeliveriesHonoursItsContext(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{Backoff: time.Hour}))
	rc := newReceiver(t, false, 500)
	arrived := make(chan struct{}, 1)
	rc.onRequest = func() { arrived <- struct{}{} }
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec"})
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	<-arrived
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.s.WaitForDeliveries(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestDeliveriesAndEventsListings(t *testing.T) {
	w := newWorld(t)
	sc := webhookSchema(t)
	rc := newReceiver(t, false, 500)
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app", "api:addon"}, "level": "sync", "secret": "whsec-a"})
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	w.s.ChangePlan(w.a.ID, "premium")
	waitDeliveries(t, w.s)
	own := "/addons/" + w.a.ID.String()

	list := call(t, w.s, http.MethodGet, own+"/webhook-deliveries", w.tokA, nil)
	require.Equal(t, http.StatusOK, list.status)
	items := list.body.([]any)
	require.Len(t, items, 2)
	for i, it := range items {
		sc.check(t, fmt.Sprintf("delivery[%d]", i), schemaNode(t, sc, "app-webhook-delivery"), it)
	}
	first := items[0].(map[string]any)
	assert.Equal(t, "succeeded", first["status"])
	assert.Equal(t, float64(2), first["num_attempts"])
	assert.Equal(t, "api:app", first["event"].(map[string]any)["include"])
	assert.Equal(t, float64(204), first["last_attempt"].(map[string]any)["code"])
	assert.Nil(t, first["next_attempt_at"])
	one := call(t, w.s, http.MethodGet, own+"/webhook-deliveries/"+first["id"].(string), w.tokA, nil)
	assert.Equal(t, first, one.object(t))

	events := call(t, w.s, http.MethodGet, own+"/webhook-events", w.tokA, nil)
	require.Equal(t, http.StatusOK, events.status)
	evs := events.body.([]any)
	require.Len(t, evs, 2)
	for i, ev := range evs {
		sc.check(t, fmt.Sprintf("event[%d]", i), schemaNode(t, sc, "app-webhook-event"), ev)
	}
	ev := evs[0].(map[string]any)
	assert.Equal(t, first["event"].(map[string]any)["id"], ev["id"])
	assert.Equal(t, map[string]any{"name": "acme-web"}, ev["payload"].(map[string]any)["previous_data"])
	assert.Equal(t, ev, call(t, w.s, http.MethodGet, own+"/webhook-events/"+ev["id"].(string), w.tokA, nil).object(t))

	for _, p := range []string{"/webhook-deliveries/", "/webhook-events/"} {
		requireError(t, call(t, w.s, http.MethodGet, own+p+w.unknownID, w.tokA, nil), http.StatusNotFound, "not_found")
	}
}

// Webhook secrets and authorization values stay out of every printed form
// of the server, as its tokens do.
func TestPrintedServerHoldsNoWebhookSecrets(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, false)
	_, a := subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "authorization": "Bearer hook-auth-value"})
	subscribe(t, w.s, w.a.ID.String(), w.tokA, map[string]any{"url": rc.srv.URL,
		"include": []string{"api:app"}, "level": "sync", "secret": "whsec-given-value"})
	w.s.RenameApp(w.app1.ID, "acme-web-2")
	waitDeliveries(t, w.s)
	secrets := []string{a.header.Get("Heroku-Webhook-Secret"), "hook-auth-value", "whsec-given-value"}
	for _, v := range []any{w.s, *w.s, w.s.WebhookDeliveries()} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
			out := fmt.Sprintf(verb, v)
			for i, sec := range secrets {
				require.NotEmpty(t, sec)
				assert.Falsef(t, strings.Contains(out, sec), "secret %d appears under %s", i, verb)
			}
		}
	}
}
