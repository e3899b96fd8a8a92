package herokupartner

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DedupState is what a WebhookDedup knows of an event.
type DedupState int

// The states of an event in a WebhookDedup.
const (
	// DedupNew means the event was not seen: the caller now holds it.
	DedupNew DedupState = iota
	// DedupInFlight means another delivery of the event is being handled.
	DedupInFlight
	// DedupDone means the event was handled.
	DedupDone
)

// WebhookDedup remembers which webhook events were handled, so that a
// redelivery is not applied twice. A WebhookReceiver keys it by event id.
// An implementation shared by several replicas (rediscache.Dedup, on
// Redis) deduplicates across them; it must be safe for concurrent use.
type WebhookDedup interface {
	// Begin claims key for handling for at most ttl and reports DedupNew,
	// or says the key is in flight or done and leaves it as it is.
	Begin(ctx context.Context, key string, ttl time.Duration) (DedupState, error)
	// Finish ends a claim: handled, the key is done for ttl; not handled,
	// it is forgotten, so that a redelivery is handled again.
	Finish(ctx context.Context, key string, handled bool, ttl time.Duration) error
}

// DefaultDedupSize is the number of events a MemoryDedup made with a size
// of zero or less remembers.
const DefaultDedupSize = 100000

// MemoryDedup is an in-process WebhookDedup remembering at most a fixed
// number of events; when full it forgets the oldest claim.
type MemoryDedup struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = newest claim
	items map[string]*list.Element
	now   func() time.Time
}

type dedupEntry struct {
	key     string
	state   DedupState
	expires time.Time
}

var _ WebhookDedup = (*MemoryDedup)(nil)

// NewMemoryDedup returns an empty MemoryDedup remembering at most
// maxEntries events, or DefaultDedupSize when maxEntries is zero or less.
func NewMemoryDedup(maxEntries int) *MemoryDedup {
	if maxEntries <= 0 {
		maxEntries = DefaultDedupSize
	}
	return &MemoryDedup{max: maxEntries, ll: list.New(), items: make(map[string]*list.Element), now: time.Now}
}

// Begin claims key unless a live claim or done mark holds it.
func (m *MemoryDedup) Begin(_ context.Context, key string, ttl time.Duration) (DedupState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if el, ok := m.items[key]; ok {
		e := el.Value.(*dedupEntry)
		if now.Before(e.expires) {
			return e.state, nil
		}
		m.ll.Remove(el)
		delete(m.items, key)
	}
	m.items[key] = m.ll.PushFront(&dedupEntry{key: key, state: DedupInFlight, expires: now.Add(ttl)})
	m.trim(now)
	return DedupNew, nil
}

// Finish marks key done for ttl, or forgets it.
func (m *MemoryDedup) Finish(_ context.Context, key string, handled bool, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if el, ok := m.items[key]; ok {
		m.ll.Remove(el)
		delete(m.items, key)
	}
	if handled {
		m.items[key] = m.ll.PushFront(&dedupEntry{key: key, state: DedupDone, expires: now.Add(ttl)})
		m.trim(now)
	}
	return nil
}

// trim drops expired entries from the old end, then the oldest while over
// the bound; it runs under mu.
func (m *MemoryDedup) trim(now time.Time) {
	for el := m.ll.Back(); el != nil; el = m.ll.Back() {
		e := el.Value.(*dedupEntry)
		if m.ll.Len() <= m.max && now.Before(e.expires) {
			return
		}
		m.ll.Remove(el)
		delete(m.items, e.key)
	}
}

// Len returns the number of events remembered.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}
