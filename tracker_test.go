package herokupartner_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// trackerClock is the refresher's clock in tests: it moves only when the
// refresher waits, by exactly the wait, so a run of hours takes as long as
// its requests do. Run stops once the clock reaches stopAt.
type trackerClock struct {
	mu     sync.Mutex
	now    time.Time
	stopAt time.Time
	stop   context.CancelFunc
}

func newTrackerClock() *trackerClock {
	return &trackerClock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (c *trackerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *trackerClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	stop := c.stop != nil && !c.now.Before(c.stopAt)
	c.mu.Unlock()
	if stop {
		c.stop()
	}
	return ctx.Err()
}

// runFor runs tr's refresher for d of virtual time.
func (c *trackerClock) runFor(t testing.TB, tr *hp.Tracker, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.stopAt, c.stop = c.now.Add(d), cancel
	c.mu.Unlock()
	err := tr.Run(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	c.mu.Lock()
	c.stop = nil
	c.mu.Unlock()
}

// stampedTransport records, on the virtual clock, when each request left.
type stampedTransport struct {
	base  http.RoundTripper
	clock *trackerClock
	mu    sync.Mutex
	sent  []time.Time
}

func (s *stampedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.sent = append(s.sent, s.clock.Now())
	s.mu.Unlock()
	return s.base.RoundTrip(r)
}

// busiestMinute returns the most requests sent within any 60 s window.
func (s *stampedTransport) busiestMinute() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	most, lo := 0, 0
	for hi, at := range s.sent {
		for !s.sent[lo].After(at.Add(-time.Minute)) {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// fleet is a seeded fake with a client per resource and a Tracker over it.
type fleet struct {
	fake    *herokupartnertest.Server
	clock   *trackerClock
	wire    *stampedTransport
	seeded  *herokupartnertest.Seeded
	clients map[string]*hp.Client
	mu      sync.Mutex
	changes []hp.Change
}

func newFleet(t testing.TB, world herokupartnertest.World, opts ...herokupartnertest.Option) *fleet {
	t.Helper()
	f := &fleet{clock: newTrackerClock(), clients: map[string]*hp.Client{}}
	f.fake = herokupartnertest.NewServer(append([]herokupartnertest.Option{
		herokupartnertest.WithClock(f.clock.Now),
		herokupartnertest.WithAccessTokenLifetime(10000 * time.Hour),
		herokupartnertest.WithRequestLogCapacity(0),
	}, opts...)...)
	t.Cleanup(f.fake.Close)
	f.wire = &stampedTransport{base: f.fake.HTTPClient().Transport, clock: f.clock}
	base, err := hp.NewClient(append(f.fake.ClientOptions(), hp.WithHTTPClient(&http.Client{Transport: f.wire}))...)
	require.NoError(t, err)
	f.seeded = f.fake.Seed(world)
	for _, r := range f.seeded.Resources {
		f.clients[r.Addon.ID.String()] = base.WithToken(r.Token.Reveal())
	}
	return f
}

func (f *fleet) tracker(t testing.TB, cfg hp.TrackerConfig) *hp.Tracker {
	t.Helper()
	cfg.ClientFor = func(_ context.Context, id string) (*hp.Client, error) {
		if cl, ok := f.clients[id]; ok {
			return cl, nil
		}
		return nil, fmt.Errorf("no token for resource %s", id)
	}
	cfg.Now, cfg.Sleep = f.clock.Now, f.clock.Sleep
	cfg.OnChange = func(c hp.Change) {
		f.mu.Lock()
		f.changes = append(f.changes, c)
		f.mu.Unlock()
	}
	tr, err := hp.NewTracker(cfg)
	require.NoError(t, err)
	for _, r := range f.seeded.Resources {
		require.NoError(t, tr.Track(context.Background(), r.Addon.ID.String()))
	}
	return tr
}

// takeChanges returns the changes reported since the last call.
func (f *fleet) takeChanges() []hp.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.changes
	f.changes = nil
	return out
}

func kinds(cs []hp.Change) map[hp.ChangeKind]int {
	out := map[hp.ChangeKind]int{}
	for _, c := range cs {
		out[c.Kind]++
	}
	return out
}

// shopWorld: two apps in one pipeline, one in another, one in none.
func shopWorld() herokupartnertest.World {
	return herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Customer: "acme", Name: "shop-staging", Pipeline: "shop", Stage: hp.StageStaging},
		{Customer: "acme", Name: "shop-prod", Pipeline: "shop", Stage: hp.StageProduction, Plans: []string{"basic", "pro"}},
		{Customer: "acme", Name: "blog", Pipeline: "blog", Stage: hp.StageProduction},
		{Customer: "acme", Name: "reports"},
	}}
}

func TestTrackerResolvesTrackedResourcesAndReportsThem(t *testing.T) {
	f := newFleet(t, shopWorld())
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	f.clock.runFor(t, tr, 30*time.Second) // one pass: 12 requests, a second apart

	// 5 resources on 4 apps over 2 pipelines: 5 add-ons + 5 couplings +
	// 2 pipelines; a pipeline read once serves every coupling naming it.
	assert.Equal(t, 12, f.fake.RequestCount())
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeAdded: 5}, kinds(f.takeChanges()))
	all, err := tr.Resources(context.Background())
	require.NoError(t, err)
	require.Len(t, all, 5)
	for i, r := range f.seeded.Resources {
		got := all[indexOf(all, r.Addon.ID.String())]
		require.NotNil(t, got.Resolution, "resource %d", i)
		assert.Equal(t, r.App.Name, got.Resolution.App.Name)
		assert.Equal(t, r.Stage, got.Resolution.Stage)
		assert.False(t, got.ConfirmedAt.IsZero())
		if r.Pipeline != nil {
			assert.Equal(t, r.Pipeline.Name, got.Resolution.Pipeline.Name)
		} else {
			assert.Nil(t, got.Resolution.Pipeline)
		}
	}
}

