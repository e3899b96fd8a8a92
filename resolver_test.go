package herokupartner_test

import (
	"context"
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

// hotWorld is one coupled resource with a client bound to it by a
// TokenManager, as a partner's backend holds it.
type hotWorld struct {
	srv    *herokupartnertest.Server
	m      *hp.TokenManager
	addon  *hp.Addon
	app    hp.Ref
	pipe   *hp.Pipeline
	client *hp.Client
}

func newHotWorld(t testing.TB, opts ...herokupartnertest.Option) *hotWorld {
	t.Helper()
	// No rate limit: benchmarks send more than a bucket holds.
	srv := herokupartnertest.NewServer(append([]herokupartnertest.Option{herokupartnertest.WithRateLimit(0, 0)}, opts...)...)
	t.Cleanup(srv.Close)
	w := &hotWorld{srv: srv, app: srv.AddApp("acme-web"), pipe: srv.AddPipeline("acme-shop")}
	srv.Couple(w.app.ID, w.pipe.ID, hp.StageStaging)
	w.addon = srv.AddAddon(w.app.ID, "basic")
	w.m = tokenManager(t, srv, []uuid.UUID{w.addon.ID})
	cl, err := srv.Client("").ForResource(w.m, w.addon.ID.String())
	require.NoError(t, err)
	w.client = cl
	return w
}

func (w *hotWorld) id() string { return w.addon.ID.String() }

// askAll has n callers ask for the stage at once and returns their answers.
func askAll(t testing.TB, r *hp.Resolver, cl *hp.Client, id string, n int) []hp.Stage {
	t.Helper()
	stages := make([]hp.Stage, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stages[i], errs[i] = r.Stage(context.Background(), cl, id)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "caller %d", i)
	}
	return stages
}

func TestResolverThousandColdCallersCostOneResolution(t *testing.T) {
	w := newHotWorld(t)
	var r hp.Resolver

	for i, s := range askAll(t, &r, w.client, w.id(), 1000) {
		require.Equal(t, hp.StageStaging, s, "caller %d", i)
	}
	assert.Equal(t, map[herokupartnertest.Route]int{
		herokupartnertest.RouteAddon: 1, herokupartnertest.RouteCouplings: 1, herokupartnertest.RoutePipeline: 1,
	}, routeCounts(w.srv.Requests()), "cold: exactly one resolution")

	w.srv.ResetRequests()
	askAll(t, &r, w.client, w.id(), 1000)
	assert.Empty(t, w.srv.Requests(), "warm: no request")
}

func TestResolverFollowsTheCachePolicyOnItsClock(t *testing.T) {
	w := newHotWorld(t)
	clock := &virtualClock{t: time.Now()}
	r := hp.Resolver{Now: clock.Now}
	ctx := context.Background()
	_, err := r.Resolve(ctx, w.client, w.id())
	require.NoError(t, err)

	w.srv.Couple(w.app.ID, w.pipe.ID, hp.StageProduction)
	w.srv.ResetRequests()
	clock.SleepUntil(ctx, clock.Now().Add(time.Minute-time.Nanosecond))
	stage, err := r.Stage(ctx, w.client, w.id())
	require.NoError(t, err)
	assert.Equal(t, hp.StageStaging, stage, "within CouplingsTTL the cached stage is served")
	assert.Empty(t, w.srv.Requests())

	clock.SleepUntil(ctx, clock.Now().Add(time.Nanosecond))
	stage, err = r.Stage(ctx, w.client, w.id())
	require.NoError(t, err)
	assert.Equal(t, hp.StageProduction, stage, "a promotion is seen once the coupling expires")
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteCouplings: 1}, routeCounts(w.srv.Requests()))
}

