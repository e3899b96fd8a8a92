package herokupartner_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
)

// resolved builds a successful result for an app at stage of p (nil p:
// in no pipeline).
func resolved(app hp.Ref, p *hp.Pipeline, stage hp.Stage) hp.BatchResult {
	id := uuid.New()
	res := &hp.Resolution{Addon: &hp.Addon{ID: id, App: app}, App: app}
	if p != nil {
		res.Coupling = &hp.PipelineCoupling{App: app, Pipeline: hp.Ref{ID: p.ID}, Stage: stage}
		res.Pipeline = p
		res.Stage = stage
	}
	return hp.BatchResult{ResourceUUID: id.String(), Resolution: res}
}

func ref(name string) hp.Ref { return hp.Ref{ID: uuid.New(), Name: name} }

func TestGroupByPipelineOrder(t *testing.T) {
	web := &hp.Pipeline{ID: uuid.New(), Name: "web"}
	api := &hp.Pipeline{ID: uuid.New(), Name: "api"}
	webToo := &hp.Pipeline{ID: uuid.New(), Name: "web"} // another customer's
	prod, stag, dev, rev, tst := ref("web-prod"), ref("web-staging"), ref("web-dev"), ref("web-pr-7"), ref("web-ci")
	canary, alpha := ref("web-canary"), ref("web-alpha")
	apiB, apiA := ref("api-b"), ref("api-a")
	other := ref("other-prod")
	loneZ, loneA := ref("zeta"), ref("alpha-lone")
	failure := hp.BatchResult{ResourceUUID: "x", Err: errors.New("boom")}

	prodRes := resolved(prod, web, hp.StageProduction)
	results := []hp.BatchResult{
		prodRes,
		resolved(canary, web, hp.Stage("canary")),
		resolved(loneZ, nil, ""),
		resolved(stag, web, hp.StageStaging),
		failure,
		resolved(apiB, api, hp.StageProduction),
		resolved(alpha, web, hp.Stage("alpha")),
		resolved(tst, web, hp.StageTest),
		resolved(other, webToo, hp.StageProduction),
		resolved(rev, web, hp.StageReview),
		resolved(apiA, api, hp.StageProduction),
		resolved(dev, web, hp.StageDevelopment),
		resolved(loneA, nil, ""),
		{ResourceUUID: "y"}, // neither error nor resolution: not trusted
	}
	// A second add-on on the production app joins the same app group.
	second := resolved(prod, web, hp.StageProduction)
	results = append(results, second)

	d := hp.GroupByPipeline(results)

	require.Len(t, d.Pipelines, 3)
	assert.Equal(t, "api", d.Pipelines[0].Pipeline.Name)
	assert.Equal(t, "web", d.Pipelines[1].Pipeline.Name)
	assert.Equal(t, "web", d.Pipelines[2].Pipeline.Name)
	assert.NotEqual(t, d.Pipelines[1].Pipeline.ID, d.Pipelines[2].Pipeline.ID, "same-named pipelines stay apart")

	var webGroup hp.PipelineGroup
	for _, g := range d.Pipelines[1:] {
		if g.Pipeline.ID == web.ID {
			webGroup = g
		}
	}
	var stages []hp.Stage
	for _, s := range webGroup.Stages {
		stages = append(stages, s.Stage)
		require.Len(t, s.Apps, 1)
	}
	assert.Equal(t, []hp.Stage{hp.StageDevelopment, hp.StageReview, hp.StageTest, hp.StageStaging, hp.StageProduction, "alpha", "canary"}, stages)
	prodApps := webGroup.Stages[4].Apps
	assert.Equal(t, prod, prodApps[0].App)
	require.Len(t, prodApps[0].Resources, 2)
	assert.Equal(t, prodRes.ResourceUUID, prodApps[0].Resources[0].ResourceUUID, "resources keep input order")
	assert.Equal(t, second.ResourceUUID, prodApps[0].Resources[1].ResourceUUID)

	require.Len(t, d.Pipelines[0].Stages, 1)
	apiApps := d.Pipelines[0].Stages[0].Apps
	require.Len(t, apiApps, 2)
	assert.Equal(t, "api-a", apiApps[0].App.Name)
	assert.Equal(t, "api-b", apiApps[1].App.Name)

	require.Len(t, d.NoPipeline, 2)
	assert.Equal(t, "alpha-lone", d.NoPipeline[0].App.Name)
	assert.Equal(t, "zeta", d.NoPipeline[1].App.Name)

	require.Len(t, d.Failed, 2)
	assert.Equal(t, "x", d.Failed[0].ResourceUUID)
	assert.Equal(t, "y", d.Failed[1].ResourceUUID)

	// The grouping depends on content, not on the order results arrive.
	for range 20 {
		shuffled := append([]hp.BatchResult(nil), results...)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again := hp.GroupByPipeline(shuffled)
		require.Len(t, again.Pipelines, 3)
		for i := range d.Pipelines {
			assert.Equal(t, d.Pipelines[i].Pipeline.ID, again.Pipelines[i].Pipeline.ID)
			require.Len(t, again.Pipelines[i].Stages, len(d.Pipelines[i].Stages))
			for j, s := range d.Pipelines[i].Stages {
				assert.Equal(t, s.Stage, again.Pipelines[i].Stages[j].Stage)
			}
		}
	}
}

