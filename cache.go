package herokupartner

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Cache stores what ResolvePipelines learned so that a later resolution can
// skip requests. Values are opaque bytes with a time to live, so a partner
// running several replicas can back it with a shared store; an
// implementation must be safe for concurrent use. A Get or Set error is
// treated as a miss and logged: a cache outage slows resolution down but
// never fails it.
//
// Entries about an add-on and its coupling are keyed by the resource's
// uuid, and a pipeline by its id, which only a coupling read for a
// resource leads to: an entry is only ever served for the resource whose
// token fetched it. It is served without asking the API, so within its ttl
// a resource whose grant was revoked still resolves from the cache; keep
// CouplingsTTL short if that matters. Tokens are never cached.
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
	// may be this old in a cached Resolution.
	AddonTTL time.Duration
	// CouplingsTTL bounds the age of a cached pipeline coupling (or of the
	// fact that the app is in no pipeline). Customers move apps between
	// stages, so this is short.
	CouplingsTTL time.Duration
	// PipelineTTL bounds the age of a cached pipeline; pipelines are
	// renamed rarely.
	PipelineTTL time.Duration
}

// DefaultCachePolicy is used for the fields a CachePolicy leaves zero. With
// it a repeat resolution costs no request within a minute and one request
// (the coupling) after that, for a day, while the pipeline is unchanged.
var DefaultCachePolicy = CachePolicy{
	AddonTTL:     24 * time.Hour,
	CouplingsTTL: time.Minute,
	PipelineTTL:  time.Hour,
}

func (p CachePolicy) withDefaults() CachePolicy {
	if p.AddonTTL == 0 {
		p.AddonTTL = DefaultCachePolicy.AddonTTL
	}
	if p.CouplingsTTL == 0 {
		p.CouplingsTTL = DefaultCachePolicy.CouplingsTTL
	}
	if p.PipelineTTL == 0 {
		p.PipelineTTL = DefaultCachePolicy.PipelineTTL
	}
	return p
}

// Cache keys carry a version so that a shared store survives a change of
// encoding, and the resource's uuid for per-resource entries: an entry is
// only ever read back for the resource whose token fetched it.
const (
	cacheKeyAddon     = "herokupartner:v1:addon:"     // + resource uuid
	cacheKeyCouplings = "herokupartner:v1:couplings:" // + resource uuid
	cacheKeyPipeline  = "herokupartner:v1:pipeline:"  // + pipeline id
)

// DefaultMemoryCacheSize is the number of entries a MemoryCache made with a
// size of zero or less holds: about three per resource for a few thousand
// resources.
const DefaultMemoryCacheSize = 10000

// MemoryCache is an in-process Cache holding at most a fixed number of
// entries; when full it drops the least recently used one. It is safe for
// concurrent use.
type MemoryCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
	now   func() time.Time
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
	return &MemoryCache{max: maxEntries, ll: list.New(), items: make(map[string]*list.Element), now: time.Now}
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
