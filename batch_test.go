package herokupartner_test

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
)

var stageCycle = []hp.Stage{hp.StageDevelopment, hp.StageStaging, hp.StageProduction, hp.StageReview, hp.StageTest}

// world is n add-on resources, each on its own app, spread over k
// pipelines, each resource with its own token as Heroku grants them.
type world struct {
	srv       *herokupartnertest.Server
	items     []hp.BatchItem
	addons    []*hp.Addon
	apps      []hp.Ref
	pipelines []*hp.Pipeline
	pipeOf    []int // index into pipelines per item
	stageOf   []hp.Stage
	tokens    []string
}

// newWorld seeds srv. clientFor builds an item's client from its token;
// nil means srv.Client.
func newWorld(t testing.TB, srv *herokupartnertest.Server, n, k int, clientFor func(token string) *hp.Client) *world {
	t.Helper()
	if clientFor == nil {
		clientFor = srv.Client
	}
	w := &world{srv: srv}
	for j := range k {
		w.pipelines = append(w.pipelines, srv.AddPipeline(fmt.Sprintf("pipe-%02d", j)))
	}
	for i := range n {
		app := srv.AddApp(fmt.Sprintf("app-%04d", i))
		pi, stage := i%k, stageCycle[(i/k)%len(stageCycle)]
		require.NotNil(t, srv.Couple(app.ID, w.pipelines[pi].ID, stage))
		a := srv.AddAddon(app.ID, "basic")
		require.NotNil(t, a)
		tok := srv.IssueToken(a.ID)
		w.items = append(w.items, hp.BatchItem{ResourceUUID: a.ID.String(), Client: clientFor(tok)})
		w.addons = append(w.addons, a)
		w.apps = append(w.apps, app)
		w.pipeOf = append(w.pipeOf, pi)
		w.stageOf = append(w.stageOf, stage)
		w.tokens = append(w.tokens, tok)
	}
	return w
}

