package herokupartner

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
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
}

// InPipeline reports whether the app is coupled to a pipeline.
func (r *Resolution) InPipeline() bool { return r != nil && r.Coupling != nil }

// ResolvePipeline looks up the add-on resource, its app's pipeline coupling
// and the pipeline: three requests. An app in no pipeline is a successful
// Resolution whose InPipeline is false. Any other failure is a
// *ResolveError naming the step that failed.
func (c *Client) ResolvePipeline(ctx context.Context, resourceUUID string) (*Resolution, error) {
	if _, err := parseID("resourceUUID", resourceUUID); err != nil {
		return nil, err
	}
	fail := func(step string, err error) (*Resolution, error) {
		return nil, &ResolveError{Step: step, ResourceID: resourceUUID, Err: err}
	}
	addon, err := c.addonWithApp(ctx, resourceUUID)
	if err != nil {
		return fail("add-on", err)
	}
	res := &Resolution{Addon: addon, App: addon.App}
	res.Coupling, err = c.appCoupling(ctx, addon.App.ID)
	if err != nil {
		return fail("couplings", err)
	}
	if !res.InPipeline() {
		return res, nil
	}
	res.Stage = res.Coupling.Stage
	res.Pipeline, err = c.GetPipeline(ctx, res.Coupling.Pipeline.ID.String())
	if err != nil {
		return fail("pipeline", err)
	}
	return res, nil
}

// addonWithApp is the first step of a resolution: the add-on, which must
// name the billing app the next step asks about.
func (c *Client) addonWithApp(ctx context.Context, resourceUUID string) (*Addon, error) {
	a, err := c.GetAddon(ctx, resourceUUID)
	if err != nil {
		return nil, err
	}
	if a.App.ID == uuid.Nil {
		return nil, fmt.Errorf("herokupartner: add-on %s: answer names no billing app", resourceUUID)
	}
	return a, nil
}

// appCoupling returns the coupling of an app whose id was just read from an
// add-on, or nil when the app is in no pipeline.
func (c *Client) appCoupling(ctx context.Context, appID uuid.UUID) (*PipelineCoupling, error) {
	list, err := c.GetAppPipelineCouplings(ctx, appID.String())
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
