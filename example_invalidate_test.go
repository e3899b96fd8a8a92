package herokupartner_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// A webhook receiver keeps a resolution cache honest: once the customer
// renames an app, the next batch asks the API for that app's add-on again,
// and for nothing else.
func ExampleInvalidateWebhook() {
	ctx := context.Background()
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "shop-staging", Pipeline: "shop", Stage: herokupartner.StageStaging},
		{Name: "blog"},
	}})
	cache := herokupartner.NewMemoryCache(0)
	// The resources billed to each app; with a Tracker, its AppResources.
	byApp := map[string][]string{}
	appResources := func(_ context.Context, appID string) ([]string, error) { return byApp[appID], nil }

	secret := herokupartner.NewSecret("whsec-kept-by-the-partner")
	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets: []herokupartner.Secret{secret},
		OnEvent: func(ctx context.Context, ev *herokupartner.WebhookEvent) error {
			return herokupartner.InvalidateWebhook(ctx, cache, ev, appResources)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	endpoint := httptest.NewServer(receiver)
	defer endpoint.Close()

	var items []herokupartner.BatchItem
	for _, r := range seeded.Resources { // what provisioning does
		id := r.Addon.ID.String()
		client := fake.Client(r.Token.Reveal())
		sub := herokupartner.WebhookSubscription{URL: endpoint.URL + "/heroku/webhooks/" + id, Secret: secret}
		if _, err := client.SubscribeAddonWebhooks(ctx, id, sub); err != nil {
			log.Fatal(err)
		}
		items = append(items, herokupartner.BatchItem{ResourceUUID: id, Client: client})
		byApp[r.App.ID.String()] = append(byApp[r.App.ID.String()], id)
	}
	resolve := func() {
		for _, res := range items[0].Client.ResolvePipelines(ctx, items, herokupartner.BatchCache(cache, herokupartner.CachePolicy{})) {
			fmt.Printf("%-12s requests sent: %d\n", res.Resolution.App.Name, res.Requests)
		}
	}
	resolve()
	resolve()
	fake.RenameApp(seeded.Resources[0].App.ID, "shop-qa")
	if err := fake.WaitForDeliveries(ctx); err != nil {
		log.Fatal(err)
	}
	resolve()
	// Output:
	// shop-staging requests sent: 3
	// blog         requests sent: 2
	// shop-staging requests sent: 0
	// blog         requests sent: 0
	// shop-qa      requests sent: 1
	// blog         requests sent: 0
}