// tokenManager returns a TokenManager against srv that has exchanged a
// grant for each resource, as after provisioning.
func tokenManager(t testing.TB, srv *herokupartnertest.Server, resources []uuid.UUID) *hp.TokenManager {
	t.Helper()
	m, err := hp.NewTokenManager(hp.TokenManagerConfig{ClientSecret: hp.NewSecret(srv.ClientSecret()),
		TokenURL: srv.TokenURL(), HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	for _, id := range resources {
		code, expires := srv.IssueGrant(id)
		_, err := m.Exchange(context.Background(), id.String(),
			hp.OAuthGrant{Code: hp.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"})
		require.NoError(t, err)
	}
	srv.ResetRequests()
	return m
}

// bind gives every item a client bound to its resource by a TokenManager,
// the recommended setup: ForResource on base.
func (w *world) bind(t testing.TB, base *hp.Client) *hp.TokenManager {
	t.Helper()
	ids := make([]uuid.UUID, len(w.addons))
	for i, a := range w.addons {
		ids[i] = a.ID
	}
	m := tokenManager(t, w.srv, ids)
	for i := range w.items {
		cl, err := base.ForResource(m, w.items[i].ResourceUUID)
		require.NoError(t, err)
		w.items[i].Client = cl
	}
	return m
}

// checkResolved asserts that every result is item i's resolution.
func (w *world) checkResolved(t *testing.T, results []hp.BatchResult) {
	t.Helper()
	require.Len(t, results, len(w.items))
	for i, r := range results {
		require.NoError(t, r.Err, "item %d", i)
		require.NotNil(t, r.Resolution, "item %d", i)
		assert.Equal(t, w.items[i].ResourceUUID, r.ResourceUUID, "item %d out of order", i)
		assert.Equal(t, w.addons[i].ID, r.Resolution.Addon.ID, "item %d", i)
		assert.Equal(t, w.apps[i], r.Resolution.App, "item %d", i)
		require.True(t, r.Resolution.InPipeline(), "item %d", i)
		assert.Equal(t, w.pipelines[w.pipeOf[i]].ID, r.Resolution.Pipeline.ID, "item %d", i)
		assert.Equal(t, w.pipelines[w.pipeOf[i]].Name, r.Resolution.Pipeline.Name, "item %d", i)
		assert.Equal(t, w.stageOf[i], r.Resolution.Stage, "item %d", i)
	}
}

func routeCounts(reqs []herokupartnertest.Request) map[herokupartnertest.Route]int {
	m := map[herokupartnertest.Route]int{}
	for _, r := range reqs {
		m[r.Route]++
	}
	return m
}

func sumRequests(results []hp.BatchResult) int {
	n := 0
	for _, r := range results {
		n += r.Requests
	}
	return n
}

func TestResolvePipelinesColdCostsTwoNPlusK(t *testing.T) {
	const n, k = 200, 10
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, n, k, nil)

	results := srv.Client("").ResolvePipelines(context.Background(), w.items, hp.BatchConcurrency(16))

	w.checkResolved(t, results)
	reqs := srv.Requests()
	assert.Len(t, reqs, 2*n+k)
	assert.Equal(t, map[herokupartnertest.Route]int{
		herokupartnertest.RouteAddon: n, herokupartnertest.RouteCouplings: n, herokupartnertest.RoutePipeline: k,
	}, routeCounts(reqs))
	assert.Equal(t, 2*n+k, sumRequests(results), "per-item request counts must add up to what the server saw")
	for _, r := range results {
		assert.Zero(t, r.FromCache)
	}
}

func TestResolvePipelinesWarmCache(t *testing.T) {
	const n, k = 200, 10
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, n, k, nil)
	ctx := context.Background()
	cache := hp.NewMemoryCache(0)
	base := srv.Client("")
	w.bind(t, base)

	// Couplings not cached: what a warm repeat costs once CouplingsTTL
	// has passed.
	noCouplings := hp.BatchCache(cache, hp.CachePolicy{CouplingsTTL: -1})
	w.checkResolved(t, base.ResolvePipelines(ctx, w.items, noCouplings))
	require.Len(t, srv.Requests(), 2*n+k, "cold")

	srv.ResetRequests()
	warm := base.ResolvePipelines(ctx, w.items, noCouplings)
	w.checkResolved(t, warm)
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteCouplings: n}, routeCounts(srv.Requests()),
		"a warm repeat costs exactly the couplings request")
	for i, r := range warm {
		assert.Equal(t, 1, r.Requests, "item %d", i)
		assert.True(t, r.FromCache.Has(hp.CacheHitAddon|hp.CacheHitPipeline), "item %d", i)
		assert.False(t, r.FromCache.Has(hp.CacheHitCouplings), "item %d", i)
	}

	// With the default policy the couplings are cached too: the first run
	// fills them, the next costs nothing.
	srv.ResetRequests()
	w.checkResolved(t, base.ResolvePipelines(ctx, w.items, hp.BatchCache(cache, hp.CachePolicy{})))
	assert.Len(t, srv.Requests(), n)
	srv.ResetRequests()
	hot := base.ResolvePipelines(ctx, w.items, hp.BatchCache(cache, hp.CachePolicy{}))
	w.checkResolved(t, hot)
	assert.Empty(t, srv.Requests())
	for i, r := range hot {
		assert.Zero(t, r.Requests, "item %d", i)
		assert.True(t, r.FromCache.Has(hp.CacheHitAddon|hp.CacheHitCouplings|hp.CacheHitPipeline), "item %d", i)
	}
}

func TestResolvePipelinesSeesStageChangesOnceCouplingsExpire(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 4, 2, nil)
	w.bind(t, srv.Client(""))
	ctx := context.Background()
	cache := hp.NewMemoryCache(0)
	opt := hp.BatchCache(cache, hp.CachePolicy{CouplingsTTL: -1})
	w.checkResolved(t, srv.Client("").ResolvePipelines(ctx, w.items, opt))

	// Item 0 is promoted; item 1 moves to a pipeline never seen before.
	srv.Couple(w.apps[0].ID, w.pipelines[w.pipeOf[0]].ID, hp.StageProduction)
	moved := srv.AddPipeline("pipe-new")
	srv.Couple(w.apps[1].ID, moved.ID, hp.StageStaging)
	srv.ResetRequests()

	results := srv.Client("").ResolvePipelines(ctx, w.items, opt)
	require.NoError(t, results[0].Err)
	assert.Equal(t, hp.StageProduction, results[0].Resolution.Stage)
	require.NoError(t, results[1].Err)
	assert.Equal(t, "pipe-new", results[1].Resolution.Pipeline.Name)
	assert.Equal(t, hp.StageStaging, results[1].Resolution.Stage)
	assert.Equal(t, 2, results[1].Requests, "couplings and the new pipeline")
	assert.Equal(t, 4+1, len(srv.Requests()))
}

