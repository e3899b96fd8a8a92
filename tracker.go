package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultTrackerBudget is the refresher's request budget per minute unless
// TrackerConfig.Budget says otherwise: about a quarter of the ~75 requests
// a minute Heroku's bucket refills, leaving the rest to provisioning and
// interactive calls.
const DefaultTrackerBudget = 20

// DefaultTrackerReserve is the RateLimit-Remaining level below which the
// refresher pauses, unless TrackerConfig.Reserve says otherwise. It is
// higher than a batch's DefaultRateLimitReserve: background work yields
// first.
const DefaultTrackerReserve = 1000

// DefaultTrackerMinAge is how recently confirmed an entry may be and still
// be skipped by the refresher, unless TrackerConfig.MinAge says otherwise:
// a small fleet is not polled more often than this.
const DefaultTrackerMinAge = time.Minute

// TrackerConfig configures a Tracker.
type TrackerConfig struct {
	// ClientFor returns the client bound to a resource's own token, such
	// as base.ForResource(tokens, resourceID). Required.
	ClientFor func(ctx context.Context, resourceID string) (*Client, error)
	// Store keeps the map; nil means a new MemoryTrackerStore.
	Store TrackerStore
	// Leader decides which replica refreshes; nil means this Tracker
	// always does (one process).
	Leader TrackerLeader
	// Budget is the most requests a minute the refresher sends, whatever
	// the fleet size; zero means DefaultTrackerBudget.
	Budget int
	// Reserve pauses the refresher for a minute whenever an answer's
	// RateLimit-Remaining is below it, so interactive calls keep the
	// rest; zero means DefaultTrackerReserve, negative never pauses.
	Reserve int
	// MinAge: entries checked more recently are not refreshed; zero
	// means DefaultTrackerMinAge.
	MinAge time.Duration
	// OnChange receives every change this Tracker applies, and while
	// Follow runs those other replicas apply, one at a time, in order; it
	// must not call the Tracker's write methods. Nil reports nothing.
	OnChange func(Change)
	// Now and Sleep are the refresher's clock; nil means the wall clock.
	// Tests set both to drive a virtual clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives refresh failures; nil logs nothing.
	Logger *slog.Logger
}

// Tracker keeps each tracked add-on resource's latest Resolution current:
// it applies what webhook events say at once (AppRenamed, AppDestroyed,
// AddonDestroyed, PlanChanged), re-resolves couplings in the background
// within a request budget (Run), and reports every change to OnChange.
// A Tracker is safe for concurrent use.
type Tracker struct {
	cfg      TrackerConfig
	interval time.Duration // one request slot: a minute / Budget

	emitMu sync.Mutex // changes reach OnChange one at a time, in order

	// followMu orders this replica's updates with Follow's reports; seen
	// is the map as this replica last knew it, kept only while following.
	followMu sync.Mutex
	seen     map[string]*TrackedResource

	mu        sync.Mutex
	next      time.Time                // the refresher's next free request slot
	pipelines map[string]knownPipeline // pipeline id -> what a resolution read
}

