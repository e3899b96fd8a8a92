// Command resolve shows what a partner backend does with the SDK: for each
// add-on resource, with that resource's own OAuth token, it finds the
// customer's app, the app's pipeline and its stage, and prints them grouped
// by pipeline.
//
// Without arguments it starts an in-process fake of the Platform API
// (package herokupartnertest), seeds a few customers' apps and resolves
// every add-on in it; no Heroku account is needed:
//
//	go run ./examples/resolve
//
// With HEROKU_PARTNER_TOKEN set to an add-on's access token it resolves the
// resource uuids given as arguments against the real API instead. A partner
// token reaches only its own resource, so give the uuid the token was
// issued for. HEROKU_API_URL overrides the API address.
//
//	HEROKU_PARTNER_TOKEN=... go run ./examples/resolve 01234567-89ab-cdef-0123-456789abcdef
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"text/tabwriter"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "resolve:", err)
		os.Exit(1)
	}
}

// resource is one add-on resource to resolve and the token that reaches it.
type resource struct {
	id    string
	token string
}

// run resolves against the fake when HEROKU_PARTNER_TOKEN is unset and
// against the API otherwise, writing the table to w.
func run(ctx context.Context, w io.Writer, args []string, getenv func(string) string) error {
	token := getenv("HEROKU_PARTNER_TOKEN")
	if token == "" {
		if len(args) > 0 {
			return errors.New("resource uuids given but HEROKU_PARTNER_TOKEN is not set; run without arguments for the demo")
		}
		return runFake(ctx, w)
	}
	if len(args) == 0 {
		return errors.New("HEROKU_PARTNER_TOKEN is set: give the add-on resource uuids to resolve as arguments")
	}
	var resources []resource
	for i, a := range args {
		// Checked before anything is sent; the value is not echoed in
		// case a token was pasted by mistake.
		if _, err := uuid.Parse(a); err != nil {
			return fmt.Errorf("argument %d is not a resource uuid", i+1)
		}
		resources = append(resources, resource{id: a, token: token})
	}
	base := getenv("HEROKU_API_URL")
	if base == "" {
		base = herokupartner.DefaultBaseURL
	}
	client, err := herokupartner.NewClient(
		herokupartner.WithBaseURL(base),
		herokupartner.WithUserAgent("herokupartner-resolve-example/"+herokupartner.Version),
	)
	if err != nil {
		return err
	}
	return resolveAll(ctx, w, client, resources)
}

// world is the demo's customers, seeded out of order as customers create
// things; the table sorts.
var world = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Name: "acme-shop", Pipeline: "acme-shop", Stage: herokupartner.StageProduction, Plans: []string{"premium", "basic"}},
	{Name: "globex-api", Pipeline: "globex-api", Stage: herokupartner.StageProduction, Plans: []string{"standard"}},
	{Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: herokupartner.StageStaging, Plans: []string{"basic"}},
	{Name: "umbrella-legacy", Plans: []string{"basic"}},
	{Name: "acme-shop-pr-1423", Pipeline: "acme-shop", Stage: herokupartner.StageReview, Plans: []string{"hobby"}},
	{Name: "globex-api-ci", Pipeline: "globex-api", Stage: herokupartner.StageTest, Plans: []string{"test"}},
	{Name: "initech-reports", Pipeline: "initech-reports", Stage: herokupartner.StageProduction, Plans: []string{"standard"}},
	{Name: "acme-shop-dev", Pipeline: "acme-shop", Stage: herokupartner.StageDevelopment, Plans: []string{"hobby"}},
	{Name: "globex-api-staging", Pipeline: "globex-api", Stage: herokupartner.StageStaging, Plans: []string{"basic"}},
}}

// runFake seeds the world in the fake and resolves every add-on in it.
func runFake(ctx context.Context, w io.Writer) error {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	var resources []resource
	for _, r := range fake.Seed(world).Resources {
		// Heroku grants one token per provisioned resource.
		resources = append(resources, resource{id: r.Addon.ID.String(), token: r.Token.Reveal()})
	}

	// A partner backend builds one client and derives a per-resource copy
	// for each token; only the base URL differs from production.
	client, err := herokupartner.NewClient(
		herokupartner.WithBaseURL(fake.URL),
		herokupartner.WithHTTPClient(fake.HTTPClient()),
		herokupartner.WithUserAgent("herokupartner-resolve-example/"+herokupartner.Version),
	)
	if err != nil {
		return err
	}
	if err := resolveAll(ctx, w, client, resources); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\n%d add-ons resolved with %d API requests against the in-process fake.\n",
		len(resources), fake.RequestCount())
	return err
}

// row is one resolved add-on.
type row struct {
	pipeline string // "" for an app in no pipeline
	stage    herokupartner.Stage
	app      string
	addon    string
	plan     string
}

// resolveAll resolves each resource with its own token and prints the
// table; failures are listed after it and make the result an error.
func resolveAll(ctx context.Context, w io.Writer, client *herokupartner.Client, resources []resource) error {
	var rows []row
	var failed []string
	for _, r := range resources {
		res, err := client.WithToken(r.token).ResolvePipeline(ctx, r.id)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", r.id, err))
			continue
		}
		rw := row{app: res.App.Name, addon: res.Addon.Name, plan: res.Addon.Plan.Name}
		if res.InPipeline() {
			rw.pipeline, rw.stage = res.Pipeline.Name, res.Stage
		}
		rows = append(rows, rw)
	}
	slices.SortFunc(rows, func(a, b row) int {
		if (a.pipeline == "") != (b.pipeline == "") {
			if a.pipeline == "" {
				return 1 // "(no pipeline)" goes last
			}
			return -1
		}
		return cmp.Or(
			cmp.Compare(a.pipeline, b.pipeline),
			herokupartner.CompareStages(a.stage, b.stage),
			cmp.Compare(a.app, b.app),
			cmp.Compare(a.addon, b.addon),
		)
	})

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tSTAGE\tAPP\tADD-ON\tPLAN")
	prev := "\x00"
	for _, r := range rows {
		group := r.pipeline
		if group == "" {
			group = "(no pipeline)"
		}
		label := group
		if group == prev {
			label = "" // the pipeline is named once per group
		}
		prev = group
		stage := string(r.stage)
		if stage == "" {
			stage = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", label, stage, r.app, r.addon, r.plan)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\n%d of %d resources failed:\n", len(failed), len(resources))
		for _, f := range failed {
			fmt.Fprintln(w, "  "+f)
		}
		return fmt.Errorf("%d of %d resources could not be resolved", len(failed), len(resources))
	}
	return nil
}