func TestResolvePipelinesPerItemErrorsInOrder(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 3, 1, nil)
	loneApp := srv.AddApp("lonely")
	lone := srv.AddAddon(loneApp.ID, "basic")
	revokedApp := srv.AddApp("revoked")
	revoked := srv.AddAddon(revokedApp.ID, "basic")
	revokedClient := srv.Client(srv.IssueToken(revoked.ID))
	srv.RevokeGrant(revoked.ID)

	items := []hp.BatchItem{
		w.items[0],
		{ResourceUUID: "not-a-uuid", Client: w.items[0].Client},
		{ResourceUUID: uuid.NewString(), Client: w.items[1].Client}, // not this token's add-on
		{ResourceUUID: revoked.ID.String(), Client: revokedClient},
		{ResourceUUID: w.items[1].ResourceUUID, Client: srv.Client("")}, // no token
		{ResourceUUID: lone.ID.String(), Client: srv.Client(srv.IssueToken(lone.ID))},
		w.items[2],
	}
	results := srv.Client("").ResolvePipelines(context.Background(), items)
	require.Len(t, results, len(items))
	for i, r := range results {
		assert.Equal(t, items[i].ResourceUUID, r.ResourceUUID, "item %d", i)
		assert.True(t, (r.Err == nil) != (r.Resolution == nil), "item %d: exactly one of Err and Resolution", i)
	}

	assert.NoError(t, results[0].Err)
	assert.Equal(t, w.pipelines[0].ID, results[0].Resolution.Pipeline.ID)

	assert.ErrorIs(t, results[1].Err, hp.ErrInvalidID)
	assert.Zero(t, results[1].Requests)

	var re *hp.ResolveError
	require.ErrorAs(t, results[2].Err, &re)
	assert.Equal(t, "add-on", re.Step)
	assert.True(t, errors.Is(results[2].Err, hp.ErrNotFound) || errors.Is(results[2].Err, hp.ErrForbidden))

	assert.ErrorIs(t, results[3].Err, hp.ErrUnauthorized)
	var apiErr *hp.APIError
	require.ErrorAs(t, results[3].Err, &apiErr)
	assert.NotEmpty(t, apiErr.RequestID, "a failure carries the request id to quote to Heroku")

	assert.ErrorIs(t, results[4].Err, hp.ErrNoToken)
	assert.Zero(t, results[4].Requests)

	require.NoError(t, results[5].Err)
	assert.False(t, results[5].Resolution.InPipeline())
	assert.Equal(t, loneApp, results[5].Resolution.App)
	assert.Equal(t, 2, results[5].Requests)

	require.NoError(t, results[6].Err)
	assert.Equal(t, w.stageOf[2], results[6].Resolution.Stage)

	for _, r := range srv.Requests() {
		assert.NotContains(t, r.Path, "not-a-uuid", "an invalid id is never sent")
	}
}

func TestResolvePipelinesMatchesResolvePipelineForBothCouplingShapes(t *testing.T) {
	for _, shape := range []herokupartnertest.CouplingsShape{herokupartnertest.CouplingsObject, herokupartnertest.CouplingsArray} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			srv := herokupartnertest.NewServer(herokupartnertest.WithCouplingsShape(shape))
			defer srv.Close()
			w := newWorld(t, srv, 2, 1, nil)
			app := srv.AddApp("solo")
			a := srv.AddAddon(app.ID, "basic")
			items := append(w.items, hp.BatchItem{ResourceUUID: a.ID.String(), Client: srv.Client(srv.IssueToken(a.ID))})
			ctx := context.Background()

			results := srv.Client("").ResolvePipelines(ctx, items)
			for i, it := range items {
				one, err := it.Client.ResolvePipeline(ctx, it.ResourceUUID)
				require.NoError(t, err)
				require.NoError(t, results[i].Err)
				got := results[i].Resolution
				assert.Equal(t, one.InPipeline(), got.InPipeline(), "item %d", i)
				assert.Equal(t, one.App, got.App, "item %d", i)
				assert.Equal(t, one.Stage, got.Stage, "item %d", i)
				assert.Equal(t, one.Coupling, got.Coupling, "item %d", i)
				assert.Equal(t, one.Pipeline, got.Pipeline, "item %d", i)
			}
			assert.False(t, results[2].Resolution.InPipeline())
		})
	}
}

