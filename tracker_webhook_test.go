package herokupartner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
)

// webhookBody is a delivery body for resource/action with data and
// previous_data as given.
func webhookBody(resource, action, data, previous string) []byte {
	id := uuid.NewString()
	return fmt.Appendf(nil, `{"id":%q,"action":%q,"resource":%q,"actor":{"id":%q,"email":"dev@example.com"},
"data":%s,"previous_data":%s,"version":"application/vnd.heroku+json; version=3",
"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-01-05T09:00:00Z",
"webhook_metadata":{"event":{"id":%q,"include":"api:%s"},"webhook":{"id":%q},"delivery":{"id":%q},"attempt":{"id":%q}}}`,
		id, action, resource, uuid.NewString(), data, previous, id, resource, uuid.NewString(), uuid.NewString(), uuid.NewString())
}

func TestTrackerAppliesWebhookEvents(t *testing.T) {
	f := newFleet(t, shopWorld())
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	ctx := context.Background()
	f.clock.runFor(t, tr, 30*time.Second)
	f.takeChanges()
	r := f.seeded.Resources
	apply := func(body []byte) {
		t.Helper()
		ev, err := hp.ParseWebhookEvent(body)
		require.NoError(t, err)
		require.NoError(t, tr.ApplyWebhook(ctx, ev))
	}

	apply(webhookBody("app", "update", fmt.Sprintf(`{"id":%q,"name":"shop-live"}`, r[1].App.ID), `{"name":"shop-prod"}`))
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeAppRenamed: 2}, kinds(f.takeChanges()))
	// An update that is not a rename changes nothing.
	apply(webhookBody("app", "update", fmt.Sprintf(`{"id":%q,"name":"shop-live","maintenance":true}`, r[1].App.ID), `{"maintenance":false}`))
	assert.Empty(t, f.takeChanges())

	plan := uuid.New()
	apply(webhookBody("addon", "update", fmt.Sprintf(`{"id":%q,"name":"a","app":{"id":%q},"plan":{"id":%q,"name":"myaddon:pro"}}`,
		r[0].Addon.ID, r[0].App.ID, plan), fmt.Sprintf(`{"plan":{"id":%q,"name":"myaddon:basic"}}`, uuid.New())))
	pc := f.takeChanges()
	require.Len(t, pc, 1)
	assert.Equal(t, hp.ChangePlanChanged, pc[0].Kind)
	assert.Equal(t, plan, pc[0].After.Resolution.Addon.Plan.ID)

	apply(webhookBody("addon", "destroy", fmt.Sprintf(`{"id":%q,"name":"a","app":{"id":%q}}`, r[0].Addon.ID, r[0].App.ID), `{}`))
	apply(webhookBody("app", "destroy", fmt.Sprintf(`{"id":%q,"name":"shop-live"}`, r[1].App.ID), `{}`))
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeRemoved: 3}, kinds(f.takeChanges()))
	left, err := tr.Resources(ctx)
	require.NoError(t, err)
	assert.Len(t, left, 2)
	assert.Error(t, tr.ApplyWebhook(ctx, nil))
}
