package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/pgstore"
)

var trackerSeq atomic.Int64

// newTrackerStore returns a migrated TrackerStore in a table of its own.
func newTrackerStore(t testing.TB) *pgstore.TrackerStore {
	t.Helper()
	s, err := pgstore.NewTrackerStore(newPool(t, nil, nil), fmt.Sprintf("tracker_%d", trackerSeq.Add(1)))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

func newLeader(t testing.TB, table, holder string, now func() time.Time) *pgstore.Leader {
	t.Helper()
	l, err := pgstore.NewLeader(newPool(t, nil, nil), pgstore.LeaderConfig{Holder: holder, Table: table, TTL: time.Minute, Now: now})
	require.NoError(t, err)
	require.NoError(t, l.Migrate(context.Background()))
	return l
}

func entry(app uuid.UUID, name string, checked time.Time) *hp.TrackedResource {
	return &hp.TrackedResource{
		Resolution:  &hp.Resolution{App: hp.Ref{ID: app, Name: name}, Addon: &hp.Addon{App: hp.Ref{ID: app, Name: name}}},
		CheckedAt:   checked,
		ConfirmedAt: checked,
	}
}

func put(t testing.TB, s hp.TrackerStore, id string, e *hp.TrackedResource) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), id, func(*hp.TrackedResource) (*hp.TrackedResource, error) { return e, nil }))
}

func TestTrackerStoreKeepsTheMap(t *testing.T) {
	s := newTrackerStore(t)
	ctx := context.Background()
	app, other := uuid.New(), uuid.New()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 123456789, time.UTC)
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	put(t, s, ids[0], entry(app, "shop", t0.Add(2*time.Minute)))
	put(t, s, ids[1], entry(app, "shop", t0))
	put(t, s, ids[2], entry(other, "blog", t0.Add(time.Minute)))
	put(t, s, ids[3], &hp.TrackedResource{}) // tracked, never checked

	got, err := s.Get(ctx, ids[0])
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, ids[0], got.ResourceID)
	assert.Equal(t, "shop", got.Resolution.App.Name)
	assert.True(t, got.CheckedAt.Equal(t0.Add(2*time.Minute)), "nanoseconds survive: %s", got.CheckedAt)
	none, err := s.Get(ctx, uuid.NewString())
	require.NoError(t, err)
	assert.Nil(t, none)

	byApp, err := s.ByApp(ctx, app.String())
	require.NoError(t, err)
	assert.ElementsMatch(t, ids[:2], byApp)

	due, err := s.Due(ctx, t0.Add(90*time.Second), 10)
	require.NoError(t, err)
	var order []string
	for _, e := range due {
		order = append(order, e.ResourceID)
	}
	assert.Equal(t, []string{ids[3], ids[1], ids[2]}, order, "never checked, then oldest first")
	n, err := s.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n)

	// An error from fn changes nothing; nil removes.
	boom := errors.New("boom")
	err = s.Update(ctx, ids[0], func(cur *hp.TrackedResource) (*hp.TrackedResource, error) {
		cur.Resolution.App.Name = "changed"
		return nil, boom
	})
	require.ErrorIs(t, err, boom)
	got, err = s.Get(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "shop", got.Resolution.App.Name)
	require.NoError(t, s.Update(ctx, ids[0], func(*hp.TrackedResource) (*hp.TrackedResource, error) { return nil, nil }))
	byApp, err = s.ByApp(ctx, app.String())
	require.NoError(t, err)
	assert.Equal(t, []string{ids[1]}, byApp)

	err = s.Update(ctx, "Bearer HRKU-secret-token", func(*hp.TrackedResource) (*hp.TrackedResource, error) { return nil, nil })
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "HRKU")
}

func TestTrackerStoreUpdatesOfOneResourceAreAtomic(t *testing.T) {
	s := newTrackerStore(t)
	id := uuid.NewString()
	// 4 replicas × 10 increments of a counter kept in the app name, on a
	// row that does not exist yet: none is lost.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				assert.NoError(t, s.Update(context.Background(), id, func(cur *hp.TrackedResource) (*hp.TrackedResource, error) {
					if cur == nil {
						cur = entry(uuid.Nil, "", time.Time{})
					}
					cur.Resolution.App.Name += "x"
					return cur, nil
				}))
			}
		})
	}
	wg.Wait()
	got, err := s.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Len(t, got.Resolution.App.Name, 40)
}