// countingTransport counts the requests that start and the most in flight
// at once, and lets a test act on each request.
type countingTransport struct {
	next     http.RoundTripper
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	started  atomic.Int64
	// before, if set, runs as each request starts with its 1-based number.
	before func(req *http.Request, n int64)
	// after, if set, runs when a request has its answer.
	after func(req *http.Request)
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := c.started.Add(1)
	cur := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxSeen.Load()
		if cur <= m || c.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	if c.before != nil {
		c.before(req, n)
	}
	resp, err := c.next.RoundTrip(req)
	if c.after != nil {
		c.after(req)
	}
	return resp, err
}

func wrappedBase(t testing.TB, srv *herokupartnertest.Server, tr http.RoundTripper) *hp.Client {
	t.Helper()
	c, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(&http.Client{Transport: tr}),
		hp.WithRetry(hp.RetryPolicy{MaxRetries: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	require.NoError(t, err)
	return c
}

func TestResolvePipelinesBoundsConcurrency(t *testing.T) {
	const conc = 4
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	tr := &countingTransport{next: srv.HTTPClient().Transport}
	// The first conc requests wait until conc are in flight together:
	// this proves the batch reaches its bound, and maxSeen that it never
	// goes past it.
	full := make(chan struct{})
	var once sync.Once
	tr.before = func(req *http.Request, n int64) {
		if n > conc {
			return
		}
		if n == conc {
			once.Do(func() { close(full) })
		}
		select {
		case <-full:
		case <-req.Context().Done():
		}
	}
	base := wrappedBase(t, srv, tr)
	w := newWorld(t, srv, 60, 5, base.WithToken)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	results := base.ResolvePipelines(ctx, w.items, hp.BatchConcurrency(conc))

	w.checkResolved(t, results)
	assert.EqualValues(t, conc, tr.maxSeen.Load())
	assert.EqualValues(t, 2*60+5, tr.started.Load())
}

func TestResolvePipelinesStopsWhenContextEnds(t *testing.T) {
	const n, conc, cancelAt = 100, 4, 10
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &countingTransport{next: srv.HTTPClient().Transport}
	tr.before = func(_ *http.Request, n int64) {
		if n == cancelAt {
			cancel()
		}
	}
	base := wrappedBase(t, srv, tr)
	w := newWorld(t, srv, n, 5, base.WithToken)

	results := base.ResolvePipelines(ctx, w.items, hp.BatchConcurrency(conc))

	require.Len(t, results, n)
	// Once canceled, no new request starts: only those already past
	// their context check (one per worker at most) may still go out.
	assert.LessOrEqual(t, tr.started.Load(), int64(cancelAt+conc-1))
	assert.LessOrEqual(t, len(srv.Requests()), cancelAt+conc-1)
	canceled := 0
	for i, r := range results {
		if r.Err == nil {
			require.NotNil(t, r.Resolution, "item %d", i)
			continue
		}
		require.ErrorIs(t, r.Err, context.Canceled, "item %d", i)
		canceled++
	}
	assert.GreaterOrEqual(t, canceled, n-cancelAt)
}

// The shared pipeline fetch may go on after the item that started it gave
// up; it must not write that item's result then. The pacer's wait before
// the pipeline request ends the batch's context and lets the fetch go on,
// so that the item gives up while the fetch still runs. Under -race, a
// fetch that counts its request in the item's state is reported as a race.
func TestResolvePipelinesAbandonedPipelineFetchLeavesTheItemAlone(t *testing.T) {
	now := time.Now()
	srv := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(30, 1200), herokupartnertest.WithClock(func() time.Time { return now }))
	defer srv.Close()
	w := newWorld(t, srv, 1, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits atomic.Int32
	sleepUntil := func(context.Context, time.Time) error {
		// The add-on request goes before any level is known and the
		// couplings request takes the first slot; the clock stands still,
		// so the pipeline request is the first to wait.
		if waits.Add(1) == 1 {
			cancel()
			// Not an assertion: a moment for the item to give up before
			// the fetch goes on, which makes the interesting path the
			// usual one.
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	results := srv.Client("").ResolvePipelines(ctx, w.items, hp.BatchConcurrency(1),
		hp.BatchRateLimit(1000, time.Millisecond), hp.BatchClockForTest(func() time.Time { return now }, sleepUntil))

	require.Len(t, results, 1)
	require.ErrorIs(t, results[0].Err, context.Canceled)
	// The add-on and couplings requests, and the pipeline's only if it had
	// started when the item gave up.
	assert.Contains(t, []int{2, 3}, results[0].Requests)
	assert.Equal(t, int32(1), waits.Load())
}

func TestResolvePipelinesSharedPipelineRefusedForOneToken(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	// The first pipeline request is refused as if that token could not
	// read the pipeline. It is held until both items have their coupling,
	// so that the other item usually waits on the same flight; either way
	// the outcome asserted below is the same.
	srv.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Status: http.StatusForbidden})
	couplingsDone := make(chan struct{}, 2)
	tr := &countingTransport{next: srv.HTTPClient().Transport}
	var firstPipeline atomic.Bool
	tr.before = func(req *http.Request, _ int64) {
		if strings.HasPrefix(req.URL.Path, "/pipelines/") && firstPipeline.CompareAndSwap(false, true) {
			for range 2 {
				select {
				case <-couplingsDone:
				case <-req.Context().Done():
					return
				}
			}
			// Not an assertion: a moment for the other item to join the
			// flight, which makes the interesting path the usual one.
			time.Sleep(20 * time.Millisecond)
		}
	}
	tr.after = func(req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/pipeline-couplings") {
			couplingsDone <- struct{}{}
		}
	}
	base := wrappedBase(t, srv, tr)
	w := newWorld(t, srv, 2, 1, base.WithToken)

	results := base.ResolvePipelines(context.Background(), w.items, hp.BatchConcurrency(2))

	failed, ok := 0, 0
	for _, r := range results {
		if r.Err != nil {
			assert.ErrorIs(t, r.Err, hp.ErrForbidden)
			failed++
			continue
		}
		assert.Equal(t, w.pipelines[0].ID, r.Resolution.Pipeline.ID)
		ok++
	}
	assert.Equal(t, 1, failed, "only the refused token's item fails")
	assert.Equal(t, 1, ok, "the other item reads the pipeline with its own token")
	assert.Equal(t, 2, routeCounts(srv.Requests())[herokupartnertest.RoutePipeline])
}

// virtualClock is a clock that moves only when a paced request waits for
// its slot: it then jumps to that slot. The fake's rate-limit bucket reads
// the same clock, so refills follow the pacing exactly and nothing depends
// on how fast the machine runs.
type virtualClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps int
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *virtualClock) SleepUntil(_ context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps++
	if t.After(c.t) {
		c.t = t
	}
	return nil
}

