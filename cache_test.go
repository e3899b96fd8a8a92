package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClockedCache(size int) (*MemoryCache, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := NewMemoryCache(size)
	m.Now = clock.now
	return m, clock
}

func TestMemoryCacheExpiresEntries(t *testing.T) {
	ctx := context.Background()
	m, clock := newClockedCache(10)
	require.NoError(t, m.Set(ctx, "short", []byte("a"), time.Minute))
	require.NoError(t, m.Set(ctx, "long", []byte("b"), time.Hour))

	clock.advance(time.Minute - time.Nanosecond)
	v, ok, err := m.Get(ctx, "short")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []byte("a"), v)

	clock.advance(time.Nanosecond)
	_, ok, _ = m.Get(ctx, "short")
	assert.False(t, ok, "an entry is gone once its ttl has passed")
	assert.Equal(t, 1, m.Len(), "an expired entry is dropped when met")
	_, ok, _ = m.Get(ctx, "long")
	assert.True(t, ok)
}

func TestMemoryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m, _ := newClockedCache(3)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, m.Set(ctx, k, []byte(k), time.Hour))
	}
	_, ok, _ := m.Get(ctx, "a") // a is now the most recently used
	require.True(t, ok)
	require.NoError(t, m.Set(ctx, "d", []byte("d"), time.Hour))

	assert.Equal(t, 3, m.Len())
	_, ok, _ = m.Get(ctx, "b")
	assert.False(t, ok, "the least recently used entry goes first")
	for _, k := range []string{"a", "c", "d"} {
		_, ok, _ = m.Get(ctx, k)
		assert.True(t, ok, k)
	}
}

func TestMemoryCacheCopiesValues(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCache(0)
	in := []byte("pipeline")
	require.NoError(t, m.Set(ctx, "k", in, time.Hour))
	in[0] = 'X'
	out, _, _ := m.Get(ctx, "k")
	assert.Equal(t, "pipeline", string(out))
	out[0] = 'Y'
	again, _, _ := m.Get(ctx, "k")
	assert.Equal(t, "pipeline", string(again))
}

func TestMemoryCacheNonPositiveTTLDeletes(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCache(0)
	require.NoError(t, m.Set(ctx, "k", []byte("v"), time.Hour))
	require.NoError(t, m.Set(ctx, "k", []byte("v"), 0))
	_, ok, _ := m.Get(ctx, "k")
	assert.False(t, ok)
	assert.Zero(t, m.Len())
}

func TestMemoryCacheConcurrentUse(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCache(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*31+i)%120)
				_ = m.Set(ctx, k, []byte(k), time.Hour)
				if v, ok, _ := m.Get(ctx, k); ok {
					assert.Equal(t, k, string(v))
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, m.Len(), 50)
}

func TestCachePolicyDefaults(t *testing.T) {
	assert.Equal(t, defaultCachePolicy, CachePolicy{}.withDefaults())
	assert.Equal(t, DefaultCachePolicy, defaultCachePolicy, "the deprecated copy shows the defaults")
	saved := DefaultCachePolicy
	defer func() { DefaultCachePolicy = saved }()
	DefaultCachePolicy = CachePolicy{AddonTTL: time.Nanosecond, CouplingsTTL: time.Nanosecond, PipelineTTL: time.Nanosecond}
	assert.Equal(t, time.Minute, CachePolicy{}.withDefaults().CouplingsTTL, "changing the deprecated copy changes nothing")
	p := CachePolicy{AddonTTL: time.Second, CouplingsTTL: -1}.withDefaults()
	assert.Equal(t, time.Second, p.AddonTTL)
	assert.Negative(t, p.CouplingsTTL, "a negative ttl keeps meaning: never cache")
	assert.Equal(t, defaultCachePolicy.PipelineTTL, p.PipelineTTL)
}

func TestPacerSpacesRequests(t *testing.T) {
	var p pacer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const iv = 800 * time.Millisecond
	assert.Zero(t, p.book(now, iv), "the first paced request goes at once")
	assert.Equal(t, iv, p.book(now, iv))
	assert.Equal(t, 2*iv, p.book(now, iv))
	// After a quiet spell no debt is carried over.
	later := now.Add(time.Minute)
	assert.Zero(t, p.book(later, iv))
	assert.Equal(t, iv/2, p.book(later.Add(iv/2), iv), "a request half an interval on waits the other half")
}

func TestTokenSpecificErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"401", &APIError{StatusCode: http.StatusUnauthorized}, true},
		{"403", fmt.Errorf("wrapped: %w", &APIError{StatusCode: http.StatusForbidden}), true},
		{"404 is about the pipeline", &APIError{StatusCode: http.StatusNotFound}, false},
		{"503 is about the API", &APIError{StatusCode: http.StatusServiceUnavailable}, false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"no token", ErrNoToken, true},
		{"token source", errors.New("getting token: refresh failed"), true},
	} {
		assert.Equal(t, tc.want, tokenSpecific(tc.err), tc.name)
	}
}
