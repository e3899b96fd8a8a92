package herokupartnertest

import (
	"sync"
	"time"
)

// bucket is the token bucket Heroku documents: it holds at most capacity
// requests, each request takes one, and it refills at a steady rate. One
// bucket serves the whole server, as though every token drew on one
// account, since which bucket a partner token draws on is undocumented.
type bucket struct {
	mu       sync.Mutex
	capacity float64
	perSec   float64
	level    float64
	last     time.Time
}

func newBucket(capacity int, perMinute float64, now time.Time) *bucket {
	return &bucket{capacity: float64(capacity), perSec: perMinute / 60, level: float64(capacity), last: now}
}

// take draws one request at now and returns what is left, rounded down,
// and whether the bucket had one to give.
func (b *bucket) take(now time.Time) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		b.level = min(b.capacity, b.level+now.Sub(b.last).Seconds()*b.perSec)
		b.last = now
	}
	if b.level < 1 {
		return 0, false
	}
	b.level--
	return int(b.level), true
}
