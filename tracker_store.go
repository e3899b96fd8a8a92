package herokupartner

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// TrackerStore keeps a Tracker's map of resources. MemoryTrackerStore keeps
// it in process; pgstore.TrackerStore keeps it in PostgreSQL, so that every
// replica reads the same map and a restart resumes where it stopped.
// Resource and app ids are canonical uuids. Implementations are safe for
// concurrent use.
type TrackerStore interface {
	// Get returns the resource's entry, or nil when it is not tracked.
	Get(ctx context.Context, resourceID string) (*TrackedResource, error)
	// Update replaces the resource's entry with what fn returns, as one
	// atomic step against every other Update of that resource: fn gets
	// the current entry (nil when none) and returns the new one, or nil
	// to remove it. An error from fn leaves the entry as it was and is
	// returned.
	Update(ctx context.Context, resourceID string, fn func(cur *TrackedResource) (*TrackedResource, error)) error
	// ByApp returns the resources whose billing app is appID.
	ByApp(ctx context.Context, appID string) ([]string, error)
	// Due returns up to limit entries last checked before the given time,
	// oldest CheckedAt first (never-checked ones first of all).
	Due(ctx context.Context, before time.Time, limit int) ([]TrackedResource, error)
	// All returns every entry, in resource id order.
	All(ctx context.Context) ([]TrackedResource, error)
	// Count returns how many resources are tracked.
	Count(ctx context.Context) (int, error)
}

// MemoryTrackerStore is a TrackerStore in process memory, for a single
// replica. Its zero value is ready to use.
type MemoryTrackerStore struct {
	mu      sync.Mutex
	entries map[string]*TrackedResource
	byApp   map[string]map[string]struct{} // app id -> resource ids
}

var _ TrackerStore = (*MemoryTrackerStore)(nil)

// Get returns a copy of the resource's entry, or nil.
func (m *MemoryTrackerStore) Get(_ context.Context, resourceID string) (*TrackedResource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[resourceID].clone(), nil
}

// Update applies fn under the store's lock; fn must not call the store.
func (m *MemoryTrackerStore) Update(_ context.Context, resourceID string, fn func(cur *TrackedResource) (*TrackedResource, error)) error {
	if fn == nil {
		return errors.New("herokupartner: MemoryTrackerStore.Update: nil function")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.entries[resourceID]
	next, err := fn(cur.clone())
	if err != nil {
		return err
	}
	if cur != nil {
		m.unindex(resourceID, cur.appID())
	}
	if next == nil {
		delete(m.entries, resourceID)
		return nil
	}
	if m.entries == nil {
		m.entries = map[string]*TrackedResource{}
		m.byApp = map[string]map[string]struct{}{}
	}
	next = next.clone()
	next.ResourceID = resourceID
	m.entries[resourceID] = next
	if app := next.appID(); app != "" {
		if m.byApp[app] == nil {
			m.byApp[app] = map[string]struct{}{}
		}
		m.byApp[app][resourceID] = struct{}{}
	}
	return nil
}

func (m *MemoryTrackerStore) unindex(resourceID, app string) {
	if set := m.byApp[app]; set != nil {
		delete(set, resourceID)
		if len(set) == 0 {
			delete(m.byApp, app)
		}
	}
}

// ByApp returns the resources billed to appID, in id order.
func (m *MemoryTrackerStore) ByApp(_ context.Context, appID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.byApp[appID]))
	for id := range m.byApp[appID] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Due returns up to limit entries checked before `before`, oldest first.
// It sorts the whole map: fine for the fleet one process holds (10,000
// entries sort in about a millisecond), and called once per batch.
func (m *MemoryTrackerStore) Due(_ context.Context, before time.Time, limit int) ([]TrackedResource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []*TrackedResource
	for _, e := range m.entries {
		if e.CheckedAt.Before(before) {
			due = append(due, e)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].CheckedAt.Equal(due[j].CheckedAt) {
			return due[i].CheckedAt.Before(due[j].CheckedAt)
		}
		return due[i].ResourceID < due[j].ResourceID
	})
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]TrackedResource, len(due))
	for i, e := range due {
		out[i] = *e.clone()
	}
	return out, nil
}

// All returns copies of every entry, in resource id order.
func (m *MemoryTrackerStore) All(_ context.Context) ([]TrackedResource, error) {
	m.mu.Lock()
	out := make([]TrackedResource, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, *e.clone())
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out, nil
}

// Count returns how many resources are tracked.
func (m *MemoryTrackerStore) Count(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries), nil
}
