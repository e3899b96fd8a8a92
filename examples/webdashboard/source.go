package main

// This file is the one place that knows how the page is fed: by the SDK's
// Tracker. The Tracker keeps every resource's latest resolution (in memory
// or, with DATABASE_URL, in PostgreSQL shared by every replica), applies
// webhook events at once and re-reads couplings within its request
// budget; its OnChange feeds the page's event streams, its entries'
// ConfirmedAt give "as of" and Freshness the bound.

import (
	"context"
	"slices"
	"sync"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// maxChanges bounds the changes kept per process for the page's "recent
// changes" list.
const maxChanges = 200

// trackerSource adapts a Tracker to the page's source interface.
type trackerSource struct {
	tracker *hp.Tracker
	reg     *registry
	// follows: the store tells this replica of other replicas' updates.
	follows bool
	// every wakes subscribers even without a change, so that "as of"
	// moves as entries are confirmed again.
	every time.Duration

	running sync.WaitGroup // start's goroutines

	mu      sync.Mutex
	changes []ownedChange
	seq     uint64
	subs    map[chan struct{}]struct{}
	// quiet are the resources tracked at start whose first resolution is
	// not news: without it every page would open on a list of "added".
	quiet map[string]bool
}

type ownedChange struct {
	customer string
	change
}

var _ source = (*trackerSource)(nil)

// sourceConfig is how the demo configures its Tracker.
type sourceConfig struct {
	Store  hp.TrackerStore  // nil: in memory
	Leader hp.TrackerLeader // nil: this process refreshes
	// Budget and MinAge as in hp.TrackerConfig.
	Budget int
	MinAge time.Duration
	// Every is how often pages are woken to move "as of".
	Every time.Duration
	// Now is the Tracker's clock; nil means the wall clock.
	Now func() time.Time
}

// newTrackerSource builds the Tracker over the fleet; start runs it.
func newTrackerSource(f *fleet, cfg sourceConfig) (*trackerSource, error) {
	s := &trackerSource{reg: f.reg, every: cfg.Every, subs: map[chan struct{}]struct{}{}, quiet: map[string]bool{}}
	_, s.follows = cfg.Store.(hp.TrackerNotifier)
	t, err := hp.NewTracker(hp.TrackerConfig{
		// Each resource is read with its own token, which stays in the
		// partner's TokenManager.
		ClientFor: func(_ context.Context, id string) (*hp.Client, error) { return f.base.ForResource(f.tokens, id) },
		Store:     cfg.Store,
		Leader:    cfg.Leader,
		Budget:    cfg.Budget,
		MinAge:    cfg.MinAge,
		OnChange:  s.onChange,
		Now:       cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	s.tracker = t
	return s, nil
}

// quietStart marks the resources tracked so far: their first resolution
// is the map filling up, not a change to announce.
func (s *trackerSource) quietStart(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.quiet[id] = true
	}
}

// start runs the refresher, Follow (when the store tells replicas of each
// other's updates) and the wake-up ticker until ctx ends.
func (s *trackerSource) start(ctx context.Context) {
	s.running.Go(func() { _ = s.tracker.Run(ctx) })
	if s.follows {
		s.running.Go(func() { s.follow(ctx) })
	}
	s.running.Go(func() { s.tick(ctx) })
}

// wait returns once start's goroutines have, after ctx ended: the
// refresher has resigned its lease, so the store may be closed.
func (s *trackerSource) wait() { s.running.Wait() }

// follow reports the changes other replicas make, again after a lost
// connection.
func (s *trackerSource) follow(ctx context.Context) {
	for ctx.Err() == nil {
		_ = s.tracker.Follow(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// onChange is TrackerConfig.OnChange: it keeps the change for the
// owner's page and wakes the event streams.
func (s *trackerSource) onChange(c hp.Change) {
	s.mu.Lock()
	if c.Kind == hp.ChangeAdded && s.quiet[c.ResourceID] {
		delete(s.quiet, c.ResourceID)
		s.mu.Unlock()
		s.notify()
		return
	}
	s.seq++
	s.changes = append(s.changes, ownedChange{customer: s.reg.ownerOf(c.ResourceID), change: change{
		Seq: s.seq, At: c.At, Kind: c.Kind, ResourceID: c.ResourceID,
		Before: resolutionOf(c.Before), After: resolutionOf(c.After)}})
	if n := len(s.changes) - maxChanges; n > 0 {
		s.changes = append(s.changes[:0:0], s.changes[n:]...)
	}
	s.mu.Unlock()
	s.notify()
}

func resolutionOf(e *hp.TrackedResource) *hp.Resolution {
	if e == nil {
		return nil
	}
	return e.Resolution
}

// Snapshot implements source: the customer's entries of the map.
func (s *trackerSource) Snapshot(ctx context.Context, customer string) (snapshot, error) {
	if !s.reg.known(customer) {
		return snapshot{}, errUnknownCustomer
	}
	fr, err := s.tracker.Freshness(ctx)
	if err != nil {
		return snapshot{}, err
	}
	entries, err := s.tracker.Resources(ctx)
	if err != nil {
		return snapshot{}, err
	}
	snap := snapshot{Bound: fr.Bound}
	onMap := make(map[string]bool, len(entries))
	for _, e := range entries {
		onMap[e.ResourceID] = true
		if s.reg.ownerOf(e.ResourceID) != customer {
			continue
		}
		if e.Resolution != nil {
			snap.Results = append(snap.Results, hp.BatchResult{ResourceUUID: e.ResourceID, Resolution: e.Resolution})
			if snap.AsOf.IsZero() || e.ConfirmedAt.Before(snap.AsOf) {
				snap.AsOf = e.ConfirmedAt
			}
		}
		if e.LastError != "" {
			f := failedRead{ResourceID: e.ResourceID, LastError: e.LastError, ConfirmedAt: e.ConfirmedAt}
			if e.Resolution != nil {
				f.App = e.Resolution.App.Name
			}
			snap.Failed = append(snap.Failed, f)
		}
	}
	order := map[string]int{} // provisioning order, so a card lists its add-ons oldest first
	for i, r := range s.reg.resources() {
		order[r.ID] = i + 1
		if r.Customer == customer && !onMap[r.ID] {
			snap.Missing = append(snap.Missing, r.ID)
		}
	}
	rank := func(id string) int { // a resource being deprovisioned comes last
		if n, ok := order[id]; ok {
			return n
		}
		return len(order) + 1
	}
	slices.SortStableFunc(snap.Results, func(a, b hp.BatchResult) int { return rank(a.ResourceUUID) - rank(b.ResourceUUID) })
	s.mu.Lock()
	for _, c := range s.changes {
		if c.customer == customer {
			snap.Changes = append(snap.Changes, c.change)
		}
	}
	s.mu.Unlock()
	return snap, nil
}

// Subscribe implements source.
func (s *trackerSource) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, ch)
			s.mu.Unlock()
		})
	}
}

func (s *trackerSource) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// tick wakes subscribers every interval until ctx ends.
func (s *trackerSource) tick(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.notify()
		}
	}
}