// NewTracker checks cfg and returns a Tracker; it sends nothing.
func NewTracker(cfg TrackerConfig) (*Tracker, error) {
	if cfg.ClientFor == nil {
		return nil, errors.New("herokupartner: TrackerConfig.ClientFor is nil")
	}
	if cfg.Budget < 0 {
		return nil, errors.New("herokupartner: TrackerConfig.Budget is negative")
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultTrackerBudget
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = DefaultTrackerReserve
	}
	if cfg.MinAge <= 0 {
		cfg.MinAge = DefaultTrackerMinAge
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryTrackerStore{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepFor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{cfg: cfg, interval: time.Minute / time.Duration(cfg.Budget), pipelines: map[string]knownPipeline{}}, nil
}

func sleepFor(ctx context.Context, d time.Duration) error {
	return wallClock{}.sleepUntil(ctx, time.Now().Add(d))
}

// Track adds the resource to the map; the refresher resolves it first of
// all, and ChangeAdded follows. Tracking a tracked resource changes
// nothing.
func (t *Tracker) Track(ctx context.Context, resourceID string) error {
	id, err := parseID("resourceID", resourceID)
	if err != nil {
		return fmt.Errorf("herokupartner: Track: %w", err)
	}
	return t.update(ctx, "Track", id, func(cur *TrackedResource) (*TrackedResource, error) {
		if cur != nil {
			return cur, nil
		}
		return &TrackedResource{ResourceID: id}, nil
	})
}

// Untrack removes the resource from the map (ChangeRemoved), as when its
// add-on is deprovisioned.
func (t *Tracker) Untrack(ctx context.Context, resourceID string) error {
	return t.AddonDestroyed(ctx, resourceID)
}

// AddonDestroyed removes the resource: its add-on was destroyed.
func (t *Tracker) AddonDestroyed(ctx context.Context, resourceID string) error {
	id, err := parseID("resourceID", resourceID)
	if err != nil {
		return fmt.Errorf("herokupartner: AddonDestroyed: %w", err)
	}
	return t.update(ctx, "AddonDestroyed", id, func(*TrackedResource) (*TrackedResource, error) { return nil, nil })
}

// AppDestroyed removes every resource billed to the app.
func (t *Tracker) AppDestroyed(ctx context.Context, appID string) error {
	return t.eachOfApp(ctx, "AppDestroyed", appID, func(*TrackedResource) *TrackedResource { return nil })
}

// AppRenamed gives every resource billed to the app its new name.
func (t *Tracker) AppRenamed(ctx context.Context, appID, name string) error {
	if name == "" {
		return errors.New("herokupartner: AppRenamed: empty app name")
	}
	return t.eachOfApp(ctx, "AppRenamed", appID, func(cur *TrackedResource) *TrackedResource {
		res := cur.Resolution
		res.App.Name = name
		if res.Addon != nil {
			res.Addon.App.Name = name
		}
		if res.Coupling != nil {
			res.Coupling.App.Name = name
		}
		return cur
	})
}

// PlanChanged records the add-on's new plan (its id, and name when known).
func (t *Tracker) PlanChanged(ctx context.Context, resourceID string, plan Ref) error {
	id, err := parseID("resourceID", resourceID)
	if err != nil {
		return fmt.Errorf("herokupartner: PlanChanged: %w", err)
	}
	if plan.ID == uuid.Nil {
		return errors.New("herokupartner: PlanChanged: plan has no id")
	}
	return t.update(ctx, "PlanChanged", id, func(cur *TrackedResource) (*TrackedResource, error) {
		if cur == nil || cur.Resolution == nil || cur.Resolution.Addon == nil {
			return cur, nil // the first resolution will read the plan
		}
		cur.Resolution.Addon.Plan = plan
		return cur, nil
	})
}

// eachOfApp applies edit to every resolved resource billed to appID.
func (t *Tracker) eachOfApp(ctx context.Context, op, appID string, edit func(*TrackedResource) *TrackedResource) error {
	app, err := parseID("appID", appID)
	if err != nil {
		return fmt.Errorf("herokupartner: %s: %w", op, err)
	}
	ids, err := t.cfg.Store.ByApp(ctx, app)
	if err != nil {
		return fmt.Errorf("herokupartner: %s: listing the app's resources: %w", op, err)
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, t.update(ctx, op, id, func(cur *TrackedResource) (*TrackedResource, error) {
			if cur.appID() != app { // moved on since ByApp answered
				return cur, nil
			}
			return edit(cur), nil
		}))
	}
	return errors.Join(errs...)
}

// update applies fn to one entry in the store and reports the changes it
// made. The changes are computed inside the store's atomic step, so two
// replicas' updates of one resource never report the same change twice.
func (t *Tracker) update(ctx context.Context, op, id string, fn func(cur *TrackedResource) (*TrackedResource, error)) error {
	// Held across the store's update so that Follow, which reports other
	// replicas' updates, sees this one only once it is known as ours.
	t.followMu.Lock()
	defer t.followMu.Unlock()
	var (
		changes []Change
		after   *TrackedResource
	)
	err := t.cfg.Store.Update(ctx, id, func(cur *TrackedResource) (*TrackedResource, error) {
		before := cur.clone()
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		changes, after = diff(id, before, next, t.cfg.Now()), next.clone()
		return next, nil
	})
	if err != nil {
		return fmt.Errorf("herokupartner: %s of resource %s: %w", op, id, err)
	}
	t.noteSeen(id, after)
	t.emit(changes)
	return nil
}

func (t *Tracker) emit(changes []Change) {
	if t.cfg.OnChange == nil || len(changes) == 0 {
		return
	}
	t.emitMu.Lock()
	defer t.emitMu.Unlock()
	for _, c := range changes {
		t.cfg.OnChange(c)
	}
}

// Resource returns the resource's entry, or nil when it is not tracked.
func (t *Tracker) Resource(ctx context.Context, resourceID string) (*TrackedResource, error) {
	id, err := parseID("resourceID", resourceID)
	if err != nil {
		return nil, fmt.Errorf("herokupartner: Resource: %w", err)
	}
	return t.cfg.Store.Get(ctx, id)
}

// Resources returns every entry, in resource id order.
func (t *Tracker) Resources(ctx context.Context) ([]TrackedResource, error) {
	return t.cfg.Store.All(ctx)
}

// Freshness is how current a Tracker's map is, for a dashboard's "as of".
type Freshness struct {
	// Resources is the fleet size.
	Resources int
	// Budget is the refresher's requests per minute.
	Budget int
	// Bound is the staleness the budget allows for this fleet: a
	// coupling refresh costs one request, so each entry is confirmed
	// again at least every Resources / Budget minutes while its app stays
	// in a pipeline already known. A fleet small enough to be refreshed
	// faster is refreshed every MinAge (plus at most a second or a slot).
	Bound time.Duration
	// Oldest is the oldest ConfirmedAt among resolved entries; zero when
	// none is resolved.
	Oldest time.Time
}

// Freshness reports the fleet size, the staleness bound its budget gives,
// and the oldest confirmation.
func (t *Tracker) Freshness(ctx context.Context) (Freshness, error) {
	all, err := t.cfg.Store.All(ctx)
	if err != nil {
		return Freshness{}, fmt.Errorf("herokupartner: Freshness: %w", err)
	}
	f := Freshness{Resources: len(all), Budget: t.cfg.Budget, Bound: t.bound(len(all))}
	for _, e := range all {
		if !e.ConfirmedAt.IsZero() && (f.Oldest.IsZero() || e.ConfirmedAt.Before(f.Oldest)) {
			f.Oldest = e.ConfirmedAt
		}
	}
	return f, nil
}

// bound is n request slots, or MinAge and one idle wait for a fleet that
// takes less.
func (t *Tracker) bound(n int) time.Duration {
	return max(time.Duration(n)*t.interval, t.cfg.MinAge+t.idle())
}
