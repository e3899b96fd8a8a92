package main

import (
	"slices"
	"strings"
	"testing"
)

// stagesOf returns a pipeline's stage columns and each column's apps.
func stagesOf(t *testing.T, b boardView, pipeline string) ([]string, map[string][]string) {
	t.Helper()
	for _, p := range b.Pipelines {
		if p.Name != pipeline {
			continue
		}
		var names []string
		apps := map[string][]string{}
		for _, s := range p.Stages {
			names = append(names, s.Name)
			for _, a := range s.Apps {
				apps[s.Name] = append(apps[s.Name], a.Name)
			}
		}
		return names, apps
	}
	t.Fatalf("no pipeline %s on the board", pipeline)
	return nil, nil
}

func TestBoardLaysOutPipelinesLikeHeroku(t *testing.T) {
	e := newEnv(t, world)
	acme := buildBoard(mustSnapshot(t, e.src, "acme"))
	var pipes []string
	for _, p := range acme.Pipelines {
		pipes = append(pipes, p.Name)
	}
	if !slices.Equal(pipes, []string{"acme-api", "acme-shop"}) {
		t.Fatalf("acme's pipelines %v", pipes)
	}
	stages, apps := stagesOf(t, acme, "acme-shop")
	if want := []string{"development", "review", "staging", "production"}; !slices.Equal(stages, want) {
		t.Errorf("acme-shop's columns %v, want %v", stages, want)
	}
	if !slices.Equal(apps["production"], []string{"acme-shop"}) || !slices.Equal(apps["review"], []string{"acme-shop-pr-1412"}) {
		t.Errorf("acme-shop's apps by stage %v", apps)
	}
	// Staging and production show even when empty, as on Heroku.
	if stages, _ := stagesOf(t, acme, "acme-api"); !slices.Equal(stages, []string{"test", "staging", "production"}) {
		t.Errorf("acme-api's columns %v", stages)
	}
	var shop appView
	for _, a := range acme.Pipelines[1].Stages[3].Apps {
		shop = a
	}
	if len(shop.Resources) != 2 || shop.Resources[0].Plan != "premium" || shop.Resources[1].Plan != "basic" || shop.Resources[0].State != "provisioned" {
		t.Errorf("acme-shop's card %+v", shop)
	}
	if len(acme.Loose) != 1 || acme.Loose[0].Name != "acme-scratch" {
		t.Errorf("apps in no pipeline %+v", acme.Loose)
	}
	// acme-legacy's grant was revoked: the tracker dropped it, the
	// partner's records still list it.
	if len(acme.Failures) != 1 || !strings.Contains(acme.Failures[0].Reason, "revoked") {
		t.Errorf("failures %+v", acme.Failures)
	}

	// A stage Heroku may add later comes after production.
	if stages, _ := stagesOf(t, buildBoard(mustSnapshot(t, e.src, "piper")), "piper"); !slices.Equal(stages, []string{"staging", "production", "canary"}) {
		t.Errorf("piper's columns %v", stages)
	}
	if b := buildBoard(mustSnapshot(t, e.src, "initech")); len(b.Pipelines) != 0 || len(b.Loose) != 1 || b.Empty {
		t.Errorf("initech's board %+v", b)
	}
}
