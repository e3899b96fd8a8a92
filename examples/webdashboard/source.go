package main

// This file is the one place that knows how the page is fed. Today poller
// re-resolves the whole fleet every few seconds and works out the changes
// itself. When the SDK's Tracker lands, an adapter over it replaces
// poller: Snapshot reads the Tracker's entries for the customer's
// resources (their ConfirmedAt gives "as of", Freshness the bound), the
// Tracker's OnChange feeds the changes, and a ticker wakes subscribers so
// that changes another replica applied to a shared store reach this
// replica's pages too. main.go then starts that adapter instead.

import (
	"context"
	"errors"
	"sync"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// maxChanges bounds the changes kept per process for the page's "recent
// changes" list.
const maxChanges = 200

// poller keeps the latest resolution of every resource in the partner's
// records by resolving them all again every interval.
type poller struct {
	base   *hp.Client
	tokens *hp.TokenManager
	reg    *registry
	every  time.Duration
	now    func() time.Time
	cache  hp.Cache

	mu      sync.Mutex
	results map[string]hp.BatchResult // latest result per resource
	good    map[string]*hp.Resolution // latest successful resolution per resource
	owner   map[string]string         // resource -> customer, as last seen
	asOf    time.Time
	changes []ownedChange
	seq     uint64
	subs    map[chan struct{}]struct{}
}

type ownedChange struct {
	customer string
	change
}

func newPoller(f *fleet, every time.Duration) *poller {
	return &poller{base: f.base, tokens: f.tokens, reg: f.reg, every: every, now: time.Now,
		cache:   hp.NewMemoryCache(0),
		results: map[string]hp.BatchResult{}, good: map[string]*hp.Resolution{},
		owner: map[string]string{}, subs: map[chan struct{}]struct{}{}}
}

// policy caches only pipelines: a pass must see every rename, state,
// stage and pipeline change, so add-ons and couplings are read each time.
// That costs two requests per resource a pass, which is why the fake in
// main.go runs without a rate limit; the tracker stays within a budget.
var policy = hp.CachePolicy{AddonTTL: -1, CouplingsTTL: -1}

// run refreshes every interval until ctx ends.
func (p *poller) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.refresh(ctx)
		}
	}
}

// refresh resolves every resource once, records what changed and wakes
// the subscribers.
func (p *poller) refresh(ctx context.Context) {
	started := p.now()
	fleet := p.reg.resources()
	items := make([]hp.BatchItem, 0, len(fleet))
	for _, r := range fleet {
		client, err := p.base.ForResource(p.tokens, r.ID)
		if err != nil {
			continue // only a nil TokenManager fails, and ours is not
		}
		items = append(items, hp.BatchItem{ResourceUUID: r.ID, Client: client})
	}
	results := p.base.ResolvePipelines(ctx, items, hp.BatchConcurrency(4), hp.BatchCache(p.cache, policy))
	if ctx.Err() != nil {
		return // a cancelled pass says nothing about the fleet
	}
	p.mu.Lock()
	first := p.asOf.IsZero()
	now := p.now()
	current := make(map[string]bool, len(fleet))
	for i, r := range results {
		id, customer := r.ResourceUUID, fleet[i].Customer
		current[id] = true
		if prev, ok := p.results[id]; ok && sameFailure(prev.Err, r.Err) {
			r = prev // keep the first request id of a failure that repeats, so the page stays still
		}
		p.results[id] = r
		p.owner[id] = customer
		if r.Err != nil {
			continue // keep the last good resolution to compare the next one with
		}
		if !first {
			for _, c := range diff(p.good[id], r.Resolution) {
				p.record(customer, id, c, now)
			}
		}
		p.good[id] = r.Resolution
	}
	for id, res := range p.good {
		if !current[id] {
			p.record(p.owner[id], id, change{Kind: kindRemoved, Before: res}, now)
		}
	}
	for id := range p.results {
		if !current[id] {
			delete(p.results, id)
			delete(p.good, id)
			delete(p.owner, id)
		}
	}
	p.asOf = started
	p.mu.Unlock()
	p.notify()
}

// sameFailure reports whether two errors are the same failure: the same
// step refused with the same status and error id.
func sameFailure(a, b error) bool {
	var ra, rb *hp.ResolveError
	var aa, ab *hp.APIError
	if a == nil || b == nil || !errors.As(a, &ra) || !errors.As(b, &rb) || !errors.As(a, &aa) || !errors.As(b, &ab) {
		return false
	}
	return ra.Step == rb.Step && aa.StatusCode == ab.StatusCode && aa.ID == ab.ID
}

// record appends a change; the caller holds p.mu.
func (p *poller) record(customer, id string, c change, at time.Time) {
	p.seq++
	c.Seq, c.At, c.ResourceID = p.seq, at, id
	p.changes = append(p.changes, ownedChange{customer: customer, change: c})
	if n := len(p.changes) - maxChanges; n > 0 {
		p.changes = append(p.changes[:0:0], p.changes[n:]...)
	}
}

// diff says how a resource's resolution changed, in the tracker's terms.
// A nil before means the resource is new.
func diff(before, after *hp.Resolution) []change {
	if before == nil {
		return []change{{Kind: kindAdded, After: after}}
	}
	var out []change
	add := func(k changeKind) { out = append(out, change{Kind: k, Before: before, After: after}) }
	if before.App.Name != after.App.Name {
		add(kindAppRenamed)
	}
	if before.Addon != nil && after.Addon != nil && before.Addon.Plan.ID != after.Addon.Plan.ID {
		add(kindPlanChanged)
	}
	switch in, was := after.InPipeline(), before.InPipeline(); {
	case was && !in:
		add(kindLeftPipeline)
	case !was && in:
		add(kindJoinedPipeline)
	case was && in && before.Coupling.Pipeline.ID != after.Coupling.Pipeline.ID:
		add(kindMovedPipeline)
	case was && in && before.Stage != after.Stage:
		add(kindStageChanged)
	}
	return out
}

func (p *poller) notify() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ch := range p.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Snapshot implements source.
func (p *poller) Snapshot(_ context.Context, customer string) (snapshot, error) {
	if !p.reg.known(customer) {
		return snapshot{}, errUnknownCustomer
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := snapshot{AsOf: p.asOf, Bound: p.every}
	for _, r := range p.reg.resources() {
		if res, ok := p.results[r.ID]; ok && r.Customer == customer {
			s.Results = append(s.Results, res)
		}
	}
	for _, c := range p.changes {
		if c.customer == customer {
			s.Changes = append(s.Changes, c.change)
		}
	}
	return s, nil
}

// Subscribe implements source.
func (p *poller) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	p.subs[ch] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.subs, ch)
			p.mu.Unlock()
		})
	}
}
