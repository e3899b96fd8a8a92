package main

import (
	"context"
	"net/http/httptest"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// hookSecret signs the deliveries of every subscription. A partner keeps
// it with its other secrets; one per resource works too, with the
// receiver given all of them.
var hookSecret = hp.NewSecret("whsec-dashboard-example-0123456789")

// subscribe serves a WebhookReceiver whose OnEvent is onEvent, on the
// clock now, and subscribes each resource to it with its own token, as
// the provisioning path does once the grant is exchanged. The returned
// func stops the receiver's server.
func subscribe(ctx context.Context, resources []herokupartnertest.SeededResource, clientOf func(id string) *hp.Client,
	now func() time.Time, onEvent func(context.Context, *hp.WebhookEvent) error) (func(), error) {
	rcv, err := hp.NewWebhookReceiver(hp.WebhookReceiverConfig{Secrets: []hp.Secret{hookSecret}, OnEvent: onEvent, Now: now})
	if err != nil {
		return nil, err
	}
	endpoint := httptest.NewServer(rcv)
	for _, r := range resources {
		id := r.Addon.ID.String()
		sub := hp.WebhookSubscription{URL: endpoint.URL + "/heroku/webhooks/" + id, Secret: hookSecret}
		if _, err := clientOf(id).SubscribeAddonWebhooks(ctx, id, sub); err != nil {
			endpoint.Close()
			return nil, err
		}
	}
	return endpoint.Close, nil
}
