package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// boardView is what the page shows of one customer: the template's whole
// input. It holds names, plans and states only; tokens never get here.
type boardView struct {
	Pipelines []pipelineView
	Loose     []appView // apps in no pipeline
	Failures  []failureView
	Changes   []changeView // newest first
	Empty     bool
}

type pipelineView struct {
	Name   string
	Stages []stageView
}

type stageView struct {
	Name string
	Apps []appView
}

type appView struct {
	Name      string
	Resources []resourceView
}

type resourceView struct{ Name, Plan, State string }

type failureView struct {
	ResourceID string
	App        string // empty when the resource was never read
	Reason     string
	RequestID  string // what Heroku support asks for; empty when no request was answered
	Detail     string // the tracker's LastError; empty for a resource off the map
}

type changeView struct {
	At   time.Time
	Text string
}

// alwaysShown are the stages Heroku's pipeline page shows even when empty.
var alwaysShown = []hp.Stage{hp.StageStaging, hp.StageProduction}

// recentChanges is how many changes the page lists.
const recentChanges = 8

// buildBoard lays a snapshot out like Heroku's pipeline page: a row per
// pipeline, a column per stage in pipeline order, a card per app.
func buildBoard(s snapshot) boardView {
	d := hp.GroupByPipeline(s.Results)
	var b boardView
	for _, p := range d.Pipelines {
		pv := pipelineView{Name: p.Pipeline.Name}
		for _, st := range p.Stages {
			sv := stageView{Name: string(st.Stage)}
			for _, a := range st.Apps {
				sv.Apps = append(sv.Apps, appCard(a))
			}
			pv.Stages = append(pv.Stages, sv)
		}
		for _, st := range alwaysShown {
			if !slices.ContainsFunc(pv.Stages, func(s stageView) bool { return s.Name == string(st) }) {
				pv.Stages = append(pv.Stages, stageView{Name: string(st)})
			}
		}
		slices.SortStableFunc(pv.Stages, func(a, b stageView) int { return hp.CompareStages(hp.Stage(a.Name), hp.Stage(b.Name)) })
		b.Pipelines = append(b.Pipelines, pv)
	}
	for _, a := range d.NoPipeline {
		b.Loose = append(b.Loose, appCard(a))
	}
	for _, f := range s.Failed {
		b.Failures = append(b.Failures, failure(f))
	}
	for _, id := range s.Missing {
		b.Failures = append(b.Failures, failureView{ResourceID: id,
			Reason: "This add-on is no longer on our map: our access to it was revoked, or Heroku no longer knows it. Reinstall the add-on or contact us."})
	}
	for i := len(s.Changes) - 1; i >= 0 && len(b.Changes) < recentChanges; i-- {
		c := s.Changes[i]
		text := describe(c)
		// An app with several add-ons moves once, not once per add-on.
		if n := len(b.Changes); n > 0 && b.Changes[n-1].Text == text && b.Changes[n-1].At.Equal(c.At) {
			continue
		}
		b.Changes = append(b.Changes, changeView{At: c.At, Text: text})
	}
	b.Empty = len(b.Pipelines) == 0 && len(b.Loose) == 0 && len(b.Failures) == 0
	return b
}

func appCard(a hp.AppGroup) appView {
	v := appView{Name: a.App.Name}
	for _, r := range a.Resources {
		addon := r.Resolution.Addon
		if addon == nil {
			continue
		}
		v.Resources = append(v.Resources, resourceView{Name: addon.Name, Plan: planName(addon.Plan.Name), State: string(addon.State)})
	}
	return v
}

// planName drops the service from "service:plan": every resource on the
// page is of the partner's service.
func planName(full string) string { return full[strings.LastIndexByte(full, ':')+1:] }

// requestID finds the request id in the SDK's error text ("… [request id
// 0b7e…]"): the tracker keeps a failure only as text (LastError).
var requestID = regexp.MustCompile(`\[request id ([0-9A-Za-z._:,-]{1,256})\]`)

// failure says what a customer can do about a resource whose latest read
// failed, with the request id Heroku support asks for. The tracker keeps
// the failure as text, so the reason cannot say which kind it was; the
// text itself is shown as a detail (it holds no token: API paths, the
// status and Heroku's message).
func failure(f failedRead) failureView {
	v := failureView{ResourceID: f.ResourceID, App: f.App, Detail: f.LastError}
	if m := requestID.FindStringSubmatch(f.LastError); m != nil {
		v.RequestID = m[1]
	}
	if f.ConfirmedAt.IsZero() {
		v.Reason = "We have not been able to read this add-on yet; we will try again shortly."
	} else {
		v.Reason = "Our latest read of this add-on failed; it is shown as confirmed at " + clock(f.ConfirmedAt) + ". We will try again shortly."
	}
	return v
}

// describe says a change in a sentence, for the list and for screen
// readers.
func describe(c change) string {
	b, a := c.Before, c.After
	switch c.Kind {
	case hp.ChangeAdded:
		return fmt.Sprintf("Add-on %s was added to %s.", addonName(a), a.App.Name)
	case hp.ChangeRemoved:
		return fmt.Sprintf("Add-on %s was removed from %s.", addonName(b), b.App.Name)
	case hp.ChangeAppRenamed:
		return fmt.Sprintf("App %s was renamed %s.", b.App.Name, a.App.Name)
	case hp.ChangePlanChanged:
		return fmt.Sprintf("Add-on %s moved from plan %s to %s.", addonName(a), planName(b.Addon.Plan.Name), planName(a.Addon.Plan.Name))
	case hp.ChangeStageChanged:
		return fmt.Sprintf("%s moved from %s to %s in pipeline %s.", a.App.Name, b.Stage, a.Stage, pipelineName(a))
	case hp.ChangeMovedPipeline:
		return fmt.Sprintf("%s moved from pipeline %s to %s (%s).", a.App.Name, pipelineName(b), pipelineName(a), a.Stage)
	case hp.ChangeJoinedPipeline:
		return fmt.Sprintf("%s joined pipeline %s at %s.", a.App.Name, pipelineName(a), a.Stage)
	case hp.ChangeLeftPipeline:
		return fmt.Sprintf("%s left pipeline %s.", a.App.Name, pipelineName(b))
	}
	return "Something changed."
}

func addonName(r *hp.Resolution) string {
	if r.Addon == nil {
		return "(unnamed)"
	}
	return r.Addon.Name
}

func pipelineName(r *hp.Resolution) string {
	if r.Pipeline != nil && r.Pipeline.Name != "" {
		return r.Pipeline.Name
	}
	if r.Coupling != nil {
		return r.Coupling.Pipeline.Name
	}
	return "(none)"
}
