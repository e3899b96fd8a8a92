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

// world is the partner's customers: pipelines with their stages (one
// stage Heroku may add later, "canary"), apps with several of our add-ons,
// apps in no pipeline, and a customer who revoked our access.
var world = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: hp.StageProduction, Plans: []string{"basic", "basic"}},
	{Customer: "acme", Name: "acme-shop-eu", Pipeline: "acme-shop", Stage: hp.StageProduction},
	{Customer: "acme", Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: hp.StageStaging},
	{Customer: "acme", Name: "acme-shop-pr-1412", Pipeline: "acme-shop", Stage: hp.StageReview},
	{Customer: "acme", Name: "acme-shop-dev", Pipeline: "acme-shop", Stage: hp.StageDevelopment},
	{Customer: "globex", Name: "globex-api", Pipeline: "globex-api", Stage: hp.StageProduction},
	{Customer: "globex", Name: "globex-api-staging", Pipeline: "globex-api", Stage: hp.StageStaging},
	{Customer: "globex", Name: "globex-api-ci", Pipeline: "globex-api", Stage: hp.StageTest},
	{Customer: "hooli", Name: "hooli-web", Pipeline: "hooli-web", Stage: hp.StageProduction},
	{Customer: "hooli", Name: "hooli-web-staging", Pipeline: "hooli-web", Stage: hp.StageStaging},
	{Customer: "piper", Name: "pied-piper-web", Pipeline: "piper", Stage: hp.StageProduction},
	{Customer: "piper", Name: "pied-piper-canary", Pipeline: "piper", Stage: "canary"},
	{Customer: "initech", Name: "initech-scratch"},
	{Customer: "initech", Name: "initech-reports"},
	{Customer: "umbrella", Name: "umbrella-legacy", Pipeline: "umbrella", Stage: hp.StageProduction, Revoked: true},
}}

// run seeds the fake, resolves every resource and writes the dashboard.
func run(ctx context.Context, w io.Writer) error {
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	base, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(srv.HTTPClient()), hp.WithUserAgent("dashboard-example"))
	if err != nil {
		return err
	}

	// A partner keeps one token per resource; here the fake issues them.
	seeded := srv.Seed(world)
	var items []hp.BatchItem
	label := map[string]string{} // resource uuid -> what to call it when it fails
	for _, r := range seeded.Resources {
		id := r.Addon.ID.String()
		items = append(items, hp.BatchItem{ResourceUUID: id, Client: base.WithToken(r.Token.Reveal())})
		label[id] = r.Addon.Name + " on " + r.App.Name
	}

	cache := hp.NewMemoryCache(0)
	opts := []hp.BatchOption{hp.BatchConcurrency(8), hp.BatchCache(cache, hp.CachePolicy{})}
	results := base.ResolvePipelines(ctx, items, opts...)
	cold := srv.RequestCount()
	srv.ResetRequests()
	// The page is refreshed: the cache answers everything that resolved.
	base.ResolvePipelines(ctx, items, opts...)
	warm := srv.RequestCount()

	d := hp.GroupByPipeline(results)
	fmt.Fprintf(w, "%d add-on resources of %d customers: %d requests, %d on a refresh with a warm cache\n",
		len(items), seeded.Customers, cold, warm)
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
