package herokupartner_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	if err := ctx.Err(); err != nil {
		return err // as a real sleep would, at once
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	stop := c.stop != nil && !c.now.Before(c.stopAt)
	c.mu.Unlock()
	if stop {
		c.stop()
	}
	return ctx.Err()
}

// stopNow ends the current runFor at once.
func (c *trackerClock) stopNow() {
	c.mu.Lock()
	stop := c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
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
	paths []string
	low   *int
}

// count returns how many requests' paths contain part.
func (s *stampedTransport) count(part string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.paths {
		if strings.Contains(p, part) {
			n++
		}
	}
	return n
}

func (s *stampedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.sent = append(s.sent, s.clock.Now())
	s.paths = append(s.paths, r.URL.Path)
	s.mu.Unlock()
	resp, err := s.base.RoundTrip(r)
	if err == nil {
		if rem, convErr := strconv.Atoi(resp.Header.Get("RateLimit-Remaining")); convErr == nil {
			s.mu.Lock()
			if s.low == nil || rem < *s.low {
				s.low = &rem
			}
			s.mu.Unlock()
		}
	}
	return resp, err
}

// lowest returns the lowest RateLimit-Remaining answered, -1 if none.
func (s *stampedTransport) lowest() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.low == nil {
		return -1
	}
	return *s.low
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
	if cfg.ClientFor == nil {
		cfg.ClientFor = f.clientFor
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

func (f *fleet) clientFor(_ context.Context, id string) (*hp.Client, error) {
	if cl, ok := f.clients[id]; ok {
		return cl, nil
	}
	return nil, fmt.Errorf("no token for resource %s", id)
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
	assert.Error(t, tr.PlanChanged(ctx, prod.Addon.ID.String(), hp.Ref{Name: "no id"}))
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

func TestTrackerKeepsAResourceWhoseStaticTokenIsRefused(t *testing.T) {
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

// bigWorld is n apps with one add-on each, over pipelines of 100 apps.
func bigWorld(n int) herokupartnertest.World {
	stages := []hp.Stage{hp.StageDevelopment, hp.StageStaging, hp.StageProduction}
	w := herokupartnertest.World{Apps: make([]herokupartnertest.WorldApp, n)}
	for i := range w.Apps {
		w.Apps[i] = herokupartnertest.WorldApp{Customer: fmt.Sprint("c", i/100), Name: fmt.Sprint("app-", i),
			Pipeline: fmt.Sprint("p-", i/100), Stage: stages[i%3]}
	}
	return w
}

// TestTrackerTenThousandResourcesWithinBudget measures, on the virtual
// clock, what a 10,000-resource fleet costs at 60 requests a minute.
func TestTrackerTenThousandResourcesWithinBudget(t *testing.T) {
	const n, budget, pipelines = 10000, 60, 100
	f := newFleet(t, bigWorld(n))
	tr := f.tracker(t, hp.TrackerConfig{Budget: budget})
	ctx := context.Background()
	slots := func(k int) time.Duration { return time.Duration(k) * time.Minute / budget }

	// Cold: every resource's full resolution, each pipeline read once.
	f.clock.runFor(t, tr, slots(2*n+pipelines))
	assert.Equal(t, 2*n+pipelines, f.fake.RequestCount(), "cold pass: 2N+K requests")
	assert.Equal(t, map[hp.ChangeKind]int{hp.ChangeAdded: n}, kinds(f.takeChanges()))

	// Warm: one coupling request per resource.
	start := f.fake.RequestCount()
	passStart := f.clock.Now()
	f.clock.runFor(t, tr, slots(n))
	perPass := f.fake.RequestCount() - start
	assert.Equal(t, n, perPass, "warm pass: N requests")
	assert.LessOrEqual(t, f.wire.busiestMinute(), budget, "never above the budget in any minute")

	fr, err := tr.Freshness(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, fr.Resources)
	assert.Equal(t, slots(n), fr.Bound, "fleet size / budget")
	now := f.clock.Now()
	all, err := tr.Resources(ctx)
	require.NoError(t, err)
	var stalest time.Duration
	for _, e := range all {
		require.NotNil(t, e.Resolution)
		require.False(t, e.ConfirmedAt.Before(passStart), "every entry confirmed in the pass")
		stalest = max(stalest, now.Sub(e.ConfirmedAt))
	}
	assert.LessOrEqual(t, stalest, fr.Bound, "staleness bound achieved")
	assert.Equal(t, fr.Oldest, now.Add(-stalest))
	t.Logf("N=%d budget=%d/min: cold pass %d requests, warm pass %d requests, busiest minute %d, bound %s, stalest %s",
		n, budget, 2*n+pipelines, perPass, f.wire.busiestMinute(), fr.Bound, stalest)
}

func TestTrackerYieldsBelowTheReserve(t *testing.T) {
	// A bucket of 500, refilled at 75 a minute, and a refresher allowed
	// 600 a minute: with a reserve of 400 it stands aside for a minute
	// whenever an answer shows less, so the bucket never falls below
	// 399 and the refresher spends at most what refills.
	run := func(reserve int) (sent, low int) {
		f := newFleet(t, bigWorld(300), herokupartnertest.WithRateLimit(500, 75))
		tr := f.tracker(t, hp.TrackerConfig{Budget: 600, Reserve: reserve})
		f.clock.runFor(t, tr, 10*time.Minute)
		return f.fake.RequestCount(), f.wire.lowest()
	}
	sent, low := run(400)
	assert.GreaterOrEqual(t, low, 399, "interactive calls keep the reserve")
	assert.LessOrEqual(t, sent, 100+75*10+10, "about the refill")
	t.Logf("budget 600/min, reserve 400, bucket 500 refilled 75/min: %d requests in 10 minutes, lowest RateLimit-Remaining %d", sent, low)

	sent, low = run(-1)
	assert.Equal(t, 0, low, "without a reserve the bucket runs dry")
	t.Logf("same without a reserve: %d requests in 10 minutes, lowest %d", sent, low)
}

// deadLeader is a holder that dies: its Resign never reaches the lease.
type deadLeader struct{ hp.TrackerLeader }

func (deadLeader) Resign(context.Context) error { return nil }

func TestTrackerLeaseTakenOverWhenTheLeaderDies(t *testing.T) {
	const n = 200
	f := newFleet(t, bigWorld(n))
	store := &hp.MemoryTrackerStore{}
	a, err := hp.NewMemoryLeader("a", time.Minute, f.clock.Now)
	require.NoError(t, err)
	b, err := a.Holder("b")
	require.NoError(t, err)
	// MinAge of an hour: one pass only, so every request is counted once.
	// a dies as it starts its 101st resource, before sending anything
	// for it.
	started := 0
	dies := func(ctx context.Context, id string) (*hp.Client, error) {
		if started++; started > 100 {
			f.clock.stopNow()
			return nil, ctx.Err()
		}
		return f.clientFor(ctx, id)
	}
	ta := f.tracker(t, hp.TrackerConfig{Budget: 600, Store: store, Leader: deadLeader{a}, MinAge: time.Hour, ClientFor: dies})
	tb := f.tracker(t, hp.TrackerConfig{Budget: 600, Store: store, Leader: b, MinAge: time.Hour})

	f.clock.runFor(t, ta, time.Hour)
	byA := f.fake.RequestCount()
	require.Equal(t, 200, f.wire.count("/addons/")+f.wire.count("/pipeline-couplings"), "a resolved 100")
	// b waits for the lease to expire, takes over and finishes.
	f.clock.runFor(t, tb, 3*time.Minute)
	all, err := store.All(context.Background())
	require.NoError(t, err)
	for _, e := range all {
		require.NotNil(t, e.Resolution)
	}
	// Nothing asked twice: each add-on once, each coupling once; each
	// pipeline at most once per replica (b has not read a's).
	assert.Equal(t, n, f.wire.count("/addons/"))
	assert.Equal(t, n, f.wire.count("/pipeline-couplings"))
	assert.LessOrEqual(t, f.wire.count("/pipelines/"), 4)
	t.Logf("a sent %d requests and died; b took over: %d in all", byA, f.fake.RequestCount())
	assert.Equal(t, n, f.wire.count("/addons/"))
	assert.Equal(t, n, f.wire.count("/pipeline-couplings"))
}

func TestTrackerRemovesAResourceWhoseGrantIsRevoked(t *testing.T) {
	f := newFleet(t, shopWorld())
	ctx := context.Background()
	tokens, err := hp.NewTokenManager(f.fake.TokenManagerConfig())
	require.NoError(t, err)
	for _, r := range f.seeded.Resources {
		code, expires := f.fake.IssueGrant(r.Addon.ID)
		_, err := tokens.Exchange(ctx, r.Addon.ID.String(), hp.OAuthGrant{Code: hp.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"})
		require.NoError(t, err)
	}
	base, err := hp.NewClient(append(f.fake.ClientOptions(), hp.WithHTTPClient(&http.Client{Transport: f.wire}))...)
	require.NoError(t, err)
	tr := f.tracker(t, hp.TrackerConfig{Budget: 60, ClientFor: func(_ context.Context, id string) (*hp.Client, error) {
		return base.ForResource(tokens, id)
	}})
	f.clock.runFor(t, tr, 30*time.Second)
	require.Equal(t, map[hp.ChangeKind]int{hp.ChangeAdded: 5}, kinds(f.takeChanges()))

	gone := f.seeded.Resources[2]
	f.fake.RevokeGrant(gone.Addon.ID) // the customer removed the add-on
	f.clock.runFor(t, tr, time.Minute)
	removed := f.takeChanges()
	require.Len(t, removed, 1)
	assert.Equal(t, hp.ChangeRemoved, removed[0].Kind)
	assert.Equal(t, gone.Addon.ID.String(), removed[0].ResourceID)
	got, err := tr.Resource(ctx, gone.Addon.ID.String())
	require.NoError(t, err)
	assert.Nil(t, got)
}

func TestTrackerFollowNeedsANotifyingStore(t *testing.T) {
	tr, err := hp.NewTracker(hp.TrackerConfig{ClientFor: func(context.Context, string) (*hp.Client, error) { return nil, nil }})
	require.NoError(t, err)
	assert.ErrorContains(t, tr.Follow(context.Background()), "TrackerNotifier")
}