func indexOf(all []hp.TrackedResource, id string) int {
	for i, r := range all {
		if r.ResourceID == id {
			return i
		}
	}
	return -1
}

func TestTrackerAppliesEventsAtOnce(t *testing.T) {
	f := newFleet(t, shopWorld())
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	ctx := context.Background()
	f.clock.runFor(t, tr, 2*time.Minute)
	f.takeChanges()
	before := f.fake.RequestCount()
	prod := f.seeded.Resources[1] // shop-prod has two of our add-ons

	require.NoError(t, tr.AppRenamed(ctx, prod.App.ID.String(), "shop-live"))
	renamed := f.takeChanges()
	require.Len(t, renamed, 2, "both add-ons of the app")
	for _, c := range renamed {
		assert.Equal(t, hp.ChangeAppRenamed, c.Kind)
		assert.Equal(t, "shop-prod", c.Before.Resolution.App.Name)
		assert.Equal(t, "shop-live", c.After.Resolution.App.Name)
	}
	got, err := tr.Resource(ctx, prod.Addon.ID.String())
	require.NoError(t, err)
	assert.Equal(t, "shop-live", got.Resolution.App.Name)
	assert.Equal(t, "shop-live", got.Resolution.Addon.App.Name)

	plan := hp.Ref{ID: uuid.New(), Name: "myaddon:pro"}
	require.NoError(t, tr.PlanChanged(ctx, prod.Addon.ID.String(), plan))
	pc := f.takeChanges()
	require.Len(t, pc, 1)
	assert.Equal(t, hp.ChangePlanChanged, pc[0].Kind)
	assert.Equal(t, plan, pc[0].After.Resolution.Addon.Plan)

	require.NoError(t, tr.AddonDestroyed(ctx, f.seeded.Resources[0].Addon.ID.String()))
	require.NoError(t, tr.AppDestroyed(ctx, prod.App.ID.String()))
	removed := f.takeChanges()
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeRemoved: 3}, kinds(removed))
	for _, c := range removed {
		assert.Nil(t, c.After)
		assert.NotNil(t, c.Before)
	}
	n, err := tr.Resources(ctx)
	require.NoError(t, err)
	assert.Len(t, n, 2)
	assert.Equal(t, before, f.fake.RequestCount(), "events cost no request")

	err = tr.AppRenamed(ctx, "not-a-uuid-but-maybe-a-token", "x")
	require.ErrorIs(t, err, hp.ErrInvalidID)
	assert.NotContains(t, err.Error(), "maybe-a-token")
}

func TestTrackerReportsCouplingChanges(t *testing.T) {
	f := newFleet(t, shopWorld())
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	f.clock.runFor(t, tr, 30*time.Second) // one pass: 12 requests, a second apart
	f.takeChanges()
	r := f.seeded.Resources
	shop, blog := f.seeded.Pipelines["shop"], f.seeded.Pipelines["blog"]

	f.fake.Couple(r[0].App.ID, shop.ID, hp.StageProduction) // promoted
	f.fake.Couple(r[3].App.ID, shop.ID, hp.StageReview)     // blog moved to shop
	f.fake.Uncouple(r[4].App.ID)                            // reports: already in none
	f.fake.Couple(r[4].App.ID, blog.ID, hp.StageStaging)    // reports joins blog
	start := f.fake.RequestCount()
	f.clock.runFor(t, tr, time.Minute) // each entry is due once more

	got := map[string]hp.ChangeKind{}
	for _, c := range f.takeChanges() {
		got[c.ResourceID] = c.Kind
	}
	assert.Equal(t, map[string]hp.ChangeKind{
		r[0].Addon.ID.String(): hp.ChangeStageChanged,
		r[3].Addon.ID.String(): hp.ChangeMovedPipeline,
		r[4].Addon.ID.String(): hp.ChangeJoinedPipeline,
	}, got)
	// One coupling each; both pipelines were read within the hour.
	assert.Equal(t, 5, f.fake.RequestCount()-start)

	f.fake.Uncouple(r[0].App.ID)
	f.clock.runFor(t, tr, time.Minute)
	left := f.takeChanges()
	require.Len(t, left, 1)
	assert.Equal(t, hp.ChangeLeftPipeline, left[0].Kind)
	assert.Equal(t, hp.StageProduction, left[0].Before.Resolution.Stage)
	assert.False(t, left[0].After.Resolution.InPipeline())
}

func TestTrackerRemovesRevokedResources(t *testing.T) {
	world := shopWorld()
	world.Apps[3].Revoked = true
	f := newFleet(t, world)
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60})
	f.clock.runFor(t, tr, 30*time.Second) // one pass: 12 requests, a second apart
	all, err := tr.Resources(context.Background())
	require.NoError(t, err)
	// A static token that is refused is ErrUnauthorized, not a revoked
	// grant (only a TokenManager knows that): kept, with the error.
	require.Len(t, all, 5)
	bad := all[indexOf(all, f.seeded.Resources[4].Addon.ID.String())]
	assert.Nil(t, bad.Resolution)
	assert.Contains(t, bad.LastError, "401")
	assert.False(t, bad.CheckedAt.IsZero())
}
