package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

const (
	// trackerBatch is how many due entries the refresher reads at once.
	trackerBatch = 256
	// trackerPipelineTTL is how long a pipeline this process read is
	// reused before a coupling that names it costs a request again.
	// Pipelines are renamed rarely and no event says so; a day keeps a
	// pass at one request per resource for fleets whose pass takes hours
	// (10,000 resources at 20 a minute: 8 h 20 min).
	trackerPipelineTTL = 24 * time.Hour
	// trackerPause is how long the refresher stands aside once the
	// bucket is below the reserve or a request was rate limited: Heroku
	// refills about 75 requests in that time.
	trackerPause = time.Minute
	// trackerLeaderPoll is how often a replica that does not lead asks
	// for the lease again.
	trackerLeaderPoll = 10 * time.Second
	// trackerResignTimeout bounds the resignation when Run ends.
	trackerResignTimeout = 5 * time.Second
)

// errNotLeader stops a refresh whose replica lost the lease, before its
// next request.
var errNotLeader = errors.New("herokupartner: tracker: lease lost to another replica")

// knownPipeline is a pipeline a resolution read, reused while fresh so a
// coupling refresh costs one request.
type knownPipeline struct {
	p  Pipeline
	at time.Time
}

// Run refreshes the map until ctx ends, then resigns the lease and returns
// ctx's error. Only the replica whose Leader holds the lease refreshes;
// the others wait to take over. Each pass takes the entries checked
// longest ago first: a resource never resolved costs its full resolution
// (2–3 requests), a resolved one a coupling refresh (1 request, plus 1 if
// its app is in a pipeline this process has not read within a day).
// Every request waits for a slot of the budget, a minute / Budget apart,
// so no minute ever holds more than Budget requests, whatever the fleet
// size, and renews the lease first.
func (t *Tracker) Run(ctx context.Context) error {
	if ctx == nil {
		return errors.New("herokupartner: Tracker.Run: nil context")
	}
	if t.cfg.Leader != nil {
		defer func() {
			// ctx has ended; the resignation gets a short time of its
			// own, and without it the lease simply expires.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), trackerResignTimeout)
			defer cancel()
			_ = t.cfg.Leader.Resign(rctx)
		}()
	}
	for ctx.Err() == nil {
		if !t.lead(ctx) {
			_ = t.cfg.Sleep(ctx, trackerLeaderPoll)
			continue
		}
		due, err := t.cfg.Store.Due(ctx, t.cfg.Now().Add(-t.cfg.MinAge), trackerBatch)
		if err != nil {
			t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner tracker: reading due entries failed", slog.String("error", err.Error()))
		}
		if len(due) == 0 {
			// Nothing due (or the store failed): look again shortly.
			_ = t.cfg.Sleep(ctx, t.idle())
			continue
		}
		for i := range due {
			if err := t.refresh(ctx, &due[i]); errors.Is(err, errNotLeader) || ctx.Err() != nil {
				break
			}
		}
	}
	return ctx.Err()
}

// idle is how long the refresher waits when nothing is due: a slot, and
// at least a second, so that a store is not polled in a loop.
func (t *Tracker) idle() time.Duration { return max(t.interval, time.Second) }

// lead reports whether this replica may refresh now; a Leader that fails
// counts as not leading, since two refreshers would spend twice.
func (t *Tracker) lead(ctx context.Context) bool {
	if t.cfg.Leader == nil {
		return true
	}
	ok, err := t.cfg.Leader.Lead(ctx)
	if err != nil && ctx.Err() == nil {
		t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner tracker: lease check failed", slog.String("error", err.Error()))
	}
	return ok && err == nil
}

// refresh re-resolves one entry and records the outcome.
func (t *Tracker) refresh(ctx context.Context, e *TrackedResource) error {
	id := e.ResourceID
	cl, err := t.cfg.ClientFor(ctx, id)
	if err == nil && cl == nil {
		err = fmt.Errorf("%w: ClientFor returned no client", ErrNoToken)
	}
	if err != nil {
		return t.failed(ctx, id, err)
	}
	s := trackerSteps{t: t, cl: cl}
	if e.Resolution == nil || e.Resolution.Addon == nil {
		res, err := resolve(ctx, id, false, s)
		if err != nil {
			return t.failed(ctx, id, err)
		}
		return t.confirmed(ctx, id, func(cur *TrackedResource) { cur.Resolution = res })
	}
	appID := e.Resolution.App.ID
	c, err := s.coupling(ctx, id, appID)
	var p *Pipeline
	if err == nil && c != nil {
		p, err = s.pipeline(ctx, c.Pipeline.ID.String())
	}
	if err != nil {
		return t.failed(ctx, id, err)
	}
	return t.confirmed(ctx, id, func(cur *TrackedResource) {
		r := cur.Resolution
		if r == nil || r.App.ID != appID {
			return // resolved again meanwhile: nothing of ours applies
		}
		r.Coupling, r.Pipeline, r.Stage, r.PipelinePartial = nil, nil, "", false
		if c != nil {
			cp, pp := *c, *p
			cp.App.Name = r.App.Name // the couplings answer carries only the id
			r.Coupling, r.Pipeline, r.Stage = &cp, &pp, c.Stage
		}
	})
}

