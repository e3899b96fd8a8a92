package herokupartner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// cacheRig is the shop world on the fake, one client per resource, and
// the apps' resources as a tracker's store would list them.
type cacheRig struct {
	fake  *herokupartnertest.Server
	r     []herokupartnertest.SeededResource
	items []hp.BatchItem
	byApp map[string][]string
}

func newCacheRig(t *testing.T) *cacheRig {
	t.Helper()
	rig := &cacheRig{fake: herokupartnertest.NewServer(patientRetry), byApp: map[string][]string{}}
	t.Cleanup(rig.fake.Close)
	rig.r = rig.fake.Seed(shopWorld()).Resources
	for _, r := range rig.r {
		id := r.Addon.ID.String()
		rig.items = append(rig.items, hp.BatchItem{ResourceUUID: id, Client: rig.fake.Client(r.Token.Reveal())})
		rig.byApp[r.App.ID.String()] = append(rig.byApp[r.App.ID.String()], id)
	}
	return rig
}

func (rig *cacheRig) appResources(_ context.Context, appID string) ([]string, error) {
	return rig.byApp[appID], nil
}

// resolve runs a batch over every resource with cache; couplings are kept
// an hour, so that only invalidation makes an entry miss.
func (rig *cacheRig) resolve(cache hp.Cache) []hp.BatchResult {
	return rig.items[0].Client.ResolvePipelines(context.Background(), rig.items,
		hp.BatchCache(cache, hp.CachePolicy{CouplingsTTL: time.Hour}))
}

// subscribe delivers every event to InvalidateWebhook on cache.
func (rig *cacheRig) subscribe(t *testing.T, cache hp.Cache) {
	t.Helper()
	subscribeAll(t, rig.r, func(id string) *hp.Client { return rig.items[rig.index(id)].Client }, nil,
		func(ctx context.Context, ev *hp.WebhookEvent) error {
			return hp.InvalidateWebhook(ctx, cache, ev, rig.appResources)
		})
}

func (rig *cacheRig) index(id string) int {
	for i, it := range rig.items {
		if it.ResourceUUID == id {
			return i
		}
	}
	panic("unknown resource " + id)
}

// TestWebhooksInvalidateTheCache: the fake's deliveries reach a receiver
// that invalidates a MemoryCache; a second, identical cache is not
// invalidated, and keeps serving what the events made stale.
func TestWebhooksInvalidateTheCache(t *testing.T) {
	rig := newCacheRig(t)
	invalidated, control := hp.NewMemoryCache(0), hp.NewMemoryCache(0)
	rig.subscribe(t, invalidated)
	for _, c := range []hp.Cache{invalidated, control} {
		for i, res := range rig.resolve(c) {
			require.NoError(t, res.Err, "warming, item %d", i)
		}
	}
	r := rig.r // staging, prod ×2, blog, reports

	rig.fake.RenameApp(r[1].App.ID, "shop-live")
	rig.fake.ChangePlan(r[3].Addon.ID, "pro")
	rig.fake.DestroyAddon(r[4].Addon.ID)
	requireDelivered(t, rig.fake)

	got, stale := rig.resolve(invalidated), rig.resolve(control)
	for _, i := range []int{1, 2} { // the renamed app's two add-ons
		require.NoError(t, got[i].Err)
		assert.Equal(t, "shop-live", got[i].Resolution.App.Name)
		assert.Equal(t, hp.CacheHitCouplings|hp.CacheHitPipeline, got[i].FromCache, "only the add-on entry was dropped")
		assert.Equal(t, "shop-prod", stale[i].Resolution.App.Name, "without invalidation the old name is served")
	}
	require.NoError(t, got[3].Err)
	assert.Contains(t, got[3].Resolution.Addon.Plan.Name, "pro")
	assert.NotContains(t, stale[3].Resolution.Addon.Plan.Name, "pro")
	// The destroyed add-on is asked again, and its revoked token refused;
	// from the stale cache it still resolves.
	require.ErrorIs(t, got[4].Err, hp.ErrUnauthorized)
	assert.NoError(t, stale[4].Err)
	// The staging app's entries were not touched.
	assert.Equal(t, 0, got[0].Requests)
	assert.True(t, got[0].FromCache.Has(hp.CacheHitAddon|hp.CacheHitCouplings|hp.CacheHitPipeline))

	// An app destroyed drops its resources' entries, couplings included.
	rig.fake.DestroyApp(r[1].App.ID)
	requireDelivered(t, rig.fake)
	got = rig.resolve(invalidated)
	for _, i := range []int{1, 2} {
		assert.ErrorIs(t, got[i].Err, hp.ErrUnauthorized)
	}
	assert.Equal(t, 0, got[3].Requests)
}

