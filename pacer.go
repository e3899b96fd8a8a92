package herokupartner

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRateLimitReserve is the RateLimit-Remaining level below which
// ResolvePipelines paces its requests unless BatchRateLimit says otherwise.
const DefaultRateLimitReserve = 100

// clock is what pacing reads and waits on; tests replace it so that no
// test depends on how fast a loaded machine runs.
type clock interface {
	now() time.Time
	// sleepUntil waits until t or until ctx ends.
	sleepUntil(ctx context.Context, t time.Time) error
}

type wallClock struct{}

func (wallClock) now() time.Time { return time.Now() }

func (wallClock) sleepUntil(ctx context.Context, at time.Time) error {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pacer spaces one batch's requests once the rate-limit bucket runs low.
//
// It is one per batch, not one per client: which bucket a partner token
// draws on is undocumented, and tokens granted to one partner may well
// share one. So the batch follows the latest RateLimit-Remaining any of its
// clients saw; with one client per resource, as recommended, a per-client
// pacer would let every fresh client's first requests through unpaced.
type pacer struct {
	reserve  int // pacing is off below 1
	interval time.Duration
	clock    clock
	level    atomic.Int64 // latest RateLimit-Remaining seen; -1 before any

	mu   sync.Mutex
	next time.Time // earliest start of the next paced request
}

func newPacer(reserve int, interval time.Duration, c clock) *pacer {
	p := &pacer{reserve: reserve, interval: interval, clock: c}
	p.level.Store(-1)
	return p
}

// wait holds a request back, while the bucket is below the reserve, until
// its slot.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil || p.reserve < 1 {
		return nil
	}
	if lvl := p.level.Load(); lvl < 0 || lvl >= int64(p.reserve) {
		return nil
	}
	now := p.clock.now()
	d := p.book(now, p.interval)
	if d <= 0 {
		return nil
	}
	return p.clock.sleepUntil(ctx, now.Add(d))
}

// note records the level cl's latest answer reported.
func (p *pacer) note(cl *Client) {
	if p == nil {
		return
	}
	if rem, ok := cl.RateLimitRemaining(); ok {
		p.level.Store(int64(rem))
	}
}

// book reserves the next slot and returns how long to wait for it.
func (p *pacer) book(now time.Time, interval time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := now
	if p.next.After(now) {
		slot = p.next
	}
	p.next = slot.Add(interval)
	return slot.Sub(now)
}
