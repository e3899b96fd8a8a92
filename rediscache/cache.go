// Package rediscache shares herokupartner's resolution cache and webhook
// deduplication between replicas through Redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	cache := rediscache.New(rdb, rediscache.WithPrefix("myaddon:"))
//	results := client.ResolvePipelines(ctx, items, herokupartner.BatchCache(cache, herokupartner.CachePolicy{}))
//	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
//		Secrets: secrets, OnEvent: apply, Dedup: rediscache.NewDedup(rdb, rediscache.WithPrefix("myaddon:")),
//	})
//
// Values are stored as Redis strings with a millisecond expiry; nothing
// is kept without one.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/redis/go-redis/v9"
)

// Cache is a herokupartner.Cache on Redis. It is safe for concurrent use,
// as the go-redis client is.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ herokupartner.Cache = (*Cache)(nil)

// Option configures a Cache or a Dedup.
type Option func(*settings)

type settings struct{ prefix string }

// WithPrefix puts prefix before every key, so several add-ons or
// environments can share one Redis database.
func WithPrefix(prefix string) Option {
	return func(s *settings) { s.prefix = prefix }
}

func apply(opts []Option) settings {
	var s settings
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	return s
}

// New returns a Cache storing its entries through rdb, which the caller
// keeps and closes. A redis.Client, ClusterClient or Ring will do.
func New(rdb redis.UniversalClient, opts ...Option) *Cache {
	return &Cache{rdb: rdb, prefix: apply(opts).prefix}
}

// Get returns the value under key, and false when there is none or it
// expired.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rediscache: get: %w", err)
	}
	return v, true, nil
}

// Set stores value under key for ttl; a ttl of zero or less removes the
// key, as herokupartner.MemoryCache does.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	var err error
	if ttl <= 0 {
		err = c.rdb.Del(ctx, c.prefix+key).Err()
	} else {
		err = c.rdb.Set(ctx, c.prefix+key, value, atLeastMillisecond(ttl)).Err()
	}
	if err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	return nil
}

// Delete removes keys, so that a webhook event (an app renamed, an add-on
// destroyed) drops what it made stale on every replica at once: it makes
// Cache a herokupartner.CacheDeleter, which herokupartner.InvalidateWebhook
// uses.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	if err := c.rdb.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("rediscache: delete: %w", err)
	}
	return nil
}

// atLeastMillisecond rounds a positive ttl below Redis' resolution up,
// since go-redis would otherwise send it as "keep forever".
func atLeastMillisecond(ttl time.Duration) time.Duration {
	return max(ttl, time.Millisecond)
}