// getSetOnly is a Cache written before CacheDeleter: only Get and Set.
type getSetOnly struct{ c *hp.MemoryCache }

func (g getSetOnly) Get(ctx context.Context, k string) ([]byte, bool, error) { return g.c.Get(ctx, k) }
func (g getSetOnly) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return g.c.Set(ctx, k, v, ttl)
}

func TestInvalidateWebhookOverwritesACacheWithoutDelete(t *testing.T) {
	rig := newCacheRig(t)
	cache := getSetOnly{hp.NewMemoryCache(0)}
	rig.subscribe(t, cache)
	rig.resolve(cache)
	entries := cache.c.Len()
	rig.fake.RenameApp(rig.r[0].App.ID, "shop-qa")
	requireDelivered(t, rig.fake)
	got := rig.resolve(cache)
	require.NoError(t, got[0].Err)
	assert.Equal(t, "shop-qa", got[0].Resolution.App.Name)
	assert.Equal(t, 1, got[0].Requests, "the add-on asked again, nothing else")
	assert.Equal(t, 0, got[1].Requests)
	assert.Equal(t, entries, cache.c.Len(), "overwritten, then replaced by the fresh answer")
}

// recording is a CacheDeleter that records what it is asked to delete.
type recording struct {
	hp.Cache
	deleted [][]string
	err     error
}

func (r *recording) Delete(_ context.Context, keys ...string) error {
	r.deleted = append(r.deleted, keys)
	return r.err
}

func TestInvalidateWebhookEvents(t *testing.T) {
	ctx := context.Background()
	addon, app, other := uuid.New(), uuid.New(), uuid.New()
	byApp := func(_ context.Context, id string) ([]string, error) {
		if id == app.String() {
			return []string{addon.String(), other.String()}, nil
		}
		return nil, nil
	}
	addonData := fmt.Sprintf(`{"id":%q,"name":"acme-metrics-1","app":{"id":%q},"plan":{"id":%q,"name":"acme-metrics:pro"}}`, addon, app, uuid.New())
	appData := fmt.Sprintf(`{"id":%q,"name":"shop"}`, app)
	for _, tc := range []struct {
		name         string
		body         []byte
		byApp        func(context.Context, string) ([]string, error)
		addon, coupl []string // resources whose entries go
	}{
		{"add-on update", webhookBody("addon", "update", addonData, `{"plan":{"id":"`+uuid.NewString()+`"}}`), byApp,
			[]string{addon.String()}, nil},
		{"add-on destroy", webhookBody("addon", "destroy", addonData, `{}`), byApp,
			[]string{addon.String()}, []string{addon.String()}},
		{"add-on create", webhookBody("addon", "create", addonData, `{}`), byApp, nil, nil},
		{"app rename", webhookBody("app", "update", appData, `{"name":"shop-old"}`), byApp,
			[]string{addon.String(), other.String()}, nil},
		{"app destroy", webhookBody("app", "destroy", appData, `{}`), byApp,
			[]string{addon.String(), other.String()}, []string{addon.String(), other.String()}},
		{"app rename, no index", webhookBody("app", "update", appData, `{"name":"shop-old"}`), nil, nil, nil},
		{"app of no tracked resource", webhookBody("app", "destroy", fmt.Sprintf(`{"id":%q,"name":"x"}`, uuid.New()), `{}`), byApp, nil, nil},
		{"attachment", webhookBody("addon-attachment", "destroy",
			fmt.Sprintf(`{"id":%q,"name":"ACME","addon":{"id":%q,"name":"a","app":{"id":%q}},"app":{"id":%q}}`, uuid.New(), addon, app, app), `{}`),
			byApp, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := hp.ParseWebhookEvent(tc.body)
			require.NoError(t, err)
			rec := &recording{}
			require.NoError(t, hp.InvalidateWebhook(ctx, rec, ev, tc.byApp))
			var addonKeys, couplKeys []string
			for _, keys := range rec.deleted {
				for _, k := range keys {
					switch {
					case len(k) > 36 && k[:len(k)-36] == "herokupartner:v2:addon:":
						addonKeys = append(addonKeys, k[len(k)-36:])
					case len(k) > 36 && k[:len(k)-36] == "herokupartner:v2:couplings:":
						couplKeys = append(couplKeys, k[len(k)-36:])
					default:
						t.Errorf("unexpected key %q", k)
					}
				}
			}
			assert.ElementsMatch(t, tc.addon, addonKeys)
			assert.ElementsMatch(t, tc.coupl, couplKeys)
			assert.LessOrEqual(t, len(rec.deleted), 1, "one Delete call per event")
		})
	}
}

