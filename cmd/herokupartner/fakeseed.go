package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// fakeSeed is the --seed file: apps, each optionally in a pipeline at a
// stage and carrying add-ons of the given plans. Pipelines are created on
// first mention.
type fakeSeed struct {
	Apps []struct {
		Name     string   `json:"name"`
		Pipeline string   `json:"pipeline"`
		Stage    hp.Stage `json:"stage"`
		Addons   []string `json:"addons"`
	} `json:"apps"`
}

// maxSeed bounds the seed file: a seed is a handful of records.
const maxSeed = 1 << 20

func readSeed(name string) (*fakeSeed, error) {
	s := &fakeSeed{}
	if name == "" {
		return s, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--seed: cannot open the file")
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, maxSeed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("--seed: not a seed document ({\"apps\": [...]}) or over 1 MiB")
	}
	for i, a := range s.Apps {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("--seed: apps[%d] has no name", i)
		case (a.Pipeline == "") != (a.Stage == ""):
			return nil, fmt.Errorf("--seed: apps[%d] needs both pipeline and stage, or neither", i)
		}
		for j, p := range a.Addons {
			if p == "" {
				return nil, fmt.Errorf("--seed: apps[%d].addons[%d] is an empty plan", i, j)
			}
		}
	}
	return s, nil
}

// apply creates the seed's records on the fake and prints their ids as
// comment lines, so the output stays sourceable by a shell.
func (s *fakeSeed) apply(fake *herokupartnertest.Server, w io.Writer) error {
	pipelines := map[string]*hp.Pipeline{}
	for _, a := range s.Apps {
		app := fake.AddApp(a.Name)
		line := fmt.Sprintf("# app %s %s", app.ID, a.Name)
		if a.Pipeline != "" {
			p := pipelines[a.Pipeline]
			if p == nil {
				p = fake.AddPipeline(a.Pipeline)
				pipelines[a.Pipeline] = p
			}
			if fake.Couple(app.ID, p.ID, a.Stage) == nil {
				return fmt.Errorf("--seed: coupling app %s failed", app.ID) // unreachable: both were just made
			}
			line += fmt.Sprintf(" pipeline %s %s stage %s", p.ID, p.Name, a.Stage)
		}
		fmt.Fprintln(w, line)
		for _, plan := range a.Addons {
			addon := fake.AddAddon(app.ID, plan)
			if addon == nil {
				return fmt.Errorf("--seed: adding an add-on to app %s failed", app.ID) // unreachable
			}
			fmt.Fprintf(w, "# addon %s %s plan %s app %s\n", addon.ID, addon.Name, addon.Plan.Name, app.ID)
		}
	}
	return nil
}
