package herokupartner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBatchOptionZeroValuesMeanOneThing(t *testing.T) {
	cfg := func(opts ...BatchOption) batchConfig { return newBatchConfig(opts) }
	def := cfg()
	assert.Equal(t, DefaultRateLimitReserve, def.reserve)
	assert.Equal(t, rateLimitRefill, def.interval)
	assert.Equal(t, DefaultBatchConcurrency, def.concurrency)

	for name, tc := range map[string]struct {
		opt      BatchOption
		reserve  int
		interval time.Duration
	}{
		"zero, zero: both defaults":     {BatchRateLimit(0, 0), DefaultRateLimitReserve, rateLimitRefill},
		"zero reserve: default":         {BatchRateLimit(0, time.Second), DefaultRateLimitReserve, time.Second},
		"zero interval: default":        {BatchRateLimit(7, 0), 7, rateLimitRefill},
		"negative reserve: off":         {BatchRateLimit(-1, time.Second), 0, time.Second},
		"negative interval: off":        {BatchRateLimit(7, -1), 0, -1},
		"deprecated, zero reserve: off": {WithRateLimitReserve(0, time.Second), 0, rateLimitRefill},
		"deprecated, zero interval":     {WithRateLimitReserve(7, 0), 7, rateLimitRefill},
	} {
		got := cfg(tc.opt)
		assert.Equal(t, tc.reserve, got.reserve, name)
		if tc.reserve > 0 {
			assert.Equal(t, tc.interval, got.interval, name)
		}
	}

	assert.Equal(t, 3, cfg(WithConcurrency(3)).concurrency, "the deprecated alias still works")
	assert.Equal(t, DefaultBatchConcurrency, cfg(BatchConcurrency(0)).concurrency)
	progressed := false
	cfg(WithProgress(func(int, int) { progressed = true })).progress(1, 1)
	assert.True(t, progressed)
	m := NewMemoryCache(1)
	c := cfg(WithCache(m, CachePolicy{AddonTTL: time.Second}))
	assert.Same(t, m, c.cache)
	assert.Equal(t, CachePolicy{AddonTTL: time.Second, CouplingsTTL: time.Minute, PipelineTTL: time.Hour}, c.policy)
}

func TestPacerFollowsTheLatestLevelOfAnyClient(t *testing.T) {
	var slept []time.Time
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newPacer(10, time.Second, funcClock{nowFn: func() time.Time { return now },
		untilFn: func(_ context.Context, at time.Time) error { slept = append(slept, at); return nil }})
	assert.NoError(t, p.wait(context.Background()))
	assert.Empty(t, slept, "an unknown level is not paced")
	p.level.Store(50)
	assert.NoError(t, p.wait(context.Background()))
	assert.Empty(t, slept, "above the reserve nothing waits")
	p.level.Store(9)
	for range 3 {
		assert.NoError(t, p.wait(context.Background()))
	}
	assert.Equal(t, []time.Time{now.Add(time.Second), now.Add(2 * time.Second)}, slept,
		"the first paced request goes at once, the next ones an interval apart")
}
