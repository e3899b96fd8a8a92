// Command dashboard shows what a partner's dashboard built on this SDK
// looks like: it starts a fake Platform API, seeds several customers' apps
// with our add-on, resolves every resource in one batch, each with its own
// token, and prints them grouped by pipeline and stage.
//
//	go run ./examples/dashboard
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

type seedApp struct {
	name   string
	stage  hp.Stage // "" = in no pipeline
	addons int      // add-ons of ours on the app
}

type customer struct {
	pipeline string // "" = no pipeline
	apps     []seedApp
	revoked  bool // the customer's grants were revoked: resolving fails
}

var customers = []customer{
	{pipeline: "acme-shop", apps: []seedApp{
		{"acme-shop", hp.StageProduction, 2},
		{"acme-shop-eu", hp.StageProduction, 1},
		{"acme-shop-staging", hp.StageStaging, 1},
		{"acme-shop-pr-1412", hp.StageReview, 1},
		{"acme-shop-dev", hp.StageDevelopment, 1},
	}},
	{pipeline: "globex-api", apps: []seedApp{
		{"globex-api", hp.StageProduction, 1},
		{"globex-api-staging", hp.StageStaging, 1},
		{"globex-api-ci", hp.StageTest, 1},
	}},
	{pipeline: "hooli-web", apps: []seedApp{{"hooli-web", hp.StageProduction, 1}, {"hooli-web-staging", hp.StageStaging, 1}}},
	{pipeline: "piper", apps: []seedApp{{"pied-piper-web", hp.StageProduction, 1}, {"pied-piper-canary", "canary", 1}}},
	{apps: []seedApp{{"initech-scratch", "", 1}, {"initech-reports", "", 1}}},
	{pipeline: "umbrella", apps: []seedApp{{"umbrella-legacy", hp.StageProduction, 1}}, revoked: true},
}

// run seeds the fake, resolves every resource and writes the dashboard.
func run(ctx context.Context, w io.Writer) error {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	base, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(srv.HTTPClient()), hp.WithUserAgent("dashboard-example"))
	if err != nil {
		return err
	}

	// A partner keeps one token per resource; here the fake issues them.
	var items []hp.BatchItem
	label := map[string]string{} // resource uuid -> what to call it when it fails
	for _, c := range customers {
		var pipeline *hp.Pipeline
		if c.pipeline != "" {
			pipeline = srv.AddPipeline(c.pipeline)
		}
		for _, a := range c.apps {
			app := srv.AddApp(a.name)
			if pipeline != nil && a.stage != "" {
				srv.Couple(app.ID, pipeline.ID, a.stage)
			}
			for range a.addons {
				addon := srv.AddAddon(app.ID, "basic")
				token := srv.IssueToken(addon.ID)
				if c.revoked {
					srv.RevokeGrant(addon.ID)
				}
				items = append(items, hp.BatchItem{ResourceUUID: addon.ID.String(), Client: base.WithToken(token)})
				label[addon.ID.String()] = addon.Name + " on " + a.name
			}
		}
	}

	cache := hp.NewMemoryCache(0)
	opts := []hp.BatchOption{hp.WithConcurrency(8), hp.WithCache(cache, hp.CachePolicy{})}
	results := base.ResolvePipelines(ctx, items, opts...)
	cold := len(srv.Requests())
	srv.ResetRequests()
	// The page is refreshed: the cache answers everything that resolved.
	base.ResolvePipelines(ctx, items, opts...)
	warm := len(srv.Requests())

	d := hp.GroupByPipeline(results)
	fmt.Fprintf(w, "%d add-on resources of %d customers: %d requests, %d on a refresh with a warm cache\n",
		len(items), len(customers), cold, warm)
	for _, p := range d.Pipelines {
		fmt.Fprintf(w, "\n%s\n", p.Pipeline.Name)
		for _, s := range p.Stages {
			fmt.Fprintf(w, "  %-12s %s\n", s.Stage, appList(s.Apps))
		}
	}
	if len(d.NoPipeline) > 0 {
		fmt.Fprintf(w, "\nin no pipeline\n  %s\n", appList(d.NoPipeline))
	}
	if len(d.Failed) > 0 {
		fmt.Fprintln(w, "\nfailed")
		for _, r := range d.Failed {
			fmt.Fprintf(w, "  %s: %s\n", label[r.ResourceUUID], reason(r.Err))
		}
	}
	return nil
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

// reason says what a partner would do about a failure.
func reason(err error) string {
	switch {
	case errors.Is(err, hp.ErrUnauthorized):
		return "token refused (grant revoked?): re-authorize or deprovision"
	case errors.Is(err, hp.ErrNotFound):
		return "add-on gone: deprovisioned?"
	case errors.Is(err, hp.ErrRateLimited):
		return "rate limited: try later"
	}
	return err.Error()
}
