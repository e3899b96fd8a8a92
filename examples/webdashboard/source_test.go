package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// kindsSince returns the kinds of the customer's changes after seq, and
// the newest seq.
func kindsSince(t *testing.T, src source, customer string, seq uint64) ([]hp.ChangeKind, []string, uint64) {
	t.Helper()
	s := mustSnapshot(t, src, customer)
	var kinds []hp.ChangeKind
	var texts []string
	for _, c := range s.Changes {
		if c.Seq > seq {
			kinds = append(kinds, c.Kind)
			texts = append(texts, describe(c))
			seq = c.Seq
		}
	}
	return kinds, texts, seq
}

// TestTrackerSourceReportsEveryKindOfChange drives the fake through each
// change the page shows, by webhook (rename, destroyed add-on) or left to
// the refresher (couplings, a new resource), and checks the page's source
// reports it once, to its owner only.
func TestTrackerSourceReportsEveryKindOfChange(t *testing.T) {
	e := newEnv(t, world)
	ctx := context.Background()
	if k, _, _ := kindsSince(t, e.src, "acme", 0); len(k) != 0 {
		t.Fatalf("the map filling up was reported as changes: %v", k)
	}
	var seq uint64
	var added, removed *hp.Addon
	steps := []struct {
		name  string
		do    func() error
		kinds []hp.ChangeKind
		text  string
	}{
		{"rename", func() error { e.fleet.rename("acme-shop-dev", "acme-shop-devel"); return nil },
			[]hp.ChangeKind{hp.ChangeAppRenamed}, "App acme-shop-dev was renamed acme-shop-devel."},
		{"stage", func() error { e.fleet.couple("acme-shop-dev", "acme-shop", hp.StageReview); return nil },
			[]hp.ChangeKind{hp.ChangeStageChanged}, "acme-shop-devel moved from development to review in pipeline acme-shop."},
		{"other pipeline", func() error { e.fleet.couple("acme-shop-dev", "acme-api", hp.StageStaging); return nil },
			[]hp.ChangeKind{hp.ChangeMovedPipeline}, "acme-shop-devel moved from pipeline acme-shop to acme-api (staging)."},
		{"leave", func() error { e.fleet.couple("acme-shop-dev", "", ""); return nil },
			[]hp.ChangeKind{hp.ChangeLeftPipeline}, "acme-shop-devel left pipeline acme-api."},
		{"join", func() error { e.fleet.couple("acme-scratch", "acme-shop", hp.StageDevelopment); return nil },
			[]hp.ChangeKind{hp.ChangeJoinedPipeline}, "acme-scratch joined pipeline acme-shop at development."},
		{"add", func() (err error) { added, err = e.fleet.provision(ctx, "acme-scratch", "premium"); return err },
			[]hp.ChangeKind{hp.ChangeAdded}, ""},
		{"remove", func() (err error) { removed, err = e.fleet.deprovision(ctx, "acme-scratch"); return err },
			[]hp.ChangeKind{hp.ChangeRemoved}, ""},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		e.waitSnapshot(t, "acme", st.name, func(s snapshot) bool { return len(s.Changes) > 0 && s.Changes[len(s.Changes)-1].Seq > seq })
		e.delivered(t) // every webhook of the step is applied
		var kinds []hp.ChangeKind
		var texts []string
		kinds, texts, seq = kindsSince(t, e.src, "acme", seq)
		if !slices.Equal(kinds, st.kinds) {
			t.Errorf("%s: changes %v, want %v", st.name, kinds, st.kinds)
		}
		if st.text != "" && (len(texts) != 1 || texts[0] != st.text) {
			t.Errorf("%s: described as %q, want %q", st.name, texts, st.text)
		}
	}
	if added == nil || removed == nil || added.ID != removed.ID {
		t.Fatal("deprovision did not remove the add-on just provisioned")
	}
	if k, _, _ := kindsSince(t, e.src, "globex", 0); len(k) != 0 {
		t.Errorf("acme's changes were reported to globex: %v", k)
	}
	s := mustSnapshot(t, e.src, "acme")
	for _, r := range s.Results {
		if r.ResourceUUID == removed.ID.String() {
			t.Error("the deprovisioned add-on is still in the snapshot")
		}
	}
	for _, id := range s.Missing {
		if id == removed.ID.String() {
			t.Error("the deprovisioned add-on is listed as missing from the map")
		}
	}
}

