package herokupartner

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFixtureEvent(t *testing.T, name string) *WebhookEvent {
	t.Helper()
	ev, err := ParseWebhookEvent(readFixture(t, name))
	require.NoError(t, err, name)
	return ev
}

func TestParseAppRename(t *testing.T) {
	ev := parseFixtureEvent(t, "webhook_app_update.json")
	assert.Equal(t, "5e7d0000-0000-4000-8000-00000000000e", ev.ID.String())
	assert.Equal(t, WebhookIncludeApp, ev.Include)
	assert.Equal(t, WebhookResourceApp, ev.Resource)
	assert.Equal(t, WebhookActionUpdate, ev.Action)
	assert.Equal(t, "dev@example.com", ev.Actor.Email)
	assert.Equal(t, time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC), ev.CreatedAt)
	assert.Equal(t, webhookID, ev.Delivery.WebhookID.String())
	assert.Equal(t, deliveryID, ev.Delivery.DeliveryID.String())
	require.NotNil(t, ev.App)
	assert.Equal(t, appID, ev.App.ID.String())
	assert.Equal(t, "shop-prod", ev.App.Name)
	assert.Equal(t, "us", ev.App.Region.Name)
	assert.Nil(t, ev.App.Team)
	require.NotNil(t, ev.PreviousApp)
	assert.Equal(t, "shop-staging", ev.PreviousApp.Name)
	assert.True(t, ev.Changed("name"))
	assert.False(t, ev.Changed("web_url"))
	assert.Nil(t, ev.Addon)
	assert.Nil(t, ev.Attachment)
	assert.Equal(t, uuid.Nil, ev.ResourceID(), "an app event concerns every resource of the app")
}

func TestParseAddonEvents(t *testing.T) {
	ev := parseFixtureEvent(t, "webhook_addon_destroy.json")
	assert.Equal(t, WebhookActionDestroy, ev.Action)
	require.NotNil(t, ev.Addon)
	assert.Equal(t, addonID, ev.Addon.ID.String())
	assert.Equal(t, AddonStateDeprovisioned, ev.Addon.State)
	assert.Equal(t, "shop-prod", ev.Addon.App.Name)
	assert.Nil(t, ev.PreviousAddon, "previous_data {} means nothing changed")
	assert.Equal(t, addonID, ev.ResourceID().String())

	ev = parseFixtureEvent(t, "webhook_addon_plan.json")
	assert.Equal(t, "myaddon:pro", ev.Addon.Plan.Name)
	require.NotNil(t, ev.PreviousAddon)
	assert.Equal(t, "myaddon:basic", ev.PreviousAddon.Plan.Name)
	assert.True(t, ev.Changed("plan"))
}

func TestParseAttachmentEvent(t *testing.T) {
	ev := parseFixtureEvent(t, "webhook_attachment_create.json")
	assert.Equal(t, WebhookIncludeAttachment, ev.Include)
	require.NotNil(t, ev.Attachment)
	assert.Equal(t, addonID, ev.Attachment.Addon.ID.String())
	assert.Equal(t, "shop-prod", ev.Attachment.Addon.App.Name, "the billing app")
	assert.Equal(t, "shop-worker", ev.Attachment.App.Name, "the app it is attached to")
	assert.Equal(t, addonID, ev.ResourceID().String())
}

func TestUnknownEntityKeptRaw(t *testing.T) {
	ev := parseFixtureEvent(t, "webhook_release_create.json")
	assert.Equal(t, "api:release", ev.Include)
	assert.Equal(t, "release", ev.Resource)
	assert.Nil(t, ev.App)
	assert.Nil(t, ev.Addon)
	assert.Nil(t, ev.Attachment)
	var data struct{ Version int }
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.Equal(t, 42, data.Version)
}

