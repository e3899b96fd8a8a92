package herokupartner

import (
	"context"
	"errors"
)

// ApplyWebhook applies what an add-on webhook event says to the map, at
// once: an app renamed gives every resource billed to it the new name, an
// app or add-on destroyed removes its resources, a plan change records the
// plan. Other events change nothing and return nil. Use it as, or in,
// WebhookReceiverConfig.OnEvent: an error answers 500 and Heroku delivers
// the event again.
func (t *Tracker) ApplyWebhook(ctx context.Context, ev *WebhookEvent) error {
	if ev == nil {
		return errors.New("herokupartner: ApplyWebhook: nil event")
	}
	switch {
	case ev.App != nil && ev.Action == WebhookActionDestroy:
		return t.AppDestroyed(ctx, ev.App.ID.String())
	case ev.App != nil && ev.Action == WebhookActionUpdate && ev.Changed("name"):
		return t.AppRenamed(ctx, ev.App.ID.String(), ev.App.Name)
	case ev.Addon != nil && ev.Action == WebhookActionDestroy:
		return t.AddonDestroyed(ctx, ev.Addon.ID.String())
	case ev.Addon != nil && ev.Action == WebhookActionUpdate && ev.Changed("plan"):
		return t.PlanChanged(ctx, ev.Addon.ID.String(), ev.Addon.Plan)
	}
	return nil
}
