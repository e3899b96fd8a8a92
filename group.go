package herokupartner

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/google/uuid"
)

// Dashboard is a batch of resolutions grouped the way a partner's dashboard
// shows them: by pipeline, then stage, then app.
type Dashboard struct {
	// Pipelines are ordered by name, then id: two customers' pipelines of
	// the same name stay apart.
	Pipelines []PipelineGroup
	// NoPipeline holds the apps, ordered by name then id, whose resources
	// resolved to no pipeline.
	NoPipeline []AppGroup
	// Failed holds the results that did not resolve, in input order.
	Failed []BatchResult
}

// PipelineGroup is one pipeline and its apps by stage.
type PipelineGroup struct {
	// Pipeline is the fullest record any result had: only id and name
	// when every result came from a two-request resolution.
	Pipeline Pipeline
	// Stages are ordered development, review, test, staging, production,
	// then stages Heroku may add later, alphabetically. Only stages with an
	// app appear.
	Stages []StageGroup
}

// StageGroup is the apps coupled to a pipeline at one stage.
type StageGroup struct {
	Stage Stage
	// Apps are ordered by name, then id.
	Apps []AppGroup
}

// AppGroup is one app and the resolved add-on resources billed to it.
type AppGroup struct {
	App Ref
	// Resources are in input order.
	Resources []BatchResult
}

// stageRank orders the stages Heroku documents as an app moves through
// them; unknown stages rank after all of them.
func stageRank(s Stage) int {
	switch s {
	case StageDevelopment:
		return 0
	case StageReview:
		return 1
	case StageTest:
		return 2
	case StageStaging:
		return 3
	case StageProduction:
		return 4
	}
	return 5
}

// CompareStages orders stages as a pipeline shows them: development,
// review, test, staging, production, then unknown stages alphabetically.
func CompareStages(a, b Stage) int {
	return cmp.Or(cmp.Compare(stageRank(a), stageRank(b)), cmp.Compare(a, b))
}

// GroupByPipeline groups results for a dashboard. Its order depends only on
// the results' content and input order, never on timing, so the same batch
// always renders the same way.
func GroupByPipeline(results []BatchResult) Dashboard {
	var d Dashboard
	pipes := map[uuid.UUID]*PipelineGroup{}
	stages := map[uuid.UUID]map[Stage]map[uuid.UUID]*AppGroup{}
	loose := map[uuid.UUID]*AppGroup{}
	partial := map[uuid.UUID]bool{} // pipeline id -> only a partial record so far
	for _, r := range results {
		res := r.Resolution
		if r.Err != nil || res == nil {
			d.Failed = append(d.Failed, r)
			continue
		}
		if !res.InPipeline() {
			addTo(loose, res.App, r)
			continue
		}
		p := Pipeline{ID: res.Coupling.Pipeline.ID, Name: res.Coupling.Pipeline.Name}
		full := res.Pipeline != nil && !res.PipelinePartial
		if res.Pipeline != nil {
			p = *res.Pipeline
		}
		pg := pipes[p.ID]
		if pg == nil {
			pg = &PipelineGroup{Pipeline: p}
			pipes[p.ID] = pg
			stages[p.ID] = map[Stage]map[uuid.UUID]*AppGroup{}
			partial[p.ID] = !full
		} else if pg.Pipeline.Name == "" || (partial[p.ID] && full) {
			// A full record, where one result has it, beats a partial
			// one (two-request resolutions) or a bare coupling reference.
			pg.Pipeline = p
			partial[p.ID] = !full
		}
		st := stages[p.ID]
		if st[res.Stage] == nil {
			st[res.Stage] = map[uuid.UUID]*AppGroup{}
		}
		addTo(st[res.Stage], res.App, r)
	}
	for id, pg := range pipes {
		for stage, apps := range stages[id] {
			pg.Stages = append(pg.Stages, StageGroup{Stage: stage, Apps: sortedApps(apps)})
		}
		slices.SortFunc(pg.Stages, func(a, b StageGroup) int { return CompareStages(a.Stage, b.Stage) })
		d.Pipelines = append(d.Pipelines, *pg)
	}
	slices.SortFunc(d.Pipelines, func(a, b PipelineGroup) int {
		return cmp.Or(cmp.Compare(a.Pipeline.Name, b.Pipeline.Name), compareUUID(a.Pipeline.ID, b.Pipeline.ID))
	})
	d.NoPipeline = sortedApps(loose)
	return d
}

func addTo(apps map[uuid.UUID]*AppGroup, app Ref, r BatchResult) {
	g := apps[app.ID]
	if g == nil {
		g = &AppGroup{App: app}
		apps[app.ID] = g
	}
	if g.App.Name == "" {
		g.App.Name = app.Name
	}
	g.Resources = append(g.Resources, r)
}

func sortedApps(apps map[uuid.UUID]*AppGroup) []AppGroup {
	out := make([]AppGroup, 0, len(apps))
	for _, g := range apps {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b AppGroup) int {
		return cmp.Or(cmp.Compare(a.App.Name, b.App.Name), compareUUID(a.App.ID, b.App.ID))
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }
