package rediscache_test

// The rediscache snippet of the root README.md, kept verbatim between
// "readme:begin" and "readme:end" lines; the root module's
// TestREADMESnippets fails when the README and this copy differ.

import (
	"context"
	"os"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/rediscache"
	"github.com/redis/go-redis/v9"
)

// Compiled, not run.
var _ = readmeRedis

func readmeRedis(ctx context.Context, base *herokupartner.Client, items []herokupartner.BatchItem) {
	// readme:begin rediscache
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	cache := rediscache.New(rdb, rediscache.WithPrefix("acme:")) // prefix: share one database safely
	results := base.ResolvePipelines(ctx, items, herokupartner.BatchCache(cache, herokupartner.CachePolicy{}))
	stages := &herokupartner.Resolver{Cache: cache}
	dedup := rediscache.NewDedup(rdb, rediscache.WithPrefix("acme:")) // for WebhookReceiverConfig.Dedup
	// readme:end
	_, _, _ = results, stages, dedup
}
