package main

import (
	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// demo is a fake Platform API seeded with a few customers' apps, each app
// with one of our add-ons and its own token, as Heroku would grant them.
type demo struct {
	srv       *herokupartnertest.Server
	client    *hp.Client
	entries   []entry
	customers int
}

type demoApp struct {
	name  string
	stage hp.Stage // "" = in no pipeline
}

type demoCustomer struct {
	pipeline string // "" = no pipeline
	apps     []demoApp
}

var demoCustomers = []demoCustomer{
	{pipeline: "acme-shop", apps: []demoApp{
		{"acme-shop-pr-1412", hp.StageReview},
		{"acme-shop-dev", hp.StageDevelopment},
		{"acme-shop-staging", hp.StageStaging},
		{"acme-shop", hp.StageProduction},
	}},
	{pipeline: "globex-api", apps: []demoApp{
		{"globex-api-staging", hp.StageStaging},
		{"globex-api", hp.StageProduction},
		{"globex-api-eu", hp.StageProduction},
	}},
	{apps: []demoApp{{"initech-scratch", ""}}},
}

// startDemo starts the fake and seeds it; the caller closes it.
func startDemo() *demo {
	srv := herokupartnertest.NewServer()
	d := &demo{srv: srv, customers: len(demoCustomers)}
	for _, c := range demoCustomers {
		var pipeline *hp.Pipeline
		if c.pipeline != "" {
			pipeline = srv.AddPipeline(c.pipeline)
		}
		for _, a := range c.apps {
			app := srv.AddApp(a.name)
			if pipeline != nil && a.stage != "" {
				srv.Couple(app.ID, pipeline.ID, a.stage)
			}
			addon := srv.AddAddon(app.ID, "basic")
			d.entries = append(d.entries, entry{uuid: addon.ID.String(), token: srv.IssueToken(addon.ID), where: "demo " + a.name})
		}
	}
	c, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(srv.HTTPClient()), hp.WithUserAgent("herokupartner-cli-demo"))
	if err != nil {
		// Unreachable: the fake's URL is a loopback http address.
		panic("demo client: " + err.Error())
	}
	d.client = c
	return d
}

func (d *demo) close() { d.srv.Close() }