func TestInvalidateWebhookErrors(t *testing.T) {
	ctx := context.Background()
	app := uuid.New()
	ev, err := hp.ParseWebhookEvent(webhookBody("app", "destroy", fmt.Sprintf(`{"id":%q,"name":"shop"}`, app), `{}`))
	require.NoError(t, err)
	some := func(context.Context, string) ([]string, error) { return []string{uuid.NewString()}, nil }

	assert.ErrorContains(t, hp.InvalidateWebhook(ctx, nil, ev, some), "cache is nil")
	assert.ErrorContains(t, hp.InvalidateWebhook(ctx, hp.NewMemoryCache(0), nil, some), "nil event")
	storeDown := errors.New("store down")
	err = hp.InvalidateWebhook(ctx, hp.NewMemoryCache(0), ev, func(context.Context, string) ([]string, error) { return nil, storeDown })
	assert.ErrorIs(t, err, storeDown)
	cacheDown := errors.New("cache down")
	err = hp.InvalidateWebhook(ctx, &recording{err: cacheDown}, ev, some)
	assert.ErrorIs(t, err, cacheDown)
}

func TestMemoryCacheDelete(t *testing.T) {
	ctx := context.Background()
	c := hp.NewMemoryCache(0)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Set(ctx, k, []byte(k), time.Hour))
	}
	require.NoError(t, c.Delete(ctx, "a", "b", "absent"))
	require.NoError(t, c.Delete(ctx))
	assert.Equal(t, 1, c.Len())
	for k, want := range map[string]bool{"a": false, "b": false, "c": true} {
		_, ok, err := c.Get(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, want, ok, k)
	}
	// The LRU list stays consistent: filling the cache evicts in order.
	small := hp.NewMemoryCache(2)
	require.NoError(t, small.Set(ctx, "x", nil, time.Hour))
	require.NoError(t, small.Set(ctx, "y", nil, time.Hour))
	require.NoError(t, small.Delete(ctx, "x"))
	require.NoError(t, small.Set(ctx, "z", nil, time.Hour))
	assert.Equal(t, 2, small.Len())
	_, ok, _ := small.Get(ctx, "y")
	assert.True(t, ok)
}

// TestInvalidationWithTheTrackersIndex wires both, as the README shows:
// OnEvent invalidates the cache, with the tracker's index of resources by
// app, then applies the event to the tracker.
func TestInvalidationWithTheTrackersIndex(t *testing.T) {
	f := newFleet(t, shopWorld(), patientRetry)
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	ctx := context.Background()
	cache := hp.NewMemoryCache(0)
	cache.Now = f.clock.Now
	subscribeAll(t, f.seeded.Resources, func(id string) *hp.Client { return f.clients[id] }, f.clock.Now,
		func(ctx context.Context, ev *hp.WebhookEvent) error {
			if err := hp.InvalidateWebhook(ctx, cache, ev, tr.AppResources); err != nil {
				return err
			}
			return tr.ApplyWebhook(ctx, ev)
		})
	f.clock.runFor(t, tr, 30*time.Second)
	var items []hp.BatchItem
	for _, r := range f.seeded.Resources {
		items = append(items, hp.BatchItem{ResourceUUID: r.Addon.ID.String(), Client: f.clients[r.Addon.ID.String()]})
	}
	resolve := func() []hp.BatchResult {
		return items[0].Client.ResolvePipelines(ctx, items, hp.BatchCache(cache, hp.CachePolicy{CouplingsTTL: time.Hour}))
	}
	resolve()
	prod := f.seeded.Resources[1].App.ID.String()
	ids, err := tr.AppResources(ctx, prod)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{items[1].ResourceUUID, items[2].ResourceUUID}, ids)

	f.fake.RenameApp(f.seeded.Resources[1].App.ID, "shop-live")
	requireDelivered(t, f.fake)
	got := resolve()
	for i, res := range got {
		require.NoError(t, res.Err)
		if i == 1 || i == 2 {
			assert.Equal(t, "shop-live", res.Resolution.App.Name)
			assert.Equal(t, 1, res.Requests, "the add-on asked again")
			e, err := tr.Resource(ctx, res.ResourceUUID)
			require.NoError(t, err)
			assert.Equal(t, "shop-live", e.Resolution.App.Name)
		} else {
			assert.Equal(t, 0, res.Requests, "item %d from the cache", i)
		}
	}

	_, err = tr.AppResources(ctx, "not-an-id-maybe-a-token")
	require.ErrorIs(t, err, hp.ErrInvalidID)
	assert.NotContains(t, err.Error(), "maybe-a-token")
}
