package herokupartner

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Cache stores what a resolution learned so that a later one can skip
// requests; ResolvePipelines (with BatchCache) and Resolver use it. Values
// are opaque bytes with a time to live, so a partner running several
// replicas can back it with a shared store; an implementation must be safe
// for concurrent use. A Get or Set error is treated as a miss and logged: a
// cache outage slows resolution down but never fails it. Tokens are never
// cached.
//
// What an entry is served to: entries about an add-on and its coupling are
// keyed by the resource's uuid, and are only served to a client that has
// shown it may read that resource:
//   - a client made by ForResource(m, id) or
//     WithTokenSource(m.TokenSource(id)) is bound to resource id by its
//     TokenManager; it is served id's entries without any request, and a
//     token refresh changes nothing;
//   - any other client (WithToken, a token source of your own) is served
//     them once its current access token has read id's add-on from the API
//     in this process. Its first resolution of id asks for the add-on
//     (that answer is the proof) and is then served the coupling from the
//     cache; later ones, by any client sending the same token, are served
//     everything. A new access token proves itself again, with one request.
//     The process remembers an HMAC of the token under a random key of its
//     own, never the token, and never in the cache.
//
// A pipeline entry, keyed by pipeline id, is only reached through a
// coupling served under these rules. An entry is served without asking the
// API, so within its ttl a client whose grant was revoked still resolves;
// keep CouplingsTTL short if that matters.
type Cache interface {
	// Get returns the value stored under key, and false when there is none
	// or it has expired.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// CachePolicy sets how long each kind of cache entry lives. A zero field
// takes its default; a negative field means that kind is never cached.
type CachePolicy struct {
	// AddonTTL bounds the age of a cached add-on record. Its billing app
	// never changes, so this can be long; its other fields (state, plan)
	// may be this old in a cached Resolution. The default is 24 hours.
	AddonTTL time.Duration
	// CouplingsTTL bounds the age of a cached pipeline coupling (or of the
	// fact that the app is in no pipeline). Customers move apps between
	// stages, so this is short: a minute by default.
	CouplingsTTL time.Duration
	// PipelineTTL bounds the age of a cached pipeline; pipelines are
	// renamed rarely. The default is an hour.
	PipelineTTL time.Duration
}

// defaultCachePolicy is the one source of the defaults: with it a repeat
// resolution costs no request within a minute and one request (the
// coupling) after that, for a day, while the pipeline is unchanged.
var defaultCachePolicy = CachePolicy{
	AddonTTL:     24 * time.Hour,
	CouplingsTTL: time.Minute,
	PipelineTTL:  time.Hour,
}

// DefaultCachePolicy is a copy of the defaults a CachePolicy's zero fields
// take.
//
// Deprecated: changing it has no effect; the defaults are documented on
// CachePolicy's fields, and CachePolicy{} selects them all.
var DefaultCachePolicy = defaultCachePolicy

func (p CachePolicy) withDefaults() CachePolicy {
	if p.AddonTTL == 0 {
		p.AddonTTL = defaultCachePolicy.AddonTTL
	}
	if p.CouplingsTTL == 0 {
		p.CouplingsTTL = defaultCachePolicy.CouplingsTTL
	}
	if p.PipelineTTL == 0 {
		p.PipelineTTL = defaultCachePolicy.PipelineTTL
	}
	return p
}

// Cache keys carry a version so that a shared store survives a change of
// encoding (v2: each value is an envelope with the time it was fetched). Who may read a per-resource entry is decided by stepRunner, not
// by the key, so that a token refresh never turns a warm cache cold.
const (
	cacheKeyAddon     = "herokupartner:v2:addon:"     // + resource uuid
	cacheKeyCouplings = "herokupartner:v2:couplings:" // + resource uuid
	cacheKeyPipeline  = "herokupartner:v2:pipeline:"  // + pipeline id
)

// DefaultMemoryCacheSize is the number of entries a MemoryCache made with a
// size of zero or less holds: about three per resource for a few thousand
// resources.
const DefaultMemoryCacheSize = 10000

// MemoryCache is an in-process Cache holding at most a fixed number of
// entries; when full it drops the least recently used one. It is safe for
// concurrent use.
type MemoryCache struct {
	// Now is the cache's clock; nil means time.Now. Set it before first
	// use, to a func safe for concurrent use: tests move a fake clock
	// instead of sleeping out a ttl.
	Now func() time.Time

	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type memoryEntry struct {
	key     string
	value   []byte
	expires time.Time
}

var _ Cache = (*MemoryCache)(nil)

// NewMemoryCache returns an empty MemoryCache holding at most maxEntries
// entries, or DefaultMemoryCacheSize when maxEntries is zero or less.
func NewMemoryCache(maxEntries int) *MemoryCache {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryCacheSize
	}
	return &MemoryCache{max: maxEntries, ll: list.New(), items: make(map[string]*list.Element)}
}

// Get returns a copy of the value under key if it has not expired.
func (m *MemoryCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*memoryEntry)
	if !m.now().Before(e.expires) {
		m.ll.Remove(el)
		delete(m.items, key)
		return nil, false, nil
	}
	m.ll.MoveToFront(el)
	// A copy keeps a caller that modifies the slice from changing the entry.
	return append([]byte(nil), e.value...), true, nil
}

// Set stores a copy of value under key for ttl; a ttl of zero or less
// removes the key.
func (m *MemoryCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.ll.Remove(el)
		delete(m.items, key)
	}
	if ttl <= 0 {
		return nil
	}
	e := &memoryEntry{key: key, value: append([]byte(nil), value...), expires: m.now().Add(ttl)}
	m.items[key] = m.ll.PushFront(e)
	for m.ll.Len() > m.max {
		oldest := m.ll.Back()
		m.ll.Remove(oldest)
		delete(m.items, oldest.Value.(*memoryEntry).key)
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}

func (m *MemoryCache) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}
