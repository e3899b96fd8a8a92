package herokupartner

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	webhookID   = "b54e0b9e-0000-4000-8000-00000000000b"
	deliveryID  = "d2440000-0000-4000-8000-00000000000d"
	eventID     = "5e7d0000-0000-4000-8000-00000000000e"
	webhookJSON = `{"addon":{"id":"` + addonID + `","name":"myaddon-cubed-123"},"created_at":"2025-01-02T10:00:00Z",` +
		`"id":"` + webhookID + `","include":["api:app","api:addon"],"level":"sync",` +
		`"updated_at":"2025-01-02T10:00:00Z","url":"https://hooks.example.com/heroku/` + addonID + `"}`
)

// recordedRequest is what the test server saw.
type recordedRequest struct {
	Method, Path, Query, Auth string
	Body                      []byte
}

// apiServer answers every request with status and body and records it.
func apiServer(t *testing.T, status int, body string) (*Client, func() []recordedRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []recordedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), b})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithRetry(fastRetry))
	require.NoError(t, err)
	return c, func() []recordedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]recordedRequest(nil), seen...)
	}
}

func TestSubscribeAddonWebhooksSendsTheSubscription(t *testing.T) {
	c, seen := apiServer(t, http.StatusCreated, webhookJSON)
	w, err := c.SubscribeAddonWebhooks(context.Background(), strings.ToUpper(addonID), WebhookSubscription{
		URL:           "https://hooks.example.com/heroku/" + addonID,
		Include:       []string{WebhookIncludeApp, WebhookIncludeAddon},
		Level:         WebhookLevelNotify,
		Secret:        NewSecret("whsec-0123456789abcdef"),
		Authorization: NewSecret("Bearer hook-auth-0123"),
	})
	require.NoError(t, err)
	reqs := seen()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/addons/"+addonID+"/webhooks", reqs[0].Path)
	assert.Equal(t, "Bearer "+testToken, reqs[0].Auth)
	assert.JSONEq(t, `{"url":"https://hooks.example.com/heroku/`+addonID+`","include":["api:app","api:addon"],`+
		`"level":"notify","secret":"whsec-0123456789abcdef","authorization":"Bearer hook-auth-0123"}`, string(reqs[0].Body))
	assert.Equal(t, webhookID, w.ID.String())
	assert.Equal(t, addonID, w.Addon.ID.String())
	assert.Equal(t, WebhookLevelSync, w.Level)
	assert.Equal(t, []string{"api:app", "api:addon"}, w.Include)
	assert.Equal(t, "whsec-0123456789abcdef", w.Secret.Reveal())
}

func TestSubscribeAddonWebhooksDefaultsAndGeneratedSecret(t *testing.T) {
	c, seen := apiServer(t, http.StatusOK, webhookJSON)
	w, err := c.SubscribeAddonWebhooks(context.Background(), addonID, WebhookSubscription{URL: "https://hooks.example.com/h"})
	require.NoError(t, err)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(seen()[0].Body, &sent))
	assert.Equal(t, "sync", sent["level"])
	assert.Equal(t, []any{"api:app", "api:addon", "api:addon-attachment"}, sent["include"])
	assert.NotContains(t, sent, "authorization")
	secret, _ := sent["secret"].(string)
	raw, err := hex.DecodeString(secret)
	require.NoError(t, err, "the generated secret is hex")
	assert.Len(t, raw, webhookSecretBytes)
	assert.Equal(t, secret, w.Secret.Reveal(), "the answer carries the secret the deliveries are signed with")

	// Two subscriptions never share a generated secret.
	w2, err := c.SubscribeAddonWebhooks(context.Background(), addonID, WebhookSubscription{URL: "https://hooks.example.com/h"})
	require.NoError(t, err)
	assert.False(t, w.Secret.Equal(w2.Secret))
}