// confirmed records a successful refresh through apply, unless the entry
// was removed meanwhile.
func (t *Tracker) confirmed(ctx context.Context, id string, apply func(cur *TrackedResource)) error {
	now := t.cfg.Now()
	return t.update(ctx, "refresh", id, func(cur *TrackedResource) (*TrackedResource, error) {
		if cur == nil {
			return nil, nil
		}
		apply(cur)
		cur.ConfirmedAt, cur.CheckedAt, cur.LastError = now, now, ""
		return cur, nil
	})
}

// failed records a failed refresh. A revoked grant or an add-on the API no
// longer knows removes the entry: only a new provisioning brings it back.
// A refresh cut short by ctx or a lost lease records nothing, so the entry
// stays first in line.
func (t *Tracker) failed(ctx context.Context, id string, err error) error {
	if ctx.Err() != nil || errors.Is(err, errNotLeader) {
		return err
	}
	var re *ResolveError
	if errors.Is(err, ErrGrantRevoked) || (errors.As(err, &re) && re.Step == StepAddon && errors.Is(err, ErrNotFound)) {
		return t.update(ctx, "refresh", id, func(*TrackedResource) (*TrackedResource, error) { return nil, nil })
	}
	t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner tracker: refresh failed",
		slog.String("resource", id), slog.String("error", err.Error()))
	now := t.cfg.Now()
	return t.update(ctx, "refresh", id, func(cur *TrackedResource) (*TrackedResource, error) {
		if cur != nil {
			cur.CheckedAt, cur.LastError = now, err.Error()
		}
		return cur, nil
	})
}

// knowPipeline remembers a pipeline read at `at`. Only what this process
// read is remembered: the store's entries do not say when their pipeline
// was read, so a restart or a new leader reads each pipeline once more.
func (t *Tracker) knowPipeline(p *Pipeline, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pipelines[p.ID.String()] = knownPipeline{p: *p, at: at}
}

func (t *Tracker) knownPipeline(id string) (*Pipeline, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.pipelines[id]
	if !ok || !t.cfg.Now().Before(k.at.Add(trackerPipelineTTL)) {
		return nil, false
	}
	p := k.p
	return &p, true
}

// slot waits for the refresher's next request slot of the budget.
func (t *Tracker) slot(ctx context.Context) error {
	t.mu.Lock()
	now := t.cfg.Now()
	at := later(now, t.next)
	t.next = at.Add(t.interval)
	t.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		if err := t.cfg.Sleep(ctx, d); err != nil {
			t.unbook(at)
			return err
		}
	}
	return ctx.Err()
}

// unbook gives back the slot at `at` when its wait was cut short, unless a
// later slot was booked meanwhile.
func (t *Tracker) unbook(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.next.Equal(at.Add(t.interval)) {
		t.next = at
	}
}

// pause holds the refresher's next slot back, after an answer that shows
// the bucket is low.
func (t *Tracker) pause() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next = later(t.next, t.cfg.Now().Add(trackerPause))
}

// trackerSteps are the live steps, each request first waiting for a slot
// of the budget and the lease, and reusing pipelines read recently.
type trackerSteps struct {
	t  *Tracker
	cl *Client
}

func spend[T any](ctx context.Context, s trackerSteps, call func() (T, error)) (T, error) {
	var zero T
	if err := s.t.slot(ctx); err != nil {
		return zero, err
	}
	if !s.t.lead(ctx) {
		return zero, errNotLeader
	}
	v, err := call()
	rem, ok := s.cl.RateLimitRemaining()
	if errors.Is(err, ErrRateLimited) || (ok && s.t.cfg.Reserve > 0 && rem < s.t.cfg.Reserve) {
		s.t.pause()
	}
	return v, err
}

func (s trackerSteps) addon(ctx context.Context, id string) (*Addon, error) {
	return spend(ctx, s, func() (*Addon, error) { return liveSteps{s.cl}.addon(ctx, id) })
}

func (s trackerSteps) coupling(ctx context.Context, id string, appID uuid.UUID) (*PipelineCoupling, error) {
	return spend(ctx, s, func() (*PipelineCoupling, error) { return liveSteps{s.cl}.coupling(ctx, id, appID) })
}

func (s trackerSteps) pipeline(ctx context.Context, pid string) (*Pipeline, error) {
	if p, ok := s.t.knownPipeline(pid); ok {
		return p, nil
	}
	p, err := spend(ctx, s, func() (*Pipeline, error) { return liveSteps{s.cl}.pipeline(ctx, pid) })
	if err == nil {
		s.t.knowPipeline(p, s.t.cfg.Now())
	}
	return p, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