func TestGroupByPipelineEmpty(t *testing.T) {
	d := hp.GroupByPipeline(nil)
	assert.Empty(t, d.Pipelines)
	assert.Empty(t, d.NoPipeline)
	assert.Empty(t, d.Failed)
}

func TestGroupByPipelineWithoutPipelineRecord(t *testing.T) {
	// A resolution with a coupling but no pipeline record still groups,
	// under the coupling's pipeline id and name.
	app := ref("app")
	pid := uuid.New()
	r := resolved(app, nil, "")
	r.Resolution.Coupling = &hp.PipelineCoupling{App: app, Pipeline: hp.Ref{ID: pid, Name: "named-in-coupling"}, Stage: hp.StageStaging}
	r.Resolution.Stage = hp.StageStaging
	d := hp.GroupByPipeline([]hp.BatchResult{r})
	require.Len(t, d.Pipelines, 1)
	assert.Equal(t, pid, d.Pipelines[0].Pipeline.ID)
	assert.Equal(t, "named-in-coupling", d.Pipelines[0].Pipeline.Name)
}

func TestGroupByPipelinePrefersAFullPipelineRecord(t *testing.T) {
	full := &hp.Pipeline{ID: uuid.New(), Name: "shop", Owner: &hp.PipelineOwner{ID: uuid.New(), Type: "team"}}
	partial := resolved(ref("a"), &hp.Pipeline{ID: full.ID, Name: "shop"}, hp.StageStaging)
	partial.Resolution.PipelinePartial = true
	for name, order := range map[string][]hp.BatchResult{
		"partial first": {partial, resolved(ref("b"), full, hp.StageProduction)},
		"full first":    {resolved(ref("b"), full, hp.StageProduction), partial},
	} {
		d := hp.GroupByPipeline(order)
		require.Len(t, d.Pipelines, 1, name)
		assert.Equal(t, *full, d.Pipelines[0].Pipeline, name)
		assert.Len(t, d.Pipelines[0].Stages, 2, name)
	}
}

func TestCompareStages(t *testing.T) {
	assert.Negative(t, hp.CompareStages(hp.StageDevelopment, hp.StageProduction))
	assert.Negative(t, hp.CompareStages(hp.StageProduction, "beta"))
	assert.Negative(t, hp.CompareStages("alpha", "beta"))
	assert.Zero(t, hp.CompareStages(hp.StageStaging, hp.StageStaging))
}

func ExampleGroupByPipeline() {
	shop := &hp.Pipeline{ID: uuid.New(), Name: "shop"}
	results := []hp.BatchResult{
		resolved(hp.Ref{ID: uuid.New(), Name: "shop-prod"}, shop, hp.StageProduction),
		resolved(hp.Ref{ID: uuid.New(), Name: "sandbox"}, nil, ""),
		resolved(hp.Ref{ID: uuid.New(), Name: "shop-staging"}, shop, hp.StageStaging),
		{ResourceUUID: "3f1c…", Err: errors.New("401 unauthorized")},
	}
	d := hp.GroupByPipeline(results)
	for _, p := range d.Pipelines {
		fmt.Println(p.Pipeline.Name)
		for _, s := range p.Stages {
			for _, a := range s.Apps {
				fmt.Printf("  %-10s %s (%d add-on)\n", s.Stage, a.App.Name, len(a.Resources))
			}
		}
	}
	for _, a := range d.NoPipeline {
		fmt.Println("no pipeline:", a.App.Name)
	}
	fmt.Println("failed:", len(d.Failed))
	// Output:
	// shop
	//   staging    shop-staging (1 add-on)
	//   production shop-prod (1 add-on)
	// no pipeline: sandbox
	// failed: 1
}
