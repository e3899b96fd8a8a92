package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// BatchItem is one add-on resource to resolve and the client, carrying that
// resource's token, to resolve it with. A nil Client means the client
// ResolvePipelines was called on. Prefer a client from ForResource: with
// BatchCache it is served its resource's entries without a request (see
// Cache for who is served what).
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
	// Err is a *ResolveError naming the failed step; it matches
	// ErrInvalidID or ErrNoToken when nothing could be sent.
	Err error
	// Requests is how many API calls resolving this item started, retries
	// not counted. A pipeline fetched once for several items counts for the
	// item whose request fetched it; if that item gave up first (ctx ended),
	// it counts only if the request had started by then.
	Requests int
	// FromCache says which steps the Cache answered.
	FromCache CacheHits
}

// ResolvePipelines resolves many add-on resources as ResolvePipeline does,
// returning one result per item in the order given; one item's failure
// never affects another's result.
//
// At most BatchConcurrency items are resolved at once. Each distinct
// pipeline is fetched once per call, however many items are coupled to it
// and however close together they ask, so N resources over K pipelines cost
// at most 2N+K requests, fewer with BatchCache, 2N with BatchTwoRequests. A
// shared pipeline is fetched with the token of whichever item asks first:
// every token whose app is coupled to a pipeline may read it, so the answer
// is one each of them could have had. If that request is refused for its
// token (401, 403) or fails on the token's side, the other items fetch the
// pipeline with their own tokens instead of inheriting the failure.
//
// When ctx ends, requests in flight are abandoned and items not yet started
// fail at once with an error matching ctx.Err(); ResolvePipelines returns
// without waiting for anything else.
//
// Requests are paced as BatchRateLimit describes; by default, once fewer
// than DefaultRateLimitReserve requests are left, the batch sends one
// request every 800ms.
func (c *Client) ResolvePipelines(ctx context.Context, items []BatchItem, opts ...BatchOption) []BatchResult {
	cfg := newBatchConfig(opts)
	results := make([]BatchResult, len(items))
	if len(items) == 0 {
		return results
	}
	run := &stepRunner{now: cfg.clock.now, cache: cfg.cache, policy: cfg.policy, memo: &sync.Map{},
		pacer: newPacer(cfg.reserve, cfg.interval, cfg.clock)}
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
				results[i] = resolveItem(ctx, c, run, cfg.twoRequests, items[i])
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

// resolveItem resolves one item through run, with the item's client or
// base.
func resolveItem(ctx context.Context, base *Client, run *stepRunner, twoRequests bool, item BatchItem) BatchResult {
	r := BatchResult{ResourceUUID: item.ResourceUUID}
	id, err := parseID("resourceUUID", item.ResourceUUID)
	if err != nil {
		r.Err = &ResolveError{Step: StepAddon, Err: err}
		return r
	}
	cl := item.Client
	if cl == nil {
		cl = base
	}
	switch {
	case cl == nil:
		err = fmt.Errorf("%w: no client for this item and ResolvePipelines was called on a nil client", ErrNoToken)
	case cl.tokens == nil:
		err = fmt.Errorf("%w: nothing sent", ErrNoToken)
	case ctx == nil:
		err = errors.New("herokupartner: ResolvePipelines: nil context")
	default:
		err = ctx.Err()
	}
	if err != nil {
		r.Err = &ResolveError{Step: StepAddon, ResourceID: id, Err: err}
		return r
	}
	s := newItemSteps(ctx, run, cl, id)
	r.Resolution, r.Err = resolve(ctx, id, twoRequests, s)
	r.Requests, r.FromCache = s.requests, s.hits
	return r
}