// TestEveryTrackerKindIsDescribed: each kind of the tracker's Change has
// its own sentence.
func TestEveryTrackerKindIsDescribed(t *testing.T) {
	shop := hp.Ref{Name: "shop"}
	shop.ID[0] = 1
	api := hp.Ref{Name: "api"}
	api.ID[0] = 2
	res := func(app string, p *hp.Ref, stage hp.Stage) *hp.Resolution {
		r := &hp.Resolution{App: hp.Ref{Name: app}, Stage: stage, Addon: &hp.Addon{Name: "acme-metrics-keen-1", Plan: hp.Ref{Name: "acme-metrics:basic"}}}
		if p != nil {
			r.Coupling = &hp.PipelineCoupling{Pipeline: *p, Stage: stage}
			r.Pipeline = &hp.Pipeline{ID: p.ID, Name: p.Name}
		}
		return r
	}
	cases := []struct {
		kind          hp.ChangeKind
		before, after *hp.Resolution
		want          string
	}{
		{hp.ChangeAdded, nil, res("a", nil, ""), "Add-on acme-metrics-keen-1 was added to a."},
		{hp.ChangeRemoved, res("a", nil, ""), nil, "Add-on acme-metrics-keen-1 was removed from a."},
		{hp.ChangeAppRenamed, res("a", nil, ""), res("b", nil, ""), "App a was renamed b."},
		{hp.ChangeStageChanged, res("a", &shop, "staging"), res("a", &shop, "production"), "a moved from staging to production in pipeline shop."},
		{hp.ChangeMovedPipeline, res("a", &shop, "staging"), res("a", &api, "staging"), "a moved from pipeline shop to api (staging)."},
		{hp.ChangeLeftPipeline, res("a", &shop, "staging"), res("a", nil, ""), "a left pipeline shop."},
		{hp.ChangeJoinedPipeline, res("a", nil, ""), res("a", &api, "test"), "a joined pipeline api at test."},
		{hp.ChangePlanChanged, res("a", nil, ""), upgraded(res("a", nil, "")), "Add-on acme-metrics-keen-1 moved from plan basic to premium."},
	}
	for _, c := range cases {
		if got := describe(change{Kind: c.kind, Before: c.before, After: c.after}); got != c.want {
			t.Errorf("%s described as %q, want %q", c.kind, got, c.want)
		}
	}
}

// TestFailedReadShowsTheRequestID: Heroku fails a coupling read (503,
// retries included); the tracker keeps the last resolution and records
// LastError, and the page shows the app where it was and the failure with
// Heroku's request id, until a read succeeds.
func TestFailedReadShowsTheRequestID(t *testing.T) {
	e := newEnv(t, world)
	e.fleet.outage()
	var failed hp.TrackedResource
	e.waitMap(t, "a failed read", func(entries []hp.TrackedResource) bool {
		for _, r := range entries {
			if r.LastError != "" {
				failed = r
				return true
			}
		}
		return false
	})
	var sent string // the Request-Id the SDK sent with the failed read
	for _, r := range e.fake.Requests() {
		if r.Route == herokupartnertest.RouteCouplings && r.Status == http.StatusServiceUnavailable {
			sent = r.Header.Get("Request-Id")
		}
	}
	owner := e.fleet.reg.ownerOf(failed.ResourceID)
	b := buildBoard(mustSnapshot(t, e.src, owner))
	var card *failureView
	for i := range b.Failures {
		if b.Failures[i].ResourceID == failed.ResourceID {
			card = &b.Failures[i]
		}
	}
	switch {
	case card == nil:
		t.Fatalf("%s's board shows no failure for %s: %+v", owner, failed.ResourceID, b.Failures)
	case sent == "" || !strings.HasPrefix(card.RequestID, sent+","):
		// Heroku's answer carries the client's id and its own.
		t.Errorf("the card quotes request id %q; the read sent %q", card.RequestID, sent)
	case card.App != failed.Resolution.App.Name || !strings.Contains(card.Reason, "confirmed at"):
		t.Errorf("the card does not say the app is shown as last confirmed: %+v", card)
	case !strings.Contains(card.Detail, "503"):
		t.Errorf("the card's detail is not the tracker's LastError: %q", card.Detail)
	}
	if !slices.ContainsFunc(b.Pipelines, func(p pipelineView) bool {
		return slices.ContainsFunc(p.Stages, func(s stageView) bool {
			return slices.ContainsFunc(s.Apps, func(a appView) bool { return a.Name == failed.Resolution.App.Name })
		})
	}) && !slices.ContainsFunc(b.Loose, func(a appView) bool { return a.Name == failed.Resolution.App.Name }) {
		t.Errorf("%s left the board while its read failed", failed.Resolution.App.Name)
	}
	e.waitSnapshot(t, owner, "the next read to succeed", func(s snapshot) bool { return len(s.Failed) == 0 })
}

// TestRevokedGrantIsListedAsOffTheMap: the tracker drops a resource whose
// grant was revoked; the partner's records still give it to acme, so the
// page lists it rather than let it vanish.
func TestRevokedGrantIsListedAsOffTheMap(t *testing.T) {
	e := newEnv(t, world)
	legacy := e.fleet.addons["acme-legacy"][0].ID.String()
	s := mustSnapshot(t, e.src, "acme")
	if !slices.Equal(s.Missing, []string{legacy}) {
		t.Fatalf("missing from the map: %v, want acme-legacy's %s", s.Missing, legacy)
	}
	b := buildBoard(s)
	if len(b.Failures) != 1 || b.Failures[0].ResourceID != legacy || !strings.Contains(b.Failures[0].Reason, "revoked") || b.Failures[0].RequestID != "" {
		t.Errorf("failures %+v", b.Failures)
	}
	if s := mustSnapshot(t, e.src, "globex"); len(s.Missing) != 0 {
		t.Errorf("globex is told of %v", s.Missing)
	}
}

// upgraded moves r's add-on to the premium plan.
func upgraded(r *hp.Resolution) *hp.Resolution {
	a := *r.Addon
	a.Plan = hp.Ref{Name: "acme-metrics:premium"}
	a.Plan.ID[0] = 9
	r.Addon = &a
	return r
}

func mustSnapshot(t *testing.T, src source, customer string) snapshot {
	t.Helper()
	s, err := src.Snapshot(context.Background(), customer)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", customer, err)
	}
	return s
}
