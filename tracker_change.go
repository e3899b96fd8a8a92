package herokupartner

import (
	"time"
)

// TrackedResource is what a Tracker knows of one add-on resource: its
// latest Resolution and how fresh it is.
type TrackedResource struct {
	// ResourceID is the resource's canonical uuid.
	ResourceID string `json:"resource_id"`
	// Resolution is nil until the resource's first resolution. Its Addon
	// holds the plan and state, App the billing app's id and name, and
	// Pipeline and Stage where the app sits.
	Resolution *Resolution `json:"resolution,omitempty"`
	// ConfirmedAt is when the API last confirmed the pipeline and stage;
	// zero until the first resolution. A dashboard shows it as "as of".
	ConfirmedAt time.Time `json:"confirmed_at"`
	// CheckedAt is when the refresher last tried; entries are refreshed
	// in CheckedAt order, oldest first.
	CheckedAt time.Time `json:"checked_at"`
	// LastError describes the latest failed refresh, "" after a success.
	// It never holds a token.
	LastError string `json:"last_error,omitempty"`
}

// appID returns the id of the resource's billing app, "" if unresolved.
func (r *TrackedResource) appID() string {
	if r == nil || r.Resolution == nil {
		return ""
	}
	return r.Resolution.App.ID.String()
}

// clone gives a caller its own copy, so that a change handler or a store
// cannot alter what the Tracker holds.
func (r *TrackedResource) clone() *TrackedResource {
	if r == nil {
		return nil
	}
	cp := *r
	if r.Resolution != nil {
		cp.Resolution = r.Resolution.clone()
	}
	return &cp
}

// ChangeKind says what changed about a tracked resource.
type ChangeKind string

// The kinds of Change a Tracker reports.
const (
	// ChangeAdded is the resource's first resolution.
	ChangeAdded ChangeKind = "added"
	// ChangeStageChanged is a move to another stage of the same pipeline (a
	// promotion).
	ChangeStageChanged ChangeKind = "stage_changed"
	// ChangeMovedPipeline is a coupling to another pipeline.
	ChangeMovedPipeline ChangeKind = "moved_pipeline"
	// ChangeLeftPipeline is an app leaving its pipeline for none.
	ChangeLeftPipeline ChangeKind = "left_pipeline"
	// ChangeJoinedPipeline is an app in no pipeline joining one.
	ChangeJoinedPipeline ChangeKind = "joined_pipeline"
	// ChangeAppRenamed is a new name for the billing app.
	ChangeAppRenamed ChangeKind = "app_renamed"
	// ChangePlanChanged is the add-on's move to another plan.
	ChangePlanChanged ChangeKind = "plan_changed"
	// ChangeRemoved is the end of tracking: the resource was untracked, its
	// add-on or app destroyed, or its grant revoked.
	ChangeRemoved ChangeKind = "removed"
)

// Change is one change to a tracked resource, as a Tracker reports it to
// TrackerConfig.OnChange: what a partner tags metrics with and pushes to a
// live dashboard. Before is nil for ChangeAdded and After for
// ChangeRemoved; both are copies the handler may keep.
type Change struct {
	Kind       ChangeKind       `json:"kind"`
	ResourceID string           `json:"resource_id"`
	Before     *TrackedResource `json:"before,omitempty"`
	After      *TrackedResource `json:"after,omitempty"`
	// At is when the Tracker applied the change.
	At time.Time `json:"at"`
}

// diff lists the changes from before to after; either may be nil (not
// tracked), and an entry without a Resolution counts as not yet known. One
// update may make several changes: a rename and a promotion at once.
func diff(id string, before, after *TrackedResource, at time.Time) []Change {
	known := func(r *TrackedResource) bool { return r != nil && r.Resolution != nil }
	mk := func(k ChangeKind) Change {
		return Change{Kind: k, ResourceID: id, Before: before.clone(), After: after.clone(), At: at}
	}
	switch {
	case !known(before) && !known(after):
		return nil
	case !known(before):
		c := mk(ChangeAdded)
		c.Before = nil
		return []Change{c}
	case after == nil:
		return []Change{mk(ChangeRemoved)}
	case !known(after):
		return nil
	}
	b, a := before.Resolution, after.Resolution
	var out []Change
	if b.App.Name != a.App.Name {
		out = append(out, mk(ChangeAppRenamed))
	}
	if b.Addon != nil && a.Addon != nil && b.Addon.Plan.ID != a.Addon.Plan.ID {
		out = append(out, mk(ChangePlanChanged))
	}
	switch bp, ap := pipelineOf(b), pipelineOf(a); {
	case bp == "" && ap != "":
		out = append(out, mk(ChangeJoinedPipeline))
	case bp != "" && ap == "":
		out = append(out, mk(ChangeLeftPipeline))
	case bp != ap:
		out = append(out, mk(ChangeMovedPipeline))
	case b.Stage != a.Stage:
		out = append(out, mk(ChangeStageChanged))
	}
	return out
}

func pipelineOf(r *Resolution) string {
	if !r.InPipeline() || r.Pipeline == nil {
		return ""
	}
	return r.Pipeline.ID.String()
}
