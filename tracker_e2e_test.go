package herokupartner_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// hookSecret signs every test subscription's deliveries.
var hookSecret = hp.NewSecret("whsec-e2e-0123456789abcdef")

// subscribeAll serves a WebhookReceiver that calls onEvent, on the
// receiver's clock now, and subscribes each resource to it with its own
// client, as provisioning does.
func subscribeAll(t testing.TB, resources []herokupartnertest.SeededResource, clientOf func(id string) *hp.Client,
	now func() time.Time, onEvent func(context.Context, *hp.WebhookEvent) error) {
	t.Helper()
	rcv, err := hp.NewWebhookReceiver(hp.WebhookReceiverConfig{Secrets: []hp.Secret{hookSecret}, OnEvent: onEvent, Now: now})
	require.NoError(t, err)
	endpoint := httptest.NewServer(rcv)
	t.Cleanup(endpoint.Close)
	for _, r := range resources {
		id := r.Addon.ID.String()
		_, err := clientOf(id).SubscribeAddonWebhooks(context.Background(), id, hp.WebhookSubscription{
			URL: endpoint.URL + "/heroku/webhooks/" + id, Secret: hookSecret})
		require.NoError(t, err)
	}
}

// patientRetry lets a delivery that meets another in flight (409, two
// add-ons on one renamed app) be retried until it is answered as a
// duplicate, however loaded the machine.
var patientRetry = herokupartnertest.WithWebhookRetry(herokupartnertest.WebhookRetry{
	Attempts: 50, Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})

// requireDelivered waits for every delivery and checks each succeeded.
func requireDelivered(t *testing.T, fake *herokupartnertest.Server) {
	t.Helper()
	require.NoError(t, fake.WaitForDeliveries(context.Background()))
	for _, d := range fake.WebhookDeliveries() {
		require.Equal(t, "succeeded", d.Status, "%s %s delivery", d.Include, d.Action)
	}
}

// TestTrackerFollowsTheFakesWebhooks runs the whole chain in process: the
// fake's signed deliveries reach the SDK's receiver, whose OnEvent is the
// tracker's ApplyWebhook. What a webhook says is in the map, and reported,
// by the time WaitForDeliveries returns, without a request; a coupling
// change, which Heroku announces with no event, only by the refresher,
// within its budget.
func TestTrackerFollowsTheFakesWebhooks(t *testing.T) {
	f := newFleet(t, shopWorld(), patientRetry)
	const budget = 60
	tr := f.tracker(t, hp.TrackerConfig{Budget: budget})
	ctx := context.Background()
	subscribeAll(t, f.seeded.Resources, func(id string) *hp.Client { return f.clients[id] }, f.clock.Now, tr.ApplyWebhook)
	f.clock.runFor(t, tr, 30*time.Second) // the first pass: 12 requests
	require.Equal(t, map[hp.ChangeKind]int{hp.ChangeAdded: 5}, kinds(f.takeChanges()))
	r := f.seeded.Resources // staging, prod ×2, blog, reports
	entry := func(i int) *hp.TrackedResource {
		e, err := tr.Resource(ctx, r[i].Addon.ID.String())
		require.NoError(t, err)
		return e
	}
	sent := f.fake.RequestCount()

	// A rename of an app with two of our add-ons: both subscriptions get
	// the event, the receiver handles it once, both entries change.
	f.fake.RenameApp(r[1].App.ID, "shop-live")
	requireDelivered(t, f.fake)
	renamed := f.takeChanges()
	require.Len(t, renamed, 2)
	for _, c := range renamed {
		assert.Equal(t, hp.ChangeAppRenamed, c.Kind)
		assert.Equal(t, "shop-prod", c.Before.Resolution.App.Name)
		assert.Equal(t, "shop-live", c.After.Resolution.App.Name)
	}
	assert.Equal(t, "shop-live", entry(1).Resolution.App.Name)
	assert.Equal(t, "shop-live", entry(2).Resolution.App.Name)

	f.fake.ChangePlan(r[3].Addon.ID, "pro")
	requireDelivered(t, f.fake)
	plan := f.takeChanges()
	require.Len(t, plan, 1)
	assert.Equal(t, hp.ChangePlanChanged, plan[0].Kind)
	assert.Contains(t, entry(3).Resolution.Addon.Plan.Name, "pro")

	// A deprovisioned add-on leaves the map at once.
	f.fake.DestroyAddon(r[4].Addon.ID)
	requireDelivered(t, f.fake)
	gone := f.takeChanges()
	require.Len(t, gone, 1)
	assert.Equal(t, hp.ChangeRemoved, gone[0].Kind)
	assert.Equal(t, r[4].Addon.ID.String(), gone[0].ResourceID)
	assert.Nil(t, entry(4))
	assert.Equal(t, sent, f.fake.RequestCount(), "webhooks cost no request")

	// A promotion sends nothing: the map is unchanged until the
	// refresher's next pass, which costs one request per entry and
	// stays within the budget.
	f.fake.Couple(r[0].App.ID, f.seeded.Pipelines["shop"].ID, hp.StageProduction)
	requireDelivered(t, f.fake)
	assert.Empty(t, f.takeChanges())
	assert.Equal(t, hp.StageStaging, entry(0).Resolution.Stage)
	fr, err := tr.Freshness(ctx)
	require.NoError(t, err)
	f.clock.runFor(t, tr, fr.Bound)
	promoted := f.takeChanges()
	require.Len(t, promoted, 1)
	assert.Equal(t, hp.ChangeStageChanged, promoted[0].Kind)
	assert.Equal(t, hp.StageProduction, entry(0).Resolution.Stage)
	assert.Equal(t, 4, f.fake.RequestCount()-sent, "one coupling request for each of the 4 entries left")
	assert.LessOrEqual(t, f.wire.busiestMinute(), budget)

	// An app destroyed takes its resources with it.
	f.fake.DestroyApp(r[1].App.ID)
	requireDelivered(t, f.fake)
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeRemoved: 2}, kinds(f.takeChanges()))
	left, err := tr.Resources(ctx)
	require.NoError(t, err)
	assert.Len(t, left, 2)
}
