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

// demoWorld is what --demo resolves: three customers, two pipelines with
// their stages, and an app in no pipeline.
var demoWorld = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Customer: "acme", Name: "acme-shop-pr-1412", Pipeline: "acme-shop", Stage: hp.StageReview},
	{Customer: "acme", Name: "acme-shop-dev", Pipeline: "acme-shop", Stage: hp.StageDevelopment},
	{Customer: "acme", Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: hp.StageStaging},
	{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: hp.StageProduction},
	{Customer: "globex", Name: "globex-api-staging", Pipeline: "globex-api", Stage: hp.StageStaging},
	{Customer: "globex", Name: "globex-api", Pipeline: "globex-api", Stage: hp.StageProduction},
	{Customer: "globex", Name: "globex-api-eu", Pipeline: "globex-api", Stage: hp.StageProduction},
	{Customer: "initech", Name: "initech-scratch"},
}}

// startDemo starts the fake and seeds it; the caller closes it.
func startDemo() *demo {
	srv := herokupartnertest.NewServer()
	seeded := srv.Seed(demoWorld)
	d := &demo{srv: srv, customers: seeded.Customers}
	for _, r := range seeded.Resources {
		d.entries = append(d.entries, entry{uuid: r.Addon.ID.String(), token: r.Token.Reveal(), where: "demo " + r.App.Name})
	}
	// Production retries and timeouts, only the address is the fake's:
	// the demo shows the CLI as it runs against Heroku.
	c, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(srv.HTTPClient()), hp.WithUserAgent("herokupartner-cli-demo"))
	if err != nil {
		// Unreachable: the fake's URL is a loopback http address.
		panic("demo client: " + err.Error())
	}
	d.client = c
	return d
}

func (d *demo) close() { d.srv.Close() }
