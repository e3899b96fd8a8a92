package herokupartner

import "time"

// DefaultBatchConcurrency is how many resources ResolvePipelines resolves at
// once unless BatchConcurrency says otherwise.
const DefaultBatchConcurrency = 8

// BatchOption configures one ResolvePipelines call. Its constructors are
// named Batch… so that they cannot be mistaken for a Client's options.
type BatchOption func(*batchConfig)

type batchConfig struct {
	concurrency int
	cache       Cache
	policy      CachePolicy
	progress    func(done, total int)
	reserve     int
	interval    time.Duration
	twoRequests bool
	clock       clock
}

func newBatchConfig(opts []BatchOption) batchConfig {
	cfg := batchConfig{concurrency: DefaultBatchConcurrency, reserve: DefaultRateLimitReserve,
		interval: rateLimitRefill, clock: wallClock{}}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	return cfg
}

// BatchConcurrency sets how many resources are resolved at once, and so the
// most requests in flight; n of zero or less means DefaultBatchConcurrency.
func BatchConcurrency(n int) BatchOption {
	return func(c *batchConfig) {
		if n < 1 {
			n = DefaultBatchConcurrency
		}
		c.concurrency = n
	}
}

// BatchCache makes the batch read and fill cache, keeping entries as long as
// policy says (its zero fields take the defaults). Reuse the same cache
// across calls: that is what makes repeat resolutions cheap. Cache says
// which client each entry is served to.
func BatchCache(cache Cache, policy CachePolicy) BatchOption {
	return func(c *batchConfig) {
		c.cache = cache
		c.policy = policy.withDefaults()
	}
}

// BatchProgress calls fn after each item finishes with the number finished
// and the total. Calls never overlap, so fn needs no locking; it should be
// quick, since a worker waits for it.
func BatchProgress(fn func(done, total int)) BatchOption {
	return func(c *batchConfig) { c.progress = fn }
}

// BatchRateLimit sets the pacing: once the latest RateLimit-Remaining any
// of the batch's clients saw falls below reserve, the batch's requests are
// spaced interval apart, the rate at which Heroku's bucket refills, so the
// bucket hovers near reserve instead of running dry into 429s. As in
// CachePolicy, zero means the default for either argument
// (DefaultRateLimitReserve, and 800ms: about 75 requests a minute) and a
// negative value of either turns pacing off. Keep reserve above the
// concurrency, since requests already in flight when the level drops
// still land.
func BatchRateLimit(reserve int, interval time.Duration) BatchOption {
	return func(c *batchConfig) {
		if reserve == 0 {
			reserve = DefaultRateLimitReserve
		}
		if interval == 0 {
			interval = rateLimitRefill
		}
		if reserve < 0 || interval < 0 {
			reserve = 0 // off
		}
		c.reserve, c.interval = reserve, interval
	}
}

// BatchTwoRequests skips GET /pipelines/{id} for every item whose coupling
// names its pipeline: N resources then cost 2N requests instead of 2N+K.
// Such a Resolution's Pipeline holds only the id and name, and its
// PipelinePartial is true; a coupling without the name still costs the
// pipeline request.
func BatchTwoRequests() BatchOption {
	return func(c *batchConfig) { c.twoRequests = true }
}

// WithConcurrency is BatchConcurrency.
//
// Deprecated: use BatchConcurrency, whose name says it configures a batch.
func WithConcurrency(n int) BatchOption { return BatchConcurrency(n) }

// WithCache is BatchCache.
//
// Deprecated: use BatchCache, whose name says it configures a batch.
func WithCache(cache Cache, policy CachePolicy) BatchOption { return BatchCache(cache, policy) }

// WithProgress is BatchProgress.
//
// Deprecated: use BatchProgress, whose name says it configures a batch.
func WithProgress(fn func(done, total int)) BatchOption { return BatchProgress(fn) }

// WithRateLimitReserve sets pacing with its old meaning of zero: a reserve
// of zero or less turns pacing off, an interval of zero or less means
// 800ms.
//
// Deprecated: use BatchRateLimit, where zero means the default for both
// arguments and a negative value turns pacing off.
func WithRateLimitReserve(reserve int, interval time.Duration) BatchOption {
	if reserve <= 0 {
		return BatchRateLimit(-1, 0)
	}
	return BatchRateLimit(reserve, max(interval, 0))
}