func TestPrintedEventsHoldNoData(t *testing.T) {
	ev := parseFixtureEvent(t, "webhook_attachment_create.json")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("got", "event", ev, "value", *ev)
	secretBytes := fmt.Sprintf("%d", []byte("logplex-secret"))
	secretBytes = secretBytes[1 : len(secretBytes)-1]
	rec := WebhookEventRecord{ID: ev.ID}
	rec.Payload.Data = ev.Data
	for _, out := range []string{fmt.Sprint(ev), fmt.Sprintf("%+v", *ev), fmt.Sprintf("%#v", ev), fmt.Sprintf("%s|%q", ev, ev),
		fmt.Sprintf("%d %x %v", *ev, *ev, []*WebhookEvent{ev}), fmt.Sprintf("%d %+v %x", rec, rec, &rec), logs.String()} {
		assert.NotContains(t, out, "logplex-secret")
		assert.NotContains(t, out, secretBytes)
		assert.NotContains(t, out, hex.EncodeToString([]byte("logplex-secret")))
		assert.Contains(t, out, ev.ID.String())
	}
}

func TestParseWebhookEventErrors(t *testing.T) {
	good := string(readFixture(t, "webhook_app_update.json"))
	cases := map[string]string{
		"not json":         `{"id":`,
		"not an object":    `["secret-value-xyz"]`,
		"no id":            `{"action":"update","resource":"app","data":{}}`,
		"bad id":           `{"id":"secret-value-xyz","action":"update","resource":"app","data":{}}`,
		"no action":        `{"id":"` + eventID + `","resource":"app","data":{}}`,
		"no resource":      `{"id":"` + eventID + `","action":"update","data":{}}`,
		"no data":          `{"id":"` + eventID + `","action":"update","resource":"app"}`,
		"bad app data":     strings.Replace(good, `"name":"shop-prod"`, `"name":["secret-value-xyz"]`, 1),
		"bad app id":       strings.Replace(good, `"id":"a9a9a9a9-0000-4000-8000-000000000004"`, `"id":"secret-value-xyz"`, 1),
		"bad created_at":   strings.Replace(good, `"created_at":"2025-01-02T10:00:00Z"`, `"created_at":"secret-value-xyz"`, 1),
		"bad previous":     strings.Replace(good, `{"name":"shop-staging"}`, `{"name":7}`, 1),
		"resource w space": `{"id":"` + eventID + `","action":"update","resource":"a b","data":{}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseWebhookEvent([]byte(body))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "secret-value-xyz", "errors never quote the body")
		})
	}
}

func TestEventIDFromMetadata(t *testing.T) {
	body := `{"action":"create","resource":"domain","data":{"hostname":"x"},` +
		`"webhook_metadata":{"event":{"id":"` + eventID + `","include":"api:domain"}}}`
	ev, err := ParseWebhookEvent([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, eventID, ev.ID.String())
	assert.Equal(t, "api:domain", ev.Include)
}

func FuzzParseWebhookEvent(f *testing.F) {
	for _, name := range []string{"webhook_app_update.json", "webhook_addon_destroy.json", "webhook_addon_plan.json",
		"webhook_attachment_create.json", "webhook_release_create.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"id":"` + eventID + `","action":"update","resource":"addon","data":{"actions":{}},"previous_data":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseWebhookEvent(data)
		if err != nil {
			if ev != nil {
				t.Fatal("an error came with an event")
			}
			return
		}
		if ev.ID == uuid.Nil || ev.Action == "" || ev.Resource == "" || ev.Include == "" {
			t.Fatalf("accepted an event without identity: %v", ev)
		}
		typed := 0
		for _, set := range []bool{ev.App != nil, ev.Addon != nil, ev.Attachment != nil} {
			if set {
				typed++
			}
		}
		known := ev.Resource == WebhookResourceApp || ev.Resource == WebhookResourceAddon || ev.Resource == WebhookResourceAttachment
		if (typed == 1) != known || typed > 1 {
			t.Fatalf("resource %q decoded into %d typed fields", ev.Resource, typed)
		}
		_ = ev.Changed("name")
		_ = ev.ResourceID()
	})
}
