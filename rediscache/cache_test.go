package rediscache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/rediscache"
	"github.com/redis/go-redis/v9"
)

func TestCacheGetSet(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	c := rediscache.New(rdb, rediscache.WithPrefix("acme:"))
	if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	if err := c.Set(ctx, "k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	v, ok, err := c.Get(ctx, "k")
	if err != nil || !ok || string(v) != "v1" {
		t.Fatalf("Get = %q, %v, %v; want v1", v, ok, err)
	}
	// The prefix is applied, and the key expires within its ttl.
	ttl, err := rdb.PTTL(ctx, "acme:k").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("PTTL(acme:k) = %v, %v; want within (0, 1h]", ttl, err)
	}
	if n, _ := rdb.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("the unprefixed key exists")
	}
	other := rediscache.New(rdb, rediscache.WithPrefix("other:"))
	if _, ok, _ := other.Get(ctx, "k"); ok {
		t.Fatal("another prefix sees the entry")
	}
}

func TestCacheSetNonPositiveTTLRemoves(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	c := rediscache.New(rdb)
	_ = c.Set(ctx, "k", []byte("v"), time.Hour)
	if err := c.Set(ctx, "k", []byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("a zero ttl kept the entry")
	}
	// A ttl below Redis' millisecond resolution still expires.
	if err := c.Set(ctx, "tiny", []byte("v"), time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := rdb.PTTL(ctx, "tiny").Result(); ttl == -1 {
		t.Fatal("a sub-millisecond ttl was stored without expiry")
	}
}

func TestCacheExpires(t *testing.T) {
	ctx := context.Background()
	c := rediscache.New(newRedis(t))
	if err := c.Set(ctx, "k", []byte("v"), 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Redis' own clock expires the key; wait for that event, generously.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok, err := c.Get(ctx, "k"); err != nil || !ok {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the entry never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCacheDelete(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	c := rediscache.New(rdb, rediscache.WithPrefix("p:"))
	for _, k := range []string{"a", "b", "c"} {
		_ = c.Set(ctx, k, []byte(k), time.Hour)
	}
	if err := c.Delete(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"a": false, "b": false, "c": true} {
		if _, ok, _ := c.Get(ctx, k); ok != want {
			t.Errorf("after Delete(a, b): %s present = %v", k, ok)
		}
	}
}

func TestCacheOutageIsAnError(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	c := rediscache.New(rdb)
	if _, ok, err := c.Get(context.Background(), "k"); err == nil || ok {
		t.Fatalf("Get against no server: ok=%v err=%v", ok, err)
	}
	if err := c.Set(context.Background(), "k", nil, time.Hour); err == nil {
		t.Fatal("Set against no server succeeded")
	}
}

// Two replicas with their own go-redis clients share entries: the second
// replica's batch is answered from what the first one cached.
func TestReplicasShareResolutions(t *testing.T) {
	ctx := context.Background()
	newRedis(t) // flushes the database
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	web := fake.AddApp("acme-web")
	shop := fake.AddPipeline("acme-shop")
	fake.Couple(web.ID, shop.ID, herokupartner.StageProduction)
	var items []herokupartner.BatchItem
	for range 5 {
		a := fake.AddAddon(web.ID, "basic")
		items = append(items, herokupartner.BatchItem{ResourceUUID: a.ID.String(), Client: fake.Client(fake.IssueToken(a.ID))})
	}
	replica := func() []herokupartner.BatchResult {
		rdb := redis.NewClient(&redis.Options{Addr: server.addr})
		defer rdb.Close()
		opt := herokupartner.BatchCache(rediscache.New(rdb, rediscache.WithPrefix("acme:")), herokupartner.CachePolicy{})
		return items[0].Client.ResolvePipelines(ctx, items, opt)
	}
	first := replica()
	second := replica()
	for i := range items {
		if first[i].Err != nil || second[i].Err != nil {
			t.Fatalf("item %d: %v / %v", i, first[i].Err, second[i].Err)
		}
		if first[i].Requests == 0 {
			t.Errorf("item %d: the first replica made no request", i)
		}
		if second[i].Requests != 0 {
			t.Errorf("item %d: the second replica made %d requests; want all from the shared cache", i, second[i].Requests)
		}
		if got := second[i].Resolution.Pipeline.Name; got != "acme-shop" {
			t.Errorf("item %d: pipeline %q", i, got)
		}
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c := rediscache.New(newRedis(t))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := string(rune('a' + i))
			if err := c.Set(ctx, k, []byte(k), time.Hour); err != nil {
				t.Error(err)
			}
			if v, ok, err := c.Get(ctx, k); err != nil || !ok || string(v) != k {
				t.Errorf("Get(%s) = %q, %v, %v", k, v, ok, err)
			}
		}()
	}
	wg.Wait()
}