func TestResolvePipelinesPacesWhenTheBucketRunsLow(t *testing.T) {
	// 20 resources, each with its own client as recommended, over one
	// pipeline: 41 requests against a bucket of 30 that refills one
	// request every 50ms of the fake's clock, which only pacing moves.
	run := func(opts ...hp.BatchOption) ([]hp.BatchResult, []herokupartnertest.Request, *virtualClock) {
		clock := &virtualClock{t: time.Now()}
		srv := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(30, 1200), herokupartnertest.WithClock(clock.Now))
		defer srv.Close()
		w := newWorld(t, srv, 20, 1, nil)
		opts = append([]hp.BatchOption{hp.BatchConcurrency(4), hp.BatchClockForTest(clock.Now, clock.SleepUntil)}, opts...)
		results := srv.Client("").ResolvePipelines(context.Background(), w.items, opts...)
		return results, srv.Requests(), clock
	}
	count429 := func(reqs []herokupartnertest.Request) int {
		n := 0
		for _, r := range reqs {
			if r.Status == http.StatusTooManyRequests {
				n++
			}
		}
		return n
	}
	// Without pacing the fake's clock never moves and the batch runs dry:
	// the setup is tight.
	_, unpaced, _ := run(hp.BatchRateLimit(-1, 0))
	assert.Positive(t, count429(unpaced))

	results, paced, clock := run(hp.BatchRateLimit(10, 50*time.Millisecond))
	for i, r := range results {
		require.NoError(t, r.Err, "item %d", i)
	}
	assert.Zero(t, count429(paced), "pacing at the refill rate keeps the bucket from running dry")
	assert.Len(t, paced, 2*20+1)
	assert.Positive(t, clock.sleeps, "the batch paced")
}

