package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/redis/go-redis/v9"
)

// The values a Dedup stores under an event's key.
const (
	dedupInFlight = "in-flight"
	dedupDone     = "done"
)

// Dedup is a herokupartner.WebhookDedup on Redis: replicas behind one
// load balancer share it, so an event redelivered to another replica is
// still recognised. It is safe for concurrent use.
type Dedup struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ herokupartner.WebhookDedup = (*Dedup)(nil)

// NewDedup returns a Dedup storing its marks through rdb, which the caller
// keeps and closes.
func NewDedup(rdb redis.UniversalClient, opts ...Option) *Dedup {
	return &Dedup{rdb: rdb, prefix: apply(opts).prefix}
}

// finishScript replaces an in-flight mark, or a missing one (the claim
// outlived its ttl), with done, or removes it; it never undoes a done mark
// that another replica set meanwhile.
var finishScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[1] and v ~= false then return 0 end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1`)

// Begin claims key with SET NX, so that of several replicas exactly one
// gets DedupNew.
func (d *Dedup) Begin(ctx context.Context, key string, ttl time.Duration) (herokupartner.DedupState, error) {
	k := d.prefix + key
	for range 3 {
		ok, err := d.rdb.SetNX(ctx, k, dedupInFlight, atLeastMillisecond(ttl)).Result()
		if err != nil {
			return 0, fmt.Errorf("rediscache: dedup begin: %w", err)
		}
		if ok {
			return herokupartner.DedupNew, nil
		}
		v, err := d.rdb.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue // expired between the two commands: claim again
		case err != nil:
			return 0, fmt.Errorf("rediscache: dedup begin: %w", err)
		case v == dedupDone:
			return herokupartner.DedupDone, nil
		default:
			return herokupartner.DedupInFlight, nil
		}
	}
	// The key keeps vanishing under us: someone else is at it.
	return herokupartner.DedupInFlight, nil
}

// Finish marks key done for ttl, or forgets it, if the claim is still
// this one's (in flight) or gone.
func (d *Dedup) Finish(ctx context.Context, key string, handled bool, ttl time.Duration) error {
	h := "0"
	if handled {
		h = "1"
	}
	ms := atLeastMillisecond(ttl).Milliseconds()
	if err := finishScript.Run(ctx, d.rdb, []string{d.prefix + key}, dedupInFlight, h, dedupDone, ms).Err(); err != nil {
		return fmt.Errorf("rediscache: dedup finish: %w", err)
	}
	return nil
}