func TestWebhookSecretNeverPrinted(t *testing.T) {
	c, _ := apiServer(t, http.StatusOK, webhookJSON)
	w, err := c.SubscribeAddonWebhooks(context.Background(), addonID, WebhookSubscription{URL: "https://hooks.example.com/h"})
	require.NoError(t, err)
	secret := w.Secret.Reveal()
	b, err := json.Marshal(w)
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprintf("%v", w), fmt.Sprintf("%+v", *w), fmt.Sprintf("%#v", w), string(b)} {
		assert.NotContains(t, out, secret)
	}
	assert.NotContains(t, string(b), "secret", "the API's field is not invented in JSON output")
}

func TestSubscribeAddonWebhooksRefusesBadInputBeforeSending(t *testing.T) {
	c, seen := apiServer(t, http.StatusOK, webhookJSON)
	const leaky = "http://user:hunter2-password@hooks.example.com/h"
	cases := map[string]struct {
		id  string
		sub WebhookSubscription
	}{
		"bad id":          {"not-a-uuid", WebhookSubscription{URL: "https://h.example.com"}},
		"no url":          {addonID, WebhookSubscription{}},
		"relative url":    {addonID, WebhookSubscription{URL: "/hooks"}},
		"plain http":      {addonID, WebhookSubscription{URL: "http://hooks.example.com/h"}},
		"user info":       {addonID, WebhookSubscription{URL: leaky}},
		"empty include":   {addonID, WebhookSubscription{URL: "https://h.example.com", Include: []string{}}},
		"blank entity":    {addonID, WebhookSubscription{URL: "https://h.example.com", Include: []string{"api:app", ""}}},
		"joined entities": {addonID, WebhookSubscription{URL: "https://h.example.com", Include: []string{"api:app,api:addon"}}},
		"bad level":       {addonID, WebhookSubscription{URL: "https://h.example.com", Level: "often"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.SubscribeAddonWebhooks(context.Background(), tc.id, tc.sub)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
	assert.Empty(t, seen(), "nothing was sent")
}

func TestWebhookCalls(t *testing.T) {
	ctx := context.Background()
	base := "/addons/" + addonID
	t.Run("list", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, "["+webhookJSON+"]")
		ws, err := c.ListAddonWebhooks(ctx, addonID)
		require.NoError(t, err)
		require.Len(t, ws, 1)
		assert.Equal(t, webhookID, ws[0].ID.String())
		assert.Equal(t, recordedRequest{Method: "GET", Path: base + "/webhooks", Auth: "Bearer " + testToken, Body: []byte{}}, seen()[0])
	})
	t.Run("get", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, webhookJSON)
		w, err := c.GetAddonWebhook(ctx, addonID, webhookID)
		require.NoError(t, err)
		assert.Equal(t, "https://hooks.example.com/heroku/"+addonID, w.URL)
		assert.Equal(t, "GET "+base+"/webhooks/"+webhookID, seen()[0].Method+" "+seen()[0].Path)
	})
	t.Run("update", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, webhookJSON)
		_, err := c.UpdateAddonWebhook(ctx, addonID, webhookID, WebhookUpdate{Secret: NewSecret("new-secret-0123")})
		require.NoError(t, err)
		r := seen()[0]
		assert.Equal(t, "PATCH "+base+"/webhooks/"+webhookID, r.Method+" "+r.Path)
		assert.JSONEq(t, `{"secret":"new-secret-0123"}`, string(r.Body), "only the fields set are sent")
	})
	t.Run("update refuses an empty change", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, webhookJSON)
		_, err := c.UpdateAddonWebhook(ctx, addonID, webhookID, WebhookUpdate{})
		require.Error(t, err)
		_, err = c.UpdateAddonWebhook(ctx, addonID, webhookID, WebhookUpdate{URL: "ftp://x.example.com"})
		require.Error(t, err)
		assert.Empty(t, seen())
	})
	t.Run("delete", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, webhookJSON)
		require.NoError(t, c.DeleteAddonWebhook(ctx, addonID, webhookID))
		assert.Equal(t, "DELETE "+base+"/webhooks/"+webhookID, seen()[0].Method+" "+seen()[0].Path)
	})
	t.Run("bad webhook id", func(t *testing.T) {
		c, seen := apiServer(t, http.StatusOK, webhookJSON)
		err := c.DeleteAddonWebhook(ctx, addonID, "Bearer "+testToken)
		require.ErrorIs(t, err, ErrInvalidID)
		assert.NotContains(t, err.Error(), testToken)
		assert.Empty(t, seen())
	})
	t.Run("not found", func(t *testing.T) {
		c, _ := apiServer(t, http.StatusNotFound, `{"id":"not_found","message":"Couldn't find that webhook."}`)
		_, err := c.GetAddonWebhook(ctx, addonID, webhookID)
		require.ErrorIs(t, err, ErrNotFound)
	})
}

