package herokupartner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
)

// DefaultBatchConcurrency is how many resources ResolvePipelines resolves at
// once unless WithConcurrency says otherwise.
const DefaultBatchConcurrency = 8

// DefaultRateLimitReserve is the RateLimit-Remaining level below which
// ResolvePipelines paces a client's requests unless WithRateLimitReserve
// says otherwise.
const DefaultRateLimitReserve = 100

// BatchItem is one add-on resource to resolve and the client, carrying that
// resource's token, to resolve it with. A nil Client means the client
// ResolvePipelines was called on.
type BatchItem struct {
	ResourceUUID string
	Client       *Client
}

// CacheHits is a set of resolution steps answered from the Cache.
type CacheHits uint8

// The steps a cache can answer.
const (
	CacheHitAddon CacheHits = 1 << iota
	CacheHitCouplings
	CacheHitPipeline
)

// Has reports whether every step in s was answered from the cache.
func (h CacheHits) Has(s CacheHits) bool { return s != 0 && h&s == s }

// BatchResult is the outcome of resolving one BatchItem: a Resolution or an
// error, never both.
type BatchResult struct {
	// ResourceUUID is the item's ResourceUUID as given.
	ResourceUUID string
	Resolution   *Resolution
	// Err is a *ResolveError naming the failed step, or an error matching
	// ErrInvalidID or ErrNoToken when nothing could be sent.
	Err error
	// Requests is how many API calls resolving this item started, retries
	// not counted. A pipeline fetched once for several items counts for the
	// item whose request fetched it.
	Requests int
	// FromCache says which steps the Cache answered.
	FromCache CacheHits
}

// BatchOption configures one ResolvePipelines call.
type BatchOption func(*batchConfig)

type batchConfig struct {
	concurrency int
	cache       Cache
	policy      CachePolicy
	progress    func(done, total int)
	reserve     int
	interval    time.Duration
}

// WithConcurrency sets how many resources are resolved at once, and so the
// most requests in flight; n below 1 means DefaultBatchConcurrency.
func WithConcurrency(n int) BatchOption {
	return func(c *batchConfig) {
		if n < 1 {
			n = DefaultBatchConcurrency
		}
		c.concurrency = n
	}
}

// WithCache makes the batch read and fill cache, keeping entries as long as
// policy says (its zero fields take DefaultCachePolicy's values). Reuse the
// same cache across calls: that is what makes repeat resolutions cheap.
func WithCache(cache Cache, policy CachePolicy) BatchOption {
	return func(c *batchConfig) {
		c.cache = cache
		c.policy = policy.withDefaults()
	}
}

// WithProgress calls fn after each item finishes with the number finished
// and the total. Calls never overlap, so fn needs no locking; it should be
// quick, since a worker waits for it.
func WithProgress(fn func(done, total int)) BatchOption {
	return func(c *batchConfig) { c.progress = fn }
}

// WithRateLimitReserve sets the rate-limit policy: once a client's
// RateLimitRemaining falls below reserve, its requests in this batch are
// spaced interval apart, the rate at which Heroku's bucket refills, so the
// bucket hovers near reserve instead of running dry into 429s. A reserve of
// zero or less turns pacing off; an interval of zero or less means 800ms
// (about 75 requests a minute). Keep reserve above the concurrency, since
// requests already in flight when the level drops still land.
func WithRateLimitReserve(reserve int, interval time.Duration) BatchOption {
	return func(c *batchConfig) {
		c.reserve = max(reserve, 0)
		if interval <= 0 {
			interval = rateLimitRefill
		}
		c.interval = interval
	}
}

