package rediscache_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/rediscache"
	"github.com/redis/go-redis/v9"
)

// A Cache deletes keys, so InvalidateWebhook drops entries instead of
// overwriting them.
var _ herokupartner.CacheDeleter = (*rediscache.Cache)(nil)

// TestWebhookInvalidatesEveryReplica: the replica that receives a webhook
// deletes the stale entries from Redis, and another replica's next batch
// asks the API for exactly those, and reads the rest from the cache.
func TestWebhookInvalidatesEveryReplica(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	r := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "shop-staging", Pipeline: "shop", Stage: herokupartner.StageStaging},
		{Name: "shop", Pipeline: "shop", Stage: herokupartner.StageProduction, Plans: []string{"basic", "basic"}},
		{Name: "reports"},
	}}).Resources
	var items []herokupartner.BatchItem
	byApp := map[string][]string{}
	for _, res := range r {
		id := res.Addon.ID.String()
		items = append(items, herokupartner.BatchItem{ResourceUUID: id, Client: fake.Client(res.Token.Reveal())})
		byApp[res.App.ID.String()] = append(byApp[res.App.ID.String()], id)
	}
	policy := herokupartner.CachePolicy{CouplingsTTL: time.Hour}
	replica := func() (*rediscache.Cache, func() []herokupartner.BatchResult) {
		own := redis.NewClient(&redis.Options{Addr: server.addr})
		t.Cleanup(func() { _ = own.Close() })
		c := rediscache.New(own, rediscache.WithPrefix("acme:"))
		return c, func() []herokupartner.BatchResult {
			return items[0].Client.ResolvePipelines(ctx, items, herokupartner.BatchCache(c, policy))
		}
	}
	receiving, _ := replica()
	_, resolveOther := replica()
	for i, res := range resolveOther() {
		if res.Err != nil {
			t.Fatalf("warming, item %d: %v", i, res.Err)
		}
	}

	secret := herokupartner.NewSecret("whsec-rediscache-test")
	rcv, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		Secrets: []herokupartner.Secret{secret},
		OnEvent: func(ctx context.Context, ev *herokupartner.WebhookEvent) error {
			return herokupartner.InvalidateWebhook(ctx, receiving, ev, func(_ context.Context, app string) ([]string, error) {
				return byApp[app], nil
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := httptest.NewServer(rcv)
	defer endpoint.Close()
	for _, res := range r {
		if _, err := fake.Client(res.Token.Reveal()).SubscribeAddonWebhooks(ctx, res.Addon.ID.String(),
			herokupartner.WebhookSubscription{URL: endpoint.URL + "/hooks", Secret: secret, Include: []string{herokupartner.WebhookIncludeAddon}}); err != nil {
			t.Fatal(err)
		}
	}

	exists := func(kind string, i int) bool {
		n, err := rdb.Exists(ctx, "acme:herokupartner:v2:"+kind+":"+r[i].Addon.ID.String()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !exists("addon", 3) || !exists("couplings", 3) {
		t.Fatal("the warm cache lacks the entries the test removes")
	}
	fake.DestroyAddon(r[3].Addon.ID) // reports' add-on
	fake.ChangePlan(r[1].Addon.ID, "pro")
	if err := fake.WaitForDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range fake.WebhookDeliveries() {
		if d.Status != "succeeded" {
			t.Fatalf("%s %s delivery: %s", d.Include, d.Action, d.Status)
		}
	}
	if exists("addon", 3) || exists("couplings", 3) {
		t.Error("the destroyed add-on's entries are still in Redis")
	}
	if exists("addon", 1) || !exists("couplings", 1) {
		t.Error("a plan change should drop the add-on entry and keep the coupling")
	}

	got := resolveOther()
	if !errors.Is(got[3].Err, herokupartner.ErrUnauthorized) {
		t.Errorf("destroyed add-on on the other replica: err %v; want the API's 401, not the cached resolution", got[3].Err)
	}
	if got[1].Err != nil || got[1].Requests != 1 || got[1].Resolution.Addon.Plan.Name != "acme-metrics:pro" {
		t.Errorf("plan-changed add-on: %d requests, err %v; want its add-on asked again", got[1].Requests, got[1].Err)
	}
	for _, i := range []int{0, 2} {
		if got[i].Err != nil || got[i].Requests != 0 {
			t.Errorf("item %d: %d requests, err %v; want all from the shared cache", i, got[i].Requests, got[i].Err)
		}
	}
}
