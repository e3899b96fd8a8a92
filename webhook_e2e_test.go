package herokupartner_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebhooksEndToEnd subscribes through the SDK's client on the fake,
// receives the fake's signed deliveries with the SDK's receiver, and checks
// the typed events: the two halves agree on the wire.
func TestWebhooksEndToEnd(t *testing.T) {
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{{Name: "shop-staging"}}})
	res := seeded.Resources[0]

	var mu sync.Mutex
	var got []*herokupartner.WebhookEvent
	auth := herokupartner.NewSecret("Bearer partner-says-hello")
	secret := herokupartner.NewSecret("whsec-0123456789abcdef")
	rcv, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets:       []herokupartner.Secret{secret},
		Authorization: auth,
		OnEvent: func(_ context.Context, ev *herokupartner.WebhookEvent) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
			return nil
		},
	})
	require.NoError(t, err)
	endpoint := httptest.NewServer(rcv)
	t.Cleanup(endpoint.Close)

	ctx := context.Background()
	client := fake.Client(res.Token.Reveal())
	hook, err := client.SubscribeAddonWebhooks(ctx, res.Addon.ID.String(), herokupartner.WebhookSubscription{
		URL: endpoint.URL + "/heroku/webhooks", Secret: secret, Authorization: auth,
	})
	require.NoError(t, err)
	assert.Equal(t, res.Addon.ID, hook.Addon.ID)

	fake.RenameApp(res.App.ID, "shop-production")
	fake.DestroyAddon(res.Addon.ID)
	require.NoError(t, fake.WaitForDeliveries(ctx))

	for _, d := range fake.WebhookDeliveries() {
		assert.Equal(t, "succeeded", string(d.Status), "delivery %s %s", d.Include, d.Action)
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	rename := got[0]
	assert.Equal(t, herokupartner.WebhookResourceApp, rename.Resource)
	assert.Equal(t, herokupartner.WebhookActionUpdate, rename.Action)
	require.NotNil(t, rename.App)
	require.NotNil(t, rename.PreviousApp)
	assert.Equal(t, "shop-production", rename.App.Name)
	assert.Equal(t, "shop-staging", rename.PreviousApp.Name)
	assert.True(t, rename.Changed("name"))

	last := got[len(got)-1]
	assert.Equal(t, herokupartner.WebhookResourceAddon, last.Resource)
	assert.Equal(t, herokupartner.WebhookActionDestroy, last.Action)
	assert.Equal(t, res.Addon.ID, last.ResourceID())
}