// ResolvePipelines resolves many add-on resources as ResolvePipeline does,
// returning one result per item in the order given; one item's failure
// never affects another's result.
//
// At most WithConcurrency items are resolved at once. Each distinct
// pipeline is fetched once per call, however many items are coupled to it
// and however close together they ask, so N resources over K pipelines cost
// at most 2N+K requests, fewer with WithCache. A shared pipeline is fetched
// with the token of whichever item asks first: every token whose app is
// coupled to a pipeline may read it, so the answer is one each of them
// could have had. If that request is refused for its token (401, 403) or
// fails on the token's side, the other items fetch the pipeline with their
// own tokens instead of inheriting the failure.
//
// When ctx ends, requests in flight are abandoned and items not yet started
// fail at once with an error matching ctx.Err(); ResolvePipelines returns
// without waiting for anything else.
//
// Requests are paced per client as WithRateLimitReserve describes; by
// default a client with fewer than DefaultRateLimitReserve requests left
// sends one request every 800ms.
func (c *Client) ResolvePipelines(ctx context.Context, items []BatchItem, opts ...BatchOption) []BatchResult {
	cfg := batchConfig{concurrency: DefaultBatchConcurrency, reserve: DefaultRateLimitReserve, interval: rateLimitRefill}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	results := make([]BatchResult, len(items))
	if len(items) == 0 {
		return results
	}
	b := &batch{cfg: cfg, base: c, pacers: make(map[*Client]*pacer)}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		progMu  sync.Mutex
		done    int
		workers = min(cfg.concurrency, len(items))
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				results[i] = b.resolve(ctx, items[i])
				if cfg.progress != nil {
					progMu.Lock()
					done++
					cfg.progress(done, len(items))
					progMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return results
}

// batch is the state one ResolvePipelines call shares between its workers.
type batch struct {
	cfg  batchConfig
	base *Client
	// flights makes concurrent askers of one pipeline share one request;
	// pipelines remembers what was fetched so that later askers in the same
	// call do not repeat it, with or without a Cache.
	flights   singleflight.Group
	pipelines sync.Map // canonical pipeline id -> memoPipeline
	pacersMu  sync.Mutex
	pacers    map[*Client]*pacer
}

// couplingEntry is what the cache keeps for a resource's coupling: the app
// it was read for and the coupling, nil when the app is in no pipeline.
type couplingEntry struct {
	AppID    uuid.UUID         `json:"app_id"`
	Coupling *PipelineCoupling `json:"coupling"`
}

func (b *batch) resolve(ctx context.Context, item BatchItem) BatchResult {
	r := BatchResult{ResourceUUID: item.ResourceUUID}
	cl := item.Client
	if cl == nil {
		cl = b.base
	}
	if cl == nil {
		r.Err = fmt.Errorf("%w: no client for this item and ResolvePipelines was called on a nil client", ErrNoToken)
		return r
	}
	id, err := parseID("resourceUUID", item.ResourceUUID)
	if err != nil {
		r.Err = err
		return r
	}
	if ctx == nil {
		r.Err = errors.New("herokupartner: ResolvePipelines: nil context")
		return r
	}
	fail := func(step string, err error) BatchResult {
		r.Err = &ResolveError{Step: step, ResourceID: id, Err: err}
		return r
	}
	if cl.tokens == nil {
		return fail("add-on", fmt.Errorf("%w: nothing sent", ErrNoToken))
	}
	if err := ctx.Err(); err != nil {
		return fail("add-on", err)
	}

	addon, err := b.addon(ctx, cl, id, &r)
	if err != nil {
		return fail("add-on", err)
	}
	res := &Resolution{Addon: addon, App: addon.App}
	coupling, err := b.coupling(ctx, cl, id, addon.App.ID, &r)
	if err != nil {
		return fail("couplings", err)
	}
	if coupling != nil {
		res.Coupling = coupling
		res.Stage = coupling.Stage
		p, err := b.pipeline(ctx, cl, coupling.Pipeline.ID.String(), &r)
		if err != nil {
			return fail("pipeline", err)
		}
		// Each result gets its own copy, so that a caller editing one
		// cannot change what another item sees.
		pc := *p
		res.Pipeline = &pc
	}
	r.Resolution = res
	return r
}

func (b *batch) addon(ctx context.Context, cl *Client, id string, r *BatchResult) (*Addon, error) {
	key := cacheKeyAddon + id
	if raw, ok := b.cacheGet(ctx, cl, key, b.cfg.policy.AddonTTL); ok {
		var a Addon
		if json.Unmarshal(raw, &a) == nil && a.ID.String() == id && a.App.ID != uuid.Nil {
			r.FromCache |= CacheHitAddon
			return &a, nil
		}
	}
	if err := b.pace(ctx, cl); err != nil {
		return nil, err
	}
	r.Requests++
	a, err := cl.addonWithApp(ctx, id)
	if err != nil {
		return nil, err
	}
	b.cacheSet(ctx, cl, key, a, b.cfg.policy.AddonTTL)
	return a, nil
}

// coupling returns the app's coupling, or nil when it is in no pipeline,
// reading the couplings answer as ResolvePipeline does.
func (b *batch) coupling(ctx context.Context, cl *Client, id string, appID uuid.UUID, r *BatchResult) (*PipelineCoupling, error) {
	key := cacheKeyCouplings + id
	if raw, ok := b.cacheGet(ctx, cl, key, b.cfg.policy.CouplingsTTL); ok {
		var e couplingEntry
		if json.Unmarshal(raw, &e) == nil && e.AppID == appID && (e.Coupling == nil || e.Coupling.Pipeline.ID != uuid.Nil) {
			r.FromCache |= CacheHitCouplings
			return e.Coupling, nil
		}
	}
	if err := b.pace(ctx, cl); err != nil {
		return nil, err
	}
	r.Requests++
	coupling, err := cl.appCoupling(ctx, appID)
	if err != nil {
		return nil, err
	}
	b.cacheSet(ctx, cl, key, couplingEntry{AppID: appID, Coupling: coupling}, b.cfg.policy.CouplingsTTL)
	return coupling, nil
}

// memoPipeline is a pipeline this batch already has, and whether the Cache
// supplied it (then every item using it reports a cache hit).
type memoPipeline struct {
	p         *Pipeline
	fromCache bool
}

// fetched is what one pipeline flight hands to the items waiting on it.
type fetched struct {
	p    *Pipeline
	sent bool // false when the flight found the pipeline already fetched
}

func (b *batch) pipeline(ctx context.Context, cl *Client, pid string, r *BatchResult) (*Pipeline, error) {
	if m, ok := b.pipelines.Load(pid); ok {
		if m.(memoPipeline).fromCache {
			r.FromCache |= CacheHitPipeline
		}
		return m.(memoPipeline).p, nil
	}
	key := cacheKeyPipeline + pid
	if raw, ok := b.cacheGet(ctx, cl, key, b.cfg.policy.PipelineTTL); ok {
		var p Pipeline
		if json.Unmarshal(raw, &p) == nil && p.ID.String() == pid {
			r.FromCache |= CacheHitPipeline
			b.pipelines.Store(pid, memoPipeline{p: &p, fromCache: true})
			return &p, nil
		}
	}
	leader := false
	ch := b.flights.DoChan(pid, func() (any, error) {
		leader = true
		// A flight that ended between our Load and DoChan left its answer
		// here; without this check it would be fetched twice.
		if m, ok := b.pipelines.Load(pid); ok {
			return fetched{p: m.(memoPipeline).p}, nil
		}
		p, err := b.fetchPipeline(ctx, cl, pid)
		return fetched{p: p, sent: true}, err
	})
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res = <-ch:
	}
	f, _ := res.Val.(fetched)
	if leader {
		if f.sent {
			r.Requests++
		}
		return f.p, res.Err
	}
	if res.Err == nil || !tokenSpecific(res.Err) {
		return f.p, res.Err
	}
	// The leader's token could not read the pipeline; ours may.
	r.Requests++
	return b.fetchPipeline(ctx, cl, pid)
}