func TestLeaderLeaseIsTakenOverWhenItExpires(t *testing.T) {
	ctx := context.Background()
	table := fmt.Sprintf("leases_%d", trackerSeq.Add(1))
	var mu sync.Mutex
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, b := newLeader(t, table, "a", clock), newLeader(t, table, "b", clock)

	lead := func(l *pgstore.Leader) bool {
		ok, err := l.Lead(ctx)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, lead(a))
	assert.False(t, lead(b))
	advance(50 * time.Second)
	assert.True(t, lead(a), "renewed")
	advance(50 * time.Second)
	assert.False(t, lead(b), "a renewed 50 s ago")
	advance(11 * time.Second) // a died: no renewal for more than the ttl
	assert.True(t, lead(b), "taken over")
	assert.False(t, lead(a))
	require.NoError(t, a.Resign(ctx), "resigning a lease not held changes nothing")
	assert.False(t, lead(a))
	require.NoError(t, b.Resign(ctx))
	assert.True(t, lead(a), "free at once after a resignation")

	// With the database's clock.
	c, err := pgstore.NewLeader(newPool(t, nil, nil), pgstore.LeaderConfig{Lease: "other", Table: table})
	require.NoError(t, err)
	assert.True(t, lead(c))
	assert.NotEmpty(t, c.Holder())
}

// trackerReplica is one process of a partner's service: its own clients, clock
// and Tracker, sharing the store and the lease with the others.
type trackerReplica struct {
	name string
	now  atomic.Int64 // virtual clock, unix nanoseconds
	stop atomic.Int64 // Run ends when now reaches it
	sent atomic.Int64
	tr   *hp.Tracker

	mu     sync.Mutex
	cancel context.CancelFunc // ends the current run
}

func (r *trackerReplica) Now() time.Time { return time.Unix(0, r.now.Load()).UTC() }

// sleep advances the virtual clock; a long wait (a replica that does not
// lead polls for the lease) also yields a moment of real time, so that
// it does not spin against the database.
func (r *trackerReplica) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d >= 10*time.Second {
		time.Sleep(2 * time.Millisecond)
	}
	if r.now.Add(int64(d)) >= r.stop.Load() {
		r.mu.Lock()
		r.cancel()
		r.mu.Unlock()
	}
	return ctx.Err()
}

// runFor runs the replica's refresher for d of its virtual time.
func (r *trackerReplica) runFor(t testing.TB, d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	r.stop.Store(r.now.Load() + int64(d))
	assert.ErrorIs(t, r.tr.Run(ctx), context.Canceled)
}

