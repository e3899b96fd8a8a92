package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	hp "github.com/addonkit/herokupartner"
)

// groupWriter prints the dashboard view from hp.GroupByPipeline. Grouping
// needs every result, so unlike the other outputs it holds them all until
// the end: memory grows with the number of resources, about 1 KiB of
// peak RSS each (120 MiB at 100,000).
type groupWriter struct {
	w       io.Writer
	json    bool
	results []hp.BatchResult
	pipes   map[uuid.UUID]*hp.Pipeline
}

// window keeps of each result only what the view shows, with one copy of
// each pipeline, to hold as little as possible per resource.
func (g *groupWriter) window(rs []hp.BatchResult) error {
	if g.pipes == nil {
		g.pipes = map[uuid.UUID]*hp.Pipeline{}
	}
	for _, r := range rs {
		kept := hp.BatchResult{ResourceUUID: r.ResourceUUID, Err: r.Err}
		if res := r.Resolution; res != nil && r.Err == nil {
			t := &hp.Resolution{App: res.App, Stage: res.Stage}
			if c := res.Coupling; c != nil {
				t.Coupling = &hp.PipelineCoupling{Pipeline: c.Pipeline, Stage: c.Stage}
				p := g.pipes[c.Pipeline.ID]
				if p == nil || p.Name == "" && res.Pipeline != nil {
					p = &hp.Pipeline{ID: c.Pipeline.ID, Name: c.Pipeline.Name}
					if res.Pipeline != nil {
						p.Name = res.Pipeline.Name
					}
					g.pipes[c.Pipeline.ID] = p
				}
				t.Pipeline = p
			}
			kept.Resolution = t
		}
		g.results = append(g.results, kept)
	}
	return nil
}

// jsonApp, jsonStage and jsonPipeline make up the --group --json output.
type jsonApp struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Resources []string `json:"resources"`
}

type jsonStage struct {
	Stage string    `json:"stage"`
	Apps  []jsonApp `json:"apps"`
}

type jsonPipeline struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Stages []jsonStage `json:"stages"`
}

// jsonDashboard is the --group --json document. Every field is always
// present ([] when empty).
type jsonDashboard struct {
	Pipelines  []jsonPipeline `json:"pipelines"`
	NoPipeline []jsonApp      `json:"no_pipeline"`
	Failed     []jsonResource `json:"failed"`
	Summary    jsonSummary    `json:"summary"`
}

func toJSONApps(apps []hp.AppGroup) []jsonApp {
	out := make([]jsonApp, 0, len(apps))
	for _, a := range apps {
		ja := jsonApp{ID: a.App.ID.String(), Name: a.App.Name, Resources: make([]string, 0, len(a.Resources))}
		for _, r := range a.Resources {
			ja.Resources = append(ja.Resources, r.ResourceUUID)
		}
		out = append(out, ja)
	}
	return out
}

func toJSONDashboard(d hp.Dashboard, s summary) jsonDashboard {
	out := jsonDashboard{Pipelines: []jsonPipeline{}, NoPipeline: toJSONApps(d.NoPipeline), Failed: []jsonResource{}, Summary: s}
	for _, p := range d.Pipelines {
		jp := jsonPipeline{ID: p.Pipeline.ID.String(), Name: p.Pipeline.Name, Stages: []jsonStage{}}
		for _, st := range p.Stages {
			jp.Stages = append(jp.Stages, jsonStage{Stage: string(st.Stage), Apps: toJSONApps(st.Apps)})
		}
		out.Pipelines = append(out.Pipelines, jp)
	}
	for _, r := range d.Failed {
		out.Failed = append(out.Failed, toJSON(r))
	}
	return out
}

func (g *groupWriter) finish(s summary) error {
	d := hp.GroupByPipeline(g.results)
	if g.json {
		b, err := marshalSafe(toJSONDashboard(d, s), "", "  ")
		if err != nil {
			return err
		}
		_, err = g.w.Write(append(b, '\n'))
		return err
	}
	rows := [][]string{{"PIPELINE", "STAGE", "APP", "RESOURCES"}}
	appRow := func(pipeline, stage string, a hp.AppGroup) []string {
		ids := make([]string, len(a.Resources))
		for i, r := range a.Resources {
			ids[i] = r.ResourceUUID
		}
		return []string{pipeline, stage, cell(cmp.Or(a.App.Name, a.App.ID.String())), strings.Join(ids, ",")}
	}
	for _, p := range d.Pipelines {
		name := cell(cmp.Or(p.Pipeline.Name, p.Pipeline.ID.String()))
		for _, st := range p.Stages {
			for _, a := range st.Apps {
				rows = append(rows, appRow(name, cell(string(st.Stage)), a))
			}
		}
	}
	for _, a := range d.NoPipeline {
		rows = append(rows, appRow("-", "-", a))
	}
	var widths []int
	if err := writeRows(g.w, &widths, rows); err != nil {
		return err
	}
	if len(d.Failed) > 0 {
		_, err := fmt.Fprintf(g.w, "\n%d failed: see standard error\n", len(d.Failed))
		return err
	}
	return nil
}