func TestResolverHonoursTheAgeOfSharedCacheEntries(t *testing.T) {
	w := newHotWorld(t)
	clock := &virtualClock{t: time.Now()}
	cache := hp.NewMemoryCache(0)
	cache.Now = clock.Now
	ctx := context.Background()
	first := hp.Resolver{Cache: cache, Now: clock.Now}
	_, err := first.Resolve(ctx, w.client, w.id())
	require.NoError(t, err)

	// A second replica sharing the cache, 50s later: its resolution comes
	// from entries already 50s old, so it may keep it only 10s more.
	clock.SleepUntil(ctx, clock.Now().Add(50*time.Second))
	w.srv.ResetRequests()
	second := hp.Resolver{Cache: cache, Now: clock.Now}
	_, err = second.Resolve(ctx, w.client, w.id())
	require.NoError(t, err)
	assert.Empty(t, w.srv.Requests())
	clock.SleepUntil(ctx, clock.Now().Add(10*time.Second))
	_, err = second.Resolve(ctx, w.client, w.id())
	require.NoError(t, err)
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteCouplings: 1}, routeCounts(w.srv.Requests()))
}

func TestResolverRemembersARevokedGrant(t *testing.T) {
	w := newHotWorld(t)
	clock := &virtualClock{t: time.Now()}
	r := hp.Resolver{Now: clock.Now, FailureTTL: 10 * time.Minute}
	ctx := context.Background()
	w.srv.RevokeGrant(w.addon.ID)

	_, err := r.Resolve(ctx, w.client, w.id())
	require.ErrorIs(t, err, hp.ErrGrantRevoked)
	require.ErrorIs(t, err, hp.ErrUnauthorized)
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteAddon: 1, herokupartnertest.RouteToken: 1},
		routeCounts(w.srv.Requests()), "one refused lookup and one refused refresh")

	w.srv.ResetRequests()
	for range 10 {
		_, err := r.Stage(ctx, w.client, w.id())
		require.ErrorIs(t, err, hp.ErrGrantRevoked)
	}
	assert.Empty(t, w.srv.Requests(), "a remembered failure costs nothing")

	r.Forget(w.id())
	_, err = r.Resolve(ctx, w.client, w.id())
	require.ErrorIs(t, err, hp.ErrGrantRevoked)
	assert.Len(t, w.srv.Requests(), 2, "Forget makes the next call ask again")

	w.srv.ResetRequests()
	clock.SleepUntil(ctx, clock.Now().Add(10*time.Minute))
	_, err = r.Resolve(ctx, w.client, w.id())
	require.ErrorIs(t, err, hp.ErrGrantRevoked)
	assert.Len(t, w.srv.Requests(), 2, "after FailureTTL the next call asks again")

	// A new grant for the resource: the TokenManager holds a new access
	// token, and the next call asks again and succeeds.
	code, expires := w.srv.IssueGrant(w.addon.ID)
	_, err = w.m.Exchange(ctx, w.id(), hp.OAuthGrant{Code: hp.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"})
	require.NoError(t, err)
	stage, err := r.Stage(ctx, w.client, w.id())
	require.NoError(t, err)
	assert.Equal(t, hp.StageStaging, stage)
}

func TestResolverRemembersAMissingAddonButNotATransientFailure(t *testing.T) {
	w := newHotWorld(t)
	var r hp.Resolver
	ctx := context.Background()

	// More 503s than the client retries: the call fails, and is not
	// remembered.
	w.srv.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Status: http.StatusServiceUnavailable, Times: 4})
	_, err := r.Resolve(ctx, w.client, w.id())
	var apiErr *hp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
	w.srv.ResetRequests()
	_, err = r.Resolve(ctx, w.client, w.id())
	require.NoError(t, err, "a transient failure is asked again")
	assert.Len(t, w.srv.Requests(), 3)

	w2 := newHotWorld(t)
	w2.srv.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Status: http.StatusNotFound, Times: 1})
	_, err = r.Resolve(ctx, w2.client, w2.id())
	require.ErrorIs(t, err, hp.ErrNotFound)
	w2.srv.ResetRequests()
	_, err = r.Resolve(ctx, w2.client, w2.id())
	var re *hp.ResolveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, hp.StepAddon, re.Step)
	assert.ErrorIs(t, err, hp.ErrNotFound, "a deprovisioned add-on is remembered")
	assert.Empty(t, w2.srv.Requests())
}

