package herokupartner

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// The steps of a resolution, as ResolveError.Step names them.
const (
	StepAddon     = "add-on"
	StepCouplings = "couplings"
	StepPipeline  = "pipeline"
)

// Resolution is where an add-on resource's app sits: its pipeline and
// stage, or nowhere.
type Resolution struct {
	Addon *Addon
	// App is the add-on's billing app.
	App Ref
	// Coupling, Pipeline and Stage are nil and empty when the app is in no
	// pipeline.
	Coupling *PipelineCoupling
	Pipeline *Pipeline
	Stage    Stage
	// PipelinePartial is true when Pipeline holds only the id and name the
	// coupling carried, because a two-request resolution skipped
	// GET /pipelines/{id}; its other fields are then zero.
	PipelinePartial bool
}

// InPipeline reports whether the app is coupled to a pipeline.
func (r *Resolution) InPipeline() bool { return r != nil && r.Coupling != nil }

// ResolvePipeline looks up the add-on resource, its app's pipeline coupling
// and the pipeline: three requests. An app in no pipeline is a successful
// Resolution whose InPipeline is false. Every failure, an invalid
// resourceUUID included, is a *ResolveError naming the step that failed.
func (c *Client) ResolvePipeline(ctx context.Context, resourceUUID string) (*Resolution, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		// The raw value is not kept: it may be a token pasted in the
		// wrong place.
		return nil, &ResolveError{Step: StepAddon, Err: err}
	}
	if c == nil {
		return nil, &ResolveError{Step: StepAddon, ResourceID: id, Err: fmt.Errorf("%w: nil client, nothing sent", ErrNoToken)}
	}
	return resolve(ctx, id, false, liveSteps{c})
}

// steps answers the three questions of a resolution. liveSteps asks the
// API; the batch and Resolver wrap the same calls with a cache, pacing and
// shared fetches (see stepRunner).
type steps interface {
	addon(ctx context.Context, id string) (*Addon, error)
	coupling(ctx context.Context, id string, appID uuid.UUID) (*PipelineCoupling, error)
	pipeline(ctx context.Context, pipelineID string) (*Pipeline, error)
}

// resolve is the one orchestration of a resolution, for ResolvePipeline,
// the batch and Resolver alike. id is canonical. With twoRequests, a
// coupling that names its pipeline ends the resolution without fetching it.
func resolve(ctx context.Context, id string, twoRequests bool, s steps) (*Resolution, error) {
	fail := func(step string, err error) (*Resolution, error) {
		return nil, &ResolveError{Step: step, ResourceID: id, Err: err}
	}
	addon, err := s.addon(ctx, id)
	if err != nil {
		return fail(StepAddon, err)
	}
	res := &Resolution{Addon: addon, App: addon.App}
	coupling, err := s.coupling(ctx, id, addon.App.ID)
	if err != nil {
		return fail(StepCouplings, err)
	}
	if coupling == nil {
		return res, nil
	}
	res.Coupling, res.Stage = coupling, coupling.Stage
	if twoRequests && coupling.Pipeline.Name != "" {
		res.Pipeline = &Pipeline{ID: coupling.Pipeline.ID, Name: coupling.Pipeline.Name}
		res.PipelinePartial = true
		return res, nil
	}
	p, err := s.pipeline(ctx, coupling.Pipeline.ID.String())
	if err != nil {
		return fail(StepPipeline, err)
	}
	// A copy per Resolution: a pipeline shared by a batch or a cache must
	// not change when one caller edits its result.
	pc := *p
	res.Pipeline = &pc
	return res, nil
}

// liveSteps asks the API for every step with one client.
type liveSteps struct{ c *Client }

// addon is the first step: the add-on, which must name the billing app the
// next step asks about.
func (l liveSteps) addon(ctx context.Context, id string) (*Addon, error) {
	a, err := l.c.GetAddon(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.App.ID == uuid.Nil {
		return nil, fmt.Errorf("herokupartner: add-on %s: answer names no billing app", id)
	}
	return a, nil
}

// coupling returns the coupling of an app whose id was just read from the
// add-on, or nil when the app is in no pipeline.
func (l liveSteps) coupling(ctx context.Context, _ string, appID uuid.UUID) (*PipelineCoupling, error) {
	list, err := l.c.appCouplings(ctx, appID)
	switch {
	case errors.Is(err, ErrNotFound):
		// The app id came from the add-on, so the 404 is about the
		// coupling: the app is in no pipeline.
		return nil, nil
	case err != nil:
		return nil, err
	case len(list) == 0:
		return nil, nil
	case len(list) > 1:
		return nil, fmt.Errorf("herokupartner: app %s has %d pipeline couplings, want at most one", appID, len(list))
	case list[0].Pipeline.ID == uuid.Nil:
		return nil, fmt.Errorf("herokupartner: app %s: coupling names no pipeline", appID)
	}
	return &list[0], nil
}

func (l liveSteps) pipeline(ctx context.Context, pipelineID string) (*Pipeline, error) {
	return l.c.GetPipeline(ctx, pipelineID)
}
