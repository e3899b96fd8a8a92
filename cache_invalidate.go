package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// CacheDeleter is a Cache that can drop entries before their ttl ends, as
// MemoryCache and rediscache.Cache can. InvalidateWebhook deletes through
// it when a Cache has it; it is a separate interface so that a Cache
// written before it still compiles, and is still invalidated.
type CacheDeleter interface {
	// Delete removes the entries under keys; a key with no entry is not
	// an error.
	Delete(ctx context.Context, keys ...string) error
}

var _ CacheDeleter = (*MemoryCache)(nil)

// Delete removes the entries under keys.
func (m *MemoryCache) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if el, ok := m.items[k]; ok {
			m.ll.Remove(el)
			delete(m.items, k)
		}
	}
	return nil
}

// cacheTombstone overwrites an entry in a Cache without Delete: it decodes
// as an envelope without a value, which every resolution step treats as a
// miss and replaces with what it fetches. The ttl is positive because the
// Cache interface does not say what a ttl of zero does.
var cacheTombstone = []byte(`{}`)

const cacheTombstoneTTL = time.Minute

// InvalidateWebhook drops from cache the entries that ev makes stale, on
// every replica sharing the cache, so that no later resolution serves a
// renamed app's old name or a destroyed add-on:
//
//	api:addon update   the add-on's entry (its plan, state and name)
//	api:addon destroy  the add-on's and its coupling's entries
//	api:app update     the add-on entry of each resource billed to the app,
//	                   which carries the app's name
//	api:app destroy    the add-on and coupling entries of each of them
//
// Other events change nothing cached (attachments are not cached) and
// pipeline entries have no event: they age out within
// CachePolicy.PipelineTTL. Entries are keyed by resource, and an app event
// names only the app, so appResources lists the resources billed to an app:
// Tracker.AppResources, or TrackerStore.ByApp. With nil, app events drop
// nothing and a renamed app's entries age out within CachePolicy.AddonTTL.
//
// A Cache that implements CacheDeleter has the keys deleted in one call;
// any other has each overwritten with a marker that resolutions treat as a
// miss. A Resolver's in-process memory of whole resolutions is not a cache
// entry: it lasts at most CachePolicy.CouplingsTTL (Forget drops it).
//
// Call it from WebhookReceiverConfig.OnEvent before Tracker.ApplyWebhook,
// since an app destroyed is no longer in the tracker afterwards; return
// its error, so that the receiver answers 500 and Heroku delivers the
// event again.
func InvalidateWebhook(ctx context.Context, cache Cache, ev *WebhookEvent,
	appResources func(ctx context.Context, appID string) ([]string, error)) error {
	switch {
	case cache == nil:
		return errors.New("herokupartner: InvalidateWebhook: cache is nil")
	case ev == nil:
		return errors.New("herokupartner: InvalidateWebhook: nil event")
	}
	destroyed := ev.Action == WebhookActionDestroy
	if !destroyed && ev.Action != WebhookActionUpdate {
		return nil
	}
	var ids []string
	switch {
	case ev.Addon != nil && ev.Addon.ID != uuid.Nil:
		ids = []string{ev.Addon.ID.String()}
	case ev.App != nil && ev.App.ID != uuid.Nil && appResources != nil:
		var err error
		if ids, err = appResources(ctx, ev.App.ID.String()); err != nil {
			return fmt.Errorf("herokupartner: InvalidateWebhook: listing the app's resources: %w", err)
		}
	}
	keys := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		keys = append(keys, cacheKeyAddon+id)
		if destroyed {
			keys = append(keys, cacheKeyCouplings+id)
		}
	}
	if err := deleteCacheKeys(ctx, cache, keys); err != nil {
		return fmt.Errorf("herokupartner: InvalidateWebhook: %w", err)
	}
	return nil
}

// deleteCacheKeys deletes keys, through CacheDeleter when cache has it.
func deleteCacheKeys(ctx context.Context, cache Cache, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if d, ok := cache.(CacheDeleter); ok {
		return d.Delete(ctx, keys...)
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, cache.Set(ctx, k, cacheTombstone, cacheTombstoneTTL))
	}
	return errors.Join(errs...)
}

// AppResources returns the tracked resources billed to the app, in id
// order: what InvalidateWebhook needs to turn an app event into cache keys.
func (t *Tracker) AppResources(ctx context.Context, appID string) ([]string, error) {
	app, err := parseID("appID", appID)
	if err != nil {
		return nil, fmt.Errorf("herokupartner: AppResources: %w", err)
	}
	return t.cfg.Store.ByApp(ctx, app)
}