func TestResolvePipelinesReportsProgress(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 25, 3, nil)
	var seen [][2]int
	results := srv.Client("").ResolvePipelines(context.Background(), w.items, hp.BatchConcurrency(5),
		hp.BatchProgress(func(done, total int) { seen = append(seen, [2]int{done, total}) }))
	w.checkResolved(t, results)
	require.Len(t, seen, 25)
	for i, s := range seen {
		assert.Equal(t, [2]int{i + 1, 25}, s)
	}
}

func TestResolvePipelinesEmptyInput(t *testing.T) {
	assert.Empty(t, (&hp.Client{}).ResolvePipelines(context.Background(), nil))
}

// recordingCache is a Cache that keeps everything it is given, for
// inspection, and can be made to fail.
type recordingCache struct {
	mu   sync.Mutex
	data map[string][]byte
	fail bool
}

func (c *recordingCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, false, errors.New("store unreachable")
	}
	v, ok := c.data[key]
	return v, ok, nil
}

func (c *recordingCache) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return errors.New("store unreachable")
	}
	if c.data == nil {
		c.data = map[string][]byte{}
	}
	c.data[key] = value
	return nil
}

func TestCacheEntriesArePerResourceAndHoldNoToken(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 6, 2, nil)
	cache := &recordingCache{}
	w.checkResolved(t, srv.Client("").ResolvePipelines(context.Background(), w.items, hp.BatchCache(cache, hp.CachePolicy{})))

	require.Len(t, cache.data, 6+6+2)
	for key, value := range cache.data {
		keyed := false
		for _, it := range w.items {
			keyed = keyed || strings.HasSuffix(key, it.ResourceUUID)
		}
		for _, p := range w.pipelines {
			keyed = keyed || strings.HasSuffix(key, p.ID.String())
		}
		assert.True(t, keyed, "key %q names neither a resource nor a pipeline", key)
		for _, tok := range w.tokens {
			assert.False(t, strings.Contains(key, tok) || strings.Contains(string(value), tok), "a token reached the cache")
		}
	}

}

// A warmed cache is never served to a client that has not shown it may
// read the resource (issue: a client holding A's token was served B's
// cached resolution).
func TestCacheServesAResourceOnlyToItsOwnClients(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 2, 1, nil)
	base := srv.Client("")
	m := w.bind(t, base)
	ctx := context.Background()
	cache := hp.NewMemoryCache(0)
	opt := hp.BatchCache(cache, hp.CachePolicy{})
	w.checkResolved(t, base.ResolvePipelines(ctx, w.items, opt))
	a, b := w.items[0].ResourceUUID, w.items[1].ResourceUUID

	for name, cl := range map[string]*hp.Client{
		"A's bound client":  w.items[0].Client,
		"A's static client": srv.Client(w.tokens[0]),
	} {
		t.Run(name, func(t *testing.T) {
			srv.ResetRequests()
			got := base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: b, Client: cl}}, opt)
			require.Error(t, got[0].Err, "B's entries must not be served to A's token")
			assert.True(t, errors.Is(got[0].Err, hp.ErrForbidden) || errors.Is(got[0].Err, hp.ErrNotFound), "%v", got[0].Err)
			assert.Zero(t, got[0].FromCache)
			assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteAddon: 1}, routeCounts(srv.Requests()))
		})
	}

	// B's own clients: bound by its TokenManager, served without a
	// request, and still after its token is refreshed; a static token
	// proves itself with the add-on request, then the rest is cached.
	srv.ResetRequests()
	fresh, err := base.ForResource(m, b)
	require.NoError(t, err)
	got := base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: b, Client: fresh}}, opt)
	require.NoError(t, got[0].Err)
	assert.Zero(t, got[0].Requests)
	assert.Empty(t, srv.Requests())

	srv.ExpireAccessTokens(w.addons[1].ID)
	_, err = fresh.GetAddon(ctx, b) // a 401, then a refresh: a new access token
	require.NoError(t, err)
	srv.ResetRequests()
	got = base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: b, Client: fresh}}, opt)
	require.NoError(t, got[0].Err)
	assert.Empty(t, srv.Requests(), "a token refresh does not turn the cache cold")

	srv.ResetRequests()
	got = base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: a, Client: srv.Client(w.tokens[0])}}, opt)
	require.NoError(t, got[0].Err)
	assert.Equal(t, hp.CacheHitCouplings|hp.CacheHitPipeline, got[0].FromCache)
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteAddon: 1}, routeCounts(srv.Requests()))

	// That token has now read A's add-on: any client sending it is
	// served A's entries, with no request.
	srv.ResetRequests()
	got = base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: a, Client: srv.Client(w.tokens[0])}}, opt)
	require.NoError(t, got[0].Err)
	assert.Equal(t, hp.CacheHitAddon|hp.CacheHitCouplings|hp.CacheHitPipeline, got[0].FromCache)
	assert.Empty(t, srv.Requests())
	// It has not read B's.
	got = base.ResolvePipelines(ctx, []hp.BatchItem{{ResourceUUID: b, Client: srv.Client(w.tokens[0])}}, opt)
	require.Error(t, got[0].Err)
	assert.Len(t, srv.Requests(), 1)
}