type countingTransport struct {
	base  http.RoundTripper
	r     *trackerReplica
	paths *sync.Map
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.r.sent.Add(1)
	n, _ := c.paths.LoadOrStore(req.URL.Path, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return c.base.RoundTrip(req)
}

func TestTwoReplicasRefreshWithoutDuplicateRequests(t *testing.T) {
	const n = 300
	ctx := context.Background()
	fake := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0), herokupartnertest.WithRequestLogCapacity(0))
	t.Cleanup(fake.Close)
	world := herokupartnertest.World{}
	for i := range n {
		world.Apps = append(world.Apps, herokupartnertest.WorldApp{Name: fmt.Sprint("app-", i),
			Pipeline: fmt.Sprint("p-", i%3), Stage: hp.StageStaging})
	}
	seeded := fake.Seed(world)
	store := newTrackerStore(t)
	leases := fmt.Sprintf("leases_%d", trackerSeq.Add(1))
	var paths sync.Map
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

	var changes sync.Map // resource -> kinds, from whichever replica
	newTrackerReplica := func(name string) *trackerReplica {
		r := &trackerReplica{name: name}
		r.now.Store(start.UnixNano())
		base, err := hp.NewClient(append(fake.ClientOptions(),
			hp.WithHTTPClient(&http.Client{Transport: countingTransport{base: fake.HTTPClient().Transport, r: r, paths: &paths}}))...)
		require.NoError(t, err)
		clients := map[string]*hp.Client{}
		for _, s := range seeded.Resources {
			clients[s.Addon.ID.String()] = base.WithToken(s.Token.Reveal())
		}
		// The lease is judged by the database's clock: the replicas'
		// virtual clocks differ, as real replicas' clocks may.
		leader, err := pgstore.NewLeader(newPool(t, nil, nil), pgstore.LeaderConfig{Holder: name, Table: leases, TTL: 30 * time.Second})
		require.NoError(t, err)
		require.NoError(t, leader.Migrate(ctx))
		r.tr, err = hp.NewTracker(hp.TrackerConfig{
			ClientFor: func(_ context.Context, id string) (*hp.Client, error) { return clients[id], nil },
			Store:     store, Leader: leader, Budget: 6000, Now: r.Now, Sleep: r.sleep,
			OnChange: func(c hp.Change) {
				v, _ := changes.LoadOrStore(c.ResourceID, &sync.Map{})
				v.(*sync.Map).Store(c.Kind, name)
			},
		})
		require.NoError(t, err)
		return r
	}
	a, b := newTrackerReplica("a"), newTrackerReplica("b")
	for _, s := range seeded.Resources {
		require.NoError(t, a.tr.Track(ctx, s.Addon.ID.String()))
	}
	run := func(d time.Duration, rs ...*trackerReplica) {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(func() { r.runFor(t, d) })
		}
		wg.Wait()
	}
	// Both run for a virtual minute at once: the cold pass is 2N+3
	// requests at 100 a second, then nothing is due until a minute after
	// each entry was checked.
	run(time.Minute, a, b)
	count := func(part string) int64 {
		var sum int64
		paths.Range(func(k, v any) bool {
			if strings.Contains(k.(string), part) {
				sum += v.(*atomic.Int64).Load()
			}
			return true
		})
		return sum
	}
	assert.Equal(t, int64(n), count("/addons/"), "each add-on asked once")
	assert.Equal(t, int64(n), count("/pipeline-couplings"), "each coupling asked once")
	assert.Equal(t, int64(3), count("/pipelines/"))
	leader, other := a, b
	if b.sent.Load() > a.sent.Load() {
		leader, other = b, a
	}
	assert.Equal(t, int64(0), other.sent.Load(), "the replica that did not lead sent nothing")
	t.Logf("replica %s led: %d requests; replica %s: %d", leader.name, leader.sent.Load(), other.name, other.sent.Load())

	// Every replica reads the same map.
	all, err := other.tr.Resources(ctx)
	require.NoError(t, err)
	require.Len(t, all, n)
	for _, e := range all {
		require.NotNil(t, e.Resolution)
	}

	// The leader resigned when its Run returned; the other takes over and
	// sees a promotion on its first pass.
	promoted := seeded.Resources[7]
	fake.Couple(promoted.App.ID, promoted.Pipeline.ID, hp.StageProduction)
	before := other.sent.Load()
	run(50*time.Second, other) // every entry is due again once, at 60–66 s
	assert.Equal(t, int64(n)+3, other.sent.Load()-before, "one coupling each, and the 3 pipelines it had not read")
	kinds, ok := changes.Load(promoted.Addon.ID.String())
	require.True(t, ok)
	by, ok := kinds.(*sync.Map).Load(hp.ChangeStageChanged)
	assert.True(t, ok)
	assert.Equal(t, other.name, by)

	// A replica started afresh resumes where the fleet stopped: the map is
	// there, and nothing confirmed within the minute is asked again.
	restarted := newTrackerReplica("c")
	restarted.now.Store(other.now.Load())
	restarted.runFor(t, 5*time.Second)
	assert.Equal(t, int64(0), restarted.sent.Load())
	fr, err := restarted.tr.Freshness(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, fr.Resources)
	assert.False(t, fr.Oldest.IsZero())
}

func TestTrackerStoreWritesNothingWhenNothingChanged(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil, nil)
	table := fmt.Sprintf("tracker_%d", trackerSeq.Add(1))
	s, err := pgstore.NewTrackerStore(pool, table)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	tr, err := hp.NewTracker(hp.TrackerConfig{Store: s,
		ClientFor: func(context.Context, string) (*hp.Client, error) { return nil, errors.New("not used") }})
	require.NoError(t, err)
	id := uuid.NewString()
	updatedAt := func() time.Time {
		var at time.Time
		require.NoError(t, pool.QueryRow(ctx, `SELECT updated_at FROM `+table+` WHERE resource_uuid = $1`, id).Scan(&at))
		return at
	}
	require.NoError(t, tr.Track(ctx, id))
	first := updatedAt()
	require.NoError(t, tr.Track(ctx, id), "every replica tracks its fleet on start")
	assert.True(t, first.Equal(updatedAt()), "no write")
}

// changeLog records the changes one replica's OnChange received.
type changeLog struct {
	mu  sync.Mutex
	got []hp.Change
}

func (l *changeLog) add(c hp.Change) { l.mu.Lock(); l.got = append(l.got, c); l.mu.Unlock() }

// count returns how many changes of kind about resource were received.
func (l *changeLog) count(kind hp.ChangeKind, resource string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.got {
		if c.Kind == kind && c.ResourceID == resource {
			n++
		}
	}
	return n
}