func TestResolverServesOnlyClientsThatMayReadTheResource(t *testing.T) {
	w := newHotWorld(t)
	var r hp.Resolver
	ctx := context.Background()
	_, err := r.Resolve(ctx, w.client, w.id())
	require.NoError(t, err)

	other := w.srv.AddAddon(w.srv.AddApp("other").ID, "basic")
	w.srv.ResetRequests()
	_, err = r.Resolve(ctx, w.srv.Client(w.srv.IssueToken(other.ID)), w.id())
	assert.ErrorIs(t, err, hp.ErrForbidden, "another resource's token is not served this resource")
	assert.Len(t, w.srv.Requests(), 1)

	// A static token for the resource proves itself with the add-on
	// request; the rest comes from the cache.
	w.srv.ResetRequests()
	stage, err := r.Stage(ctx, w.srv.Client(w.srv.IssueToken(w.addon.ID)), w.id())
	require.NoError(t, err)
	assert.Equal(t, hp.StageStaging, stage)
	assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteAddon: 1}, routeCounts(w.srv.Requests()))

	_, err = r.Resolve(ctx, w.client, "not-a-uuid")
	assert.ErrorIs(t, err, hp.ErrInvalidID)
	var re *hp.ResolveError
	require.ErrorAs(t, err, &re)
	assert.Empty(t, re.ResourceID)
}

func TestTwoRequestResolution(t *testing.T) {
	named := []herokupartnertest.Option{herokupartnertest.WithPipelineNameInCoupling(true)}
	t.Run("resolver", func(t *testing.T) {
		w := newHotWorld(t, named...)
		r := hp.Resolver{TwoRequests: true}
		res, err := r.Resolve(context.Background(), w.client, w.id())
		require.NoError(t, err)
		assert.True(t, res.PipelinePartial)
		assert.Equal(t, hp.Pipeline{ID: w.pipe.ID, Name: "acme-shop"}, *res.Pipeline)
		assert.Equal(t, hp.StageStaging, res.Stage)
		assert.Equal(t, map[herokupartnertest.Route]int{herokupartnertest.RouteAddon: 1, herokupartnertest.RouteCouplings: 1},
			routeCounts(w.srv.Requests()))
	})
	t.Run("batch", func(t *testing.T) {
		const n, k = 40, 4
		srv := herokupartnertest.NewServer(named...)
		defer srv.Close()
		w := newWorld(t, srv, n, k, nil)
		results := srv.Client("").ResolvePipelines(context.Background(), w.items, hp.BatchTwoRequests())
		for i, r := range results {
			require.NoError(t, r.Err, "item %d", i)
			assert.True(t, r.Resolution.PipelinePartial, "item %d", i)
			assert.Equal(t, w.pipelines[w.pipeOf[i]].Name, r.Resolution.Pipeline.Name, "item %d", i)
			assert.Equal(t, w.stageOf[i], r.Resolution.Stage, "item %d", i)
		}
		assert.Len(t, srv.Requests(), 2*n, "2N, not 2N+K")
		assert.Equal(t, 2*n, sumRequests(results))
	})
	t.Run("without names the pipeline is still fetched", func(t *testing.T) {
		w := newHotWorld(t)
		r := hp.Resolver{TwoRequests: true}
		res, err := r.Resolve(context.Background(), w.client, w.id())
		require.NoError(t, err)
		assert.False(t, res.PipelinePartial)
		assert.Equal(t, w.pipe.Owner, res.Pipeline.Owner)
		assert.Len(t, w.srv.Requests(), 3)
	})
}