func TestFailingCacheOnlyCostsRequests(t *testing.T) {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	w := newWorld(t, srv, 20, 4, nil)
	cache := &recordingCache{fail: true}
	results := srv.Client("").ResolvePipelines(context.Background(), w.items, hp.BatchCache(cache, hp.CachePolicy{}))
	w.checkResolved(t, results)
	assert.Len(t, srv.Requests(), 2*20+4)
}

func ExampleClient_ResolvePipelines() {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	base := srv.Client("")
	store := &hp.MemoryTokenStore{}
	tokens, err := hp.NewTokenManager(hp.TokenManagerConfig{ClientSecret: hp.NewSecret(srv.ClientSecret()),
		Store: store, TokenURL: srv.TokenURL(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		panic(err)
	}
	web := srv.AddPipeline("web")
	var items []hp.BatchItem
	for _, s := range []struct {
		app   string
		stage hp.Stage
	}{{"web-staging", hp.StageStaging}, {"web-prod", hp.StageProduction}, {"scratch", ""}} {
		app := srv.AddApp(s.app)
		if s.stage != "" {
			srv.Couple(app.ID, web.ID, s.stage)
		}
		a := srv.AddAddon(app.ID, "basic")
		// Provisioning stored the resource's token (here: one the fake
		// issues). Each resource has its own token, so each item its own
		// client, bound to the resource by the TokenManager.
		_ = store.Save(ctx, a.ID, hp.Token{AccessToken: hp.NewSecret(srv.IssueToken(a.ID)), Expiry: time.Now().Add(8 * time.Hour)})
		cl, _ := base.ForResource(tokens, a.ID.String())
		items = append(items, hp.BatchItem{ResourceUUID: a.ID.String(), Client: cl})
	}
	items = append(items, hp.BatchItem{ResourceUUID: "oops", Client: items[0].Client})

	cache := hp.NewMemoryCache(0)
	results := base.ResolvePipelines(ctx, items, hp.BatchConcurrency(4), hp.BatchCache(cache, hp.CachePolicy{}))
	for _, r := range results {
		switch {
		case r.Err != nil:
			fmt.Println("failed:", errors.Is(r.Err, hp.ErrInvalidID))
		case r.Resolution.InPipeline():
			fmt.Println(r.Resolution.App.Name, r.Resolution.Pipeline.Name, r.Resolution.Stage)
		default:
			fmt.Println(r.Resolution.App.Name, "in no pipeline")
		}
	}
	fmt.Println("requests:", len(srv.Requests()))
	srv.ResetRequests()
	base.ResolvePipelines(ctx, items, hp.BatchCache(cache, hp.CachePolicy{}))
	fmt.Println("requests when warm:", len(srv.Requests()))
	// Output:
	// web-staging web staging
	// web-prod web production
	// scratch in no pipeline
	// failed: true
	// requests: 7
	// requests when warm: 0
}