// waitFor waits, generously, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowingReplicasSeeEveryChangeOnce(t *testing.T) {
	ctx := context.Background()
	fake := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	t.Cleanup(fake.Close)
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "shop-staging", Pipeline: "shop", Stage: hp.StageStaging},
		{Name: "shop-prod", Pipeline: "shop", Stage: hp.StageProduction, Plans: []string{"basic", "pro"}},
	}})
	store := newTrackerStore(t)
	base, err := hp.NewClient(fake.ClientOptions()...)
	require.NoError(t, err)
	clients := map[string]*hp.Client{}
	for _, s := range seeded.Resources {
		clients[s.Addon.ID.String()] = base.WithToken(s.Token.Reveal())
	}
	// a refreshes; b only serves a dashboard and receives webhooks.
	a, b := &trackerReplica{name: "a"}, &trackerReplica{name: "b"}
	a.now.Store(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixNano())
	logs := map[*trackerReplica]*changeLog{a: {}, b: {}}
	for _, r := range []*trackerReplica{a, b} {
		r.tr, err = hp.NewTracker(hp.TrackerConfig{
			ClientFor: func(_ context.Context, id string) (*hp.Client, error) { return clients[id], nil },
			Store:     store, Budget: 6000, Now: a.Now, Sleep: a.sleep, OnChange: logs[r].add,
		})
		require.NoError(t, err)
	}
	for _, s := range seeded.Resources {
		require.NoError(t, a.tr.Track(ctx, s.Addon.ID.String()))
	}
	a.runFor(t, 30*time.Second)
	require.Equal(t, 3, len(logs[a].got), "3 added")

	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range []*trackerReplica{a, b} {
		wg.Go(func() { assert.ErrorIs(t, r.tr.Follow(fctx), context.Canceled) })
	}
	t.Cleanup(func() { stop(); wg.Wait() })
	// Both follow once a probe made by a reaches b.
	probe := seeded.Resources[0].Addon.ID.String()
	probes := 0
	waitFor(t, "b to follow", func() bool {
		probes++
		require.NoError(t, a.tr.PlanChanged(ctx, probe, hp.Ref{ID: uuid.New()}))
		time.Sleep(20 * time.Millisecond)
		return logs[b].count(hp.ChangePlanChanged, probe) > 0
	})
	// Probes made before b followed are in the map b read, not reported.
	seenByB := logs[b].count(hp.ChangePlanChanged, probe)
	require.Equal(t, 1, seenByB)

	// a's refresh finds a promotion; b, a replica that received a
	// webhook, applies a rename.
	promoted := seeded.Resources[0]
	fake.Couple(promoted.App.ID, promoted.Pipeline.ID, hp.StageProduction)
	a.runFor(t, time.Minute)
	renamed := seeded.Resources[1]
	require.NoError(t, b.tr.AppRenamed(ctx, renamed.App.ID.String(), "shop-live"))
	// Last probes, each made by the other replica: notifications arrive
	// in commit order, so once a replica has the other's probe it has
	// everything committed before it.
	last := seeded.Resources[2].Addon.ID.String()
	require.NoError(t, b.tr.PlanChanged(ctx, last, hp.Ref{ID: uuid.New()}))
	require.NoError(t, a.tr.PlanChanged(ctx, probe, hp.Ref{ID: uuid.New()}))
	probes++
	waitFor(t, "b's last probe at a", func() bool { return logs[a].count(hp.ChangePlanChanged, last) > 0 })
	waitFor(t, "a's last probe at b", func() bool { return logs[b].count(hp.ChangePlanChanged, probe) == seenByB+1 })
	for _, r := range []*trackerReplica{a, b} {
		l := logs[r]
		assert.Equal(t, 1, l.count(hp.ChangeStageChanged, promoted.Addon.ID.String()), "replica %s", r.name)
		assert.Equal(t, 1, l.count(hp.ChangeAppRenamed, renamed.Addon.ID.String()), "replica %s", r.name)
		assert.Equal(t, 1, l.count(hp.ChangeAppRenamed, seeded.Resources[2].Addon.ID.String()), "replica %s", r.name)
		assert.Equal(t, 1, l.count(hp.ChangePlanChanged, last), "replica %s", r.name)
	}
	assert.Equal(t, probes, logs[a].count(hp.ChangePlanChanged, probe), "a reported its own probes once each")
	assert.Equal(t, seenByB+1, logs[b].count(hp.ChangePlanChanged, probe))
}
