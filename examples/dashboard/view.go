package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	hp "github.com/addonkit/herokupartner"
)

// screen is the dashboard's output. Webhook events, and the changes they
// make, arrive on the receiver's goroutine; the refresher's changes and
// the views on the main one; so every write takes the lock.
type screen struct {
	mu sync.Mutex
	w  io.Writer
	// quiet counts changes instead of printing them: the first pass adds
	// every resource, in an order that follows their random ids.
	quiet bool
	count int
}

func (s *screen) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// setQuiet turns counting on or off and returns the changes counted.
func (s *screen) setQuiet(on bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.count
	s.quiet, s.count = on, 0
	return n
}

// event prints a webhook delivery as the receiver hands it over.
func (s *screen) event(ev *hp.WebhookEvent) {
	s.printf("  <- webhook %s %s\n", ev.Include, ev.Action)
}

// change prints one change as the tracker reports it: TrackerConfig.OnChange.
func (s *screen) change(c hp.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiet {
		s.count++
		return
	}
	fmt.Fprintf(s.w, "  -> %-15s %s\n", c.Kind, describe(c))
}

// describe says what changed, in the words of a dashboard's feed.
func describe(c hp.Change) string {
	var b, a *hp.Resolution
	if c.Before != nil {
		b = c.Before.Resolution
	}
	if c.After != nil {
		a = c.After.Resolution
	}
	switch c.Kind {
	case hp.ChangeAdded:
		return fmt.Sprintf("%s on %s, %s", a.Addon.Name, a.App.Name, place(a))
	case hp.ChangeRemoved:
		return fmt.Sprintf("%s on %s, %s", b.Addon.Name, b.App.Name, place(b))
	case hp.ChangeAppRenamed:
		return fmt.Sprintf("%s -> %s", b.App.Name, a.App.Name)
	case hp.ChangePlanChanged:
		return fmt.Sprintf("%s on %s: %s -> %s", a.Addon.Name, a.App.Name, b.Addon.Plan.Name, a.Addon.Plan.Name)
	}
	// The pipeline and stage kinds.
	return fmt.Sprintf("%s: %s -> %s", a.App.Name, place(b), place(a))
}

func place(r *hp.Resolution) string {
	if !r.InPipeline() {
		return "in no pipeline"
	}
	return r.Pipeline.Name + "/" + string(r.Stage)
}

// view prints the tracker's map grouped by pipeline and stage.
func (s *screen) view(entries []hp.TrackedResource) {
	results := make([]hp.BatchResult, len(entries))
	for i, e := range entries {
		results[i] = hp.BatchResult{ResourceUUID: e.ResourceID, Resolution: e.Resolution}
		if e.Resolution == nil {
			results[i].Err = errors.New(cmp.Or(e.LastError, "not resolved yet"))
		}
	}
	d := hp.GroupByPipeline(results)
	var b strings.Builder
	for _, p := range d.Pipelines {
		fmt.Fprintf(&b, "\n  %s\n", p.Pipeline.Name)
		for _, st := range p.Stages {
			fmt.Fprintf(&b, "    %-12s %s\n", st.Stage, appList(st.Apps))
		}
	}
	if len(d.NoPipeline) > 0 {
		fmt.Fprintf(&b, "\n  in no pipeline\n    %s\n", appList(d.NoPipeline))
	}
	if len(d.Failed) > 0 {
		fmt.Fprintf(&b, "\n  not resolved: %d resources\n", len(d.Failed))
	}
	s.printf("%s\n", b.String())
}

// appList names the apps, with a count where an app has several add-ons.
func appList(apps []hp.AppGroup) string {
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.App.Name
		if n := len(a.Resources); n > 1 {
			names[i] += fmt.Sprintf(" (%d add-ons)", n)
		}
	}
	return strings.Join(names, ", ")
}