const deliveryJSON = `{"id":"` + deliveryID + `","created_at":"2025-01-02T10:00:00Z","updated_at":"2025-01-02T10:01:00Z",` +
	`"status":"skipped","num_attempts":3,"next_attempt_at":null,"event":{"id":"` + eventID + `","include":"api:app"},` +
	`"webhook":{"id":"` + webhookID + `","level":"sync"},"last_attempt":{"id":"8a440000-0000-4000-8000-000000000008",` +
	`"code":502,"error_class":null,"status":"failed","created_at":"2025-01-02T10:01:00Z","updated_at":"2025-01-02T10:01:00Z"}}`

func TestWebhookDeliveryCalls(t *testing.T) {
	ctx := context.Background()
	c, seen := apiServer(t, http.StatusOK, "["+deliveryJSON+"]")
	ds, err := c.ListAddonWebhookDeliveries(ctx, addonID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	d := ds[0]
	assert.Equal(t, WebhookDeliverySkipped, d.Status, "a status the schema does not list is kept")
	assert.Equal(t, 3, d.NumAttempts)
	assert.Nil(t, d.NextAttemptAt)
	assert.Equal(t, eventID, d.Event.ID.String())
	require.NotNil(t, d.LastAttempt)
	require.NotNil(t, d.LastAttempt.Code)
	assert.Equal(t, 502, *d.LastAttempt.Code)
	assert.Nil(t, d.LastAttempt.ErrorClass)
	assert.Equal(t, "GET /addons/"+addonID+"/webhook-deliveries", seen()[0].Method+" "+seen()[0].Path)

	c, seen = apiServer(t, http.StatusOK, deliveryJSON)
	one, err := c.GetAddonWebhookDelivery(ctx, addonID, deliveryID)
	require.NoError(t, err)
	assert.Equal(t, deliveryID, one.ID.String())
	assert.Equal(t, "/addons/"+addonID+"/webhook-deliveries/"+deliveryID, seen()[0].Path)
}

func TestWebhookEventCalls(t *testing.T) {
	ctx := context.Background()
	record := `{"id":"` + eventID + `","include":"api:app","created_at":"2025-01-02T10:00:00Z","updated_at":"2025-01-02T10:00:00Z",` +
		`"payload":{"action":"update","actor":{"email":"dev@example.com","id":"09630000-0000-4000-8000-000000000009"},` +
		`"data":{"id":"` + appID + `","name":"shop-prod"},"previous_data":{"name":"shop-staging"},"resource":"app","version":"1"}}`
	c, seen := apiServer(t, http.StatusOK, "["+record+"]")
	rs, err := c.ListAddonWebhookEvents(ctx, addonID)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, "/addons/"+addonID+"/webhook-events", seen()[0].Path)
	ev, err := rs[0].Event()
	require.NoError(t, err)
	assert.Equal(t, eventID, ev.ID.String())
	require.NotNil(t, ev.App)
	assert.Equal(t, "shop-prod", ev.App.Name)
	require.NotNil(t, ev.PreviousApp)
	assert.Equal(t, "shop-staging", ev.PreviousApp.Name)

	c, seen = apiServer(t, http.StatusOK, record)
	r, err := c.GetAddonWebhookEvent(ctx, addonID, eventID)
	require.NoError(t, err)
	assert.Equal(t, "/addons/"+addonID+"/webhook-events/"+eventID, seen()[0].Path)
	assert.Equal(t, WebhookActionUpdate, WebhookAction(r.Payload.Action))

	var empty WebhookEventRecord
	_, err = empty.Event()
	assert.True(t, err != nil && !errors.Is(err, ErrNotFound))
}
