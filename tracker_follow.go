package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// TrackerNotifier is implemented by a TrackerStore that tells every
// replica which resources were updated through it, by any replica;
// pgstore.TrackerStore does, with PostgreSQL's LISTEN/NOTIFY.
type TrackerNotifier interface {
	// Notify calls ready once it is listening, then fn with the id of
	// each resource updated from then on, until ctx ends or the
	// notifications stop; it returns why. An error from ready ends it.
	Notify(ctx context.Context, ready func() error, fn func(resourceID string)) error
}

// Follow reports to OnChange the changes other replicas make to the
// shared map, such as the leader's refreshes and webhooks another replica
// received, until ctx ends; with this replica's own changes, OnChange then
// sees every change once. It needs a Store that implements
// TrackerNotifier, and returns when the notifications stop (a lost
// database connection, say): call it again, and it compares the map with
// what it last knew, so nothing in between is missed. Run one Follow per
// Tracker at a time.
func (t *Tracker) Follow(ctx context.Context) error {
	if ctx == nil {
		return errors.New("herokupartner: Tracker.Follow: nil context")
	}
	n, ok := t.cfg.Store.(TrackerNotifier)
	if !ok {
		return errors.New("herokupartner: Tracker.Follow: the store does not implement TrackerNotifier")
	}
	err := n.Notify(ctx, func() error { return t.catchUp(ctx) }, func(id string) { t.observe(ctx, id) })
	return fmt.Errorf("herokupartner: Tracker.Follow: %w", err)
}

// catchUp reads the whole map once the notifications flow, and reports
// what changed since the last Follow (nothing on the first).
func (t *Tracker) catchUp(ctx context.Context) error {
	// Read under the lock: an update of ours committed between the read
	// and the lock would be neither in the map read nor noted as seen,
	// and its notification would report it a second time.
	t.followMu.Lock()
	defer t.followMu.Unlock()
	all, err := t.cfg.Store.All(ctx)
	if err != nil {
		return err
	}
	now := make(map[string]*TrackedResource, len(all))
	for i := range all {
		now[all[i].ResourceID] = &all[i]
	}
	if t.seen != nil {
		for id, before := range t.seen {
			t.emit(diff(id, before, now[id], t.cfg.Now()))
		}
		for id, after := range now {
			if _, ok := t.seen[id]; !ok {
				t.emit(diff(id, nil, after, t.cfg.Now()))
			}
		}
	}
	t.seen = now
	return nil
}

// observe reports what changed about one resource another replica
// updated; this replica's own updates were noted as seen already.
func (t *Tracker) observe(ctx context.Context, id string) {
	t.followMu.Lock()
	defer t.followMu.Unlock()
	cur, err := t.cfg.Store.Get(ctx, id)
	if err != nil {
		t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner tracker: reading an updated entry failed",
			slog.String("resource", id), slog.String("error", err.Error()))
		return
	}
	before := t.seen[id]
	t.noteSeen(id, cur)
	t.emit(diff(id, before, cur, t.cfg.Now()))
}

// noteSeen records the entry as this replica now knows it, once Follow
// has read the map; the caller holds followMu.
func (t *Tracker) noteSeen(id string, after *TrackedResource) {
	if t.seen == nil {
		return
	}
	if after == nil {
		delete(t.seen, id)
		return
	}
	t.seen[id] = after
}
