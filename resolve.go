package herokupartner

import (
	"context"
	"errors"
	"fmt"
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
	addon, err := c.GetAddon(ctx, resourceUUID)
	if err != nil {
		return fail("add-on", err)
	}
	res, err := c.resolveCoupling(ctx, addon)
	if err != nil {
		return fail("couplings", err)
	}
	if !res.InPipeline() {
		return res, nil
	}
	p, err := c.GetPipeline(ctx, res.Coupling.Pipeline.ID.String())
	if err != nil {
		return fail("pipeline", err)
	}
	res.Pipeline = p
	return res, nil
}

// resolveCoupling does the second step for an add-on already fetched.
func (c *Client) resolveCoupling(ctx context.Context, addon *Addon) (*Resolution, error) {
	res := &Resolution{Addon: addon, App: addon.App}
	couplings, err := c.GetAppPipelineCouplings(ctx, addon.App.ID.String())
	switch {
	case errors.Is(err, ErrNotFound):
		// The app id was just read from the add-on, so the 404 is about
		// the coupling: the app is in no pipeline.
		return res, nil
	case err != nil:
		return nil, err
	case len(couplings) == 0:
		return res, nil
	case len(couplings) > 1:
		return nil, fmt.Errorf("herokupartner: app %s has %d pipeline couplings, want at most one", addon.App.ID, len(couplings))
	}
	res.Coupling = &couplings[0]
	res.Stage = res.Coupling.Stage
	return res, nil
}