func (b *batch) fetchPipeline(ctx context.Context, cl *Client, pid string) (*Pipeline, error) {
	if err := b.pace(ctx, cl); err != nil {
		return nil, err
	}
	p, err := cl.GetPipeline(ctx, pid)
	if err != nil {
		return nil, err
	}
	b.pipelines.Store(pid, memoPipeline{p: p})
	b.cacheSet(ctx, cl, cacheKeyPipeline+pid, p, b.cfg.policy.PipelineTTL)
	return p, nil
}

// tokenSpecific reports whether err may belong to the token that got it
// rather than to the pipeline: a refusal of that token, or a failure that
// is not an answer from the API at all (the token source's, say). Such an
// error is not handed on to items holding other tokens.
func tokenSpecific(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden
	}
	return true
}

func (b *batch) cacheGet(ctx context.Context, cl *Client, key string, ttl time.Duration) ([]byte, bool) {
	if b.cfg.cache == nil || ttl < 0 {
		return nil, false
	}
	raw, ok, err := b.cfg.cache.Get(ctx, key)
	if err != nil {
		cl.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner cache get failed",
			slog.String("key", key), slog.String("error", err.Error()))
		return nil, false
	}
	return raw, ok
}

func (b *batch) cacheSet(ctx context.Context, cl *Client, key string, v any, ttl time.Duration) {
	if b.cfg.cache == nil || ttl < 0 {
		return
	}
	raw, err := json.Marshal(v)
	if err == nil {
		err = b.cfg.cache.Set(ctx, key, raw, ttl)
	}
	if err != nil {
		cl.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner cache set failed",
			slog.String("key", key), slog.String("error", err.Error()))
	}
}

// pacer spaces one client's requests once its bucket runs low.
type pacer struct {
	mu   sync.Mutex
	next time.Time // earliest start of the next paced request
}

// reserve books the next slot and returns how long to wait for it.
func (p *pacer) reserve(now time.Time, interval time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := now
	if p.next.After(now) {
		slot = p.next
	}
	p.next = slot.Add(interval)
	return slot.Sub(now)
}

// pace waits, when cl's bucket is below the reserve, for cl's next slot.
func (b *batch) pace(ctx context.Context, cl *Client) error {
	if b.cfg.reserve <= 0 {
		return nil
	}
	if rem, ok := cl.RateLimitRemaining(); !ok || rem >= b.cfg.reserve {
		return nil
	}
	b.pacersMu.Lock()
	p := b.pacers[cl]
	if p == nil {
		p = &pacer{}
		b.pacers[cl] = p
	}
	b.pacersMu.Unlock()
	d := p.reserve(time.Now(), b.cfg.interval)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
