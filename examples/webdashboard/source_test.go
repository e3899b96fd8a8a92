package main

import (
	"context"
	"slices"
	"testing"

	hp "github.com/addonkit/herokupartner"
)

// kindsSince returns the kinds of the customer's changes after seq, and
// the newest seq.
func kindsSince(t *testing.T, p *poller, customer string, seq uint64) ([]changeKind, []string, uint64) {
	t.Helper()
	s := mustSnapshot(t, p, customer)
	var kinds []changeKind
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

// TestPollerReportsEveryKindOfChange drives the fake through each change
// the page shows and checks the poller reports it, once, as the tracker
// would name it.
func TestPollerReportsEveryKindOfChange(t *testing.T) {
	e := newEnv(t, world)
	ctx := context.Background()
	if k, _, _ := kindsSince(t, e.src, "acme", 0); len(k) != 0 {
		t.Fatalf("the first pass reported changes: %v", k)
	}
	var seq uint64
	var added, removed *hp.Addon
	steps := []struct {
		name  string
		do    func() error
		kinds []changeKind
		text  string
	}{
		{"stage", func() error { e.fleet.couple("acme-shop-dev", "acme-shop", hp.StageReview); return nil },
			[]changeKind{kindStageChanged}, "acme-shop-dev moved from development to review in pipeline acme-shop."},
		{"other pipeline", func() error { e.fleet.couple("acme-shop-dev", "acme-api", hp.StageStaging); return nil },
			[]changeKind{kindMovedPipeline}, "acme-shop-dev moved from pipeline acme-shop to acme-api (staging)."},
		{"leave", func() error { e.fleet.couple("acme-shop-dev", "", ""); return nil },
			[]changeKind{kindLeftPipeline}, "acme-shop-dev left pipeline acme-api."},
		{"join", func() error { e.fleet.couple("acme-scratch", "acme-shop", hp.StageDevelopment); return nil },
			[]changeKind{kindJoinedPipeline}, "acme-scratch joined pipeline acme-shop at development."},
		{"add", func() (err error) { added, err = e.fleet.provision(ctx, "acme-scratch", "premium"); return err },
			[]changeKind{kindAdded}, ""},
		{"remove", func() (err error) { removed, err = e.fleet.deprovision(ctx, "acme-scratch"); return err },
			[]changeKind{kindRemoved}, ""},
		{"nothing", func() error { return nil }, nil, ""},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		e.refresh(t)
		var kinds []changeKind
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
}

func TestDiffNamesRenamesAndSeveralChangesAtOnce(t *testing.T) {
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
		name          string
		before, after *hp.Resolution
		want          []changeKind
	}{
		{"new", nil, res("a", nil, ""), []changeKind{kindAdded}},
		{"same", res("a", &shop, "staging"), res("a", &shop, "staging"), nil},
		{"rename", res("a", nil, ""), res("b", nil, ""), []changeKind{kindAppRenamed}},
		{"rename and promote", res("a", &shop, "staging"), res("b", &shop, "production"), []changeKind{kindAppRenamed, kindStageChanged}},
		{"pipeline, same stage", res("a", &shop, "staging"), res("a", &api, "staging"), []changeKind{kindMovedPipeline}},
		{"leave", res("a", &shop, "staging"), res("a", nil, ""), []changeKind{kindLeftPipeline}},
		{"join", res("a", nil, ""), res("a", &api, "test"), []changeKind{kindJoinedPipeline}},
		{"plan", res("a", nil, ""), upgraded(res("a", nil, "")), []changeKind{kindPlanChanged}},
	}
	for _, c := range cases {
		var got []changeKind
		for _, ch := range diff(c.before, c.after) {
			got = append(got, ch.Kind)
			if describe(ch) == "Something changed." {
				t.Errorf("%s: %s has no description", c.name, ch.Kind)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := describe(change{Kind: kindPlanChanged, Before: res("a", nil, ""), After: upgraded(res("a", nil, ""))}); got != "Add-on acme-metrics-keen-1 moved from plan basic to premium." {
		t.Errorf("plan change described as %q", got)
	}
	if got := describe(change{Kind: kindAppRenamed, Before: res("a", nil, ""), After: res("b", nil, "")}); got != "App a was renamed b." {
		t.Errorf("rename described as %q", got)
	}
}

// TestRepeatedFailureKeepsItsFirstRequestID: a revoked grant fails every
// pass with a new request id; the page keeps the first, so it stays still.
func TestRepeatedFailureKeepsItsFirstRequestID(t *testing.T) {
	e := newEnv(t, world)
	first := buildBoard(mustSnapshot(t, e.src, "acme")).Failures
	if len(first) != 1 || first[0].RequestID == "" {
		t.Fatalf("want one failure with a request id, got %+v", first)
	}
	e.refresh(t)
	again := buildBoard(mustSnapshot(t, e.src, "acme")).Failures
	if len(again) != 1 || again[0] != first[0] {
		t.Errorf("the failure changed between passes: %+v then %+v", first, again)
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

func mustSnapshot(t *testing.T, p *poller, customer string) snapshot {
	t.Helper()
	s, err := p.Snapshot(context.Background(), customer)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", customer, err)
	}
	return s
}
