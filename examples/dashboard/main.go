// Command dashboard shows a live dashboard built on this SDK: it seeds a
// fake Platform API with several customers' apps carrying our add-on,
// subscribes each resource to its add-on webhooks, and runs a Tracker
// over them. Then the customers change things: an app is renamed (a
// webhook tells the tracker at once), an app is promoted to production
// (Heroku sends nothing; the tracker's refresher finds it within its
// request budget) and an add-on is removed (a webhook again). It prints
// each webhook and change as it arrives, and the fleet grouped by
// pipeline and stage after each step.
//
// Every clock (the fake's, the tracker's, the receiver's) is one virtual
// clock that moves only while the refresher waits for its budget, so the
// run takes a fraction of a second and prints the same every time.
//
//	go run ./examples/dashboard
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// budget is the refresher's requests a minute: more than the default 20,
// so that this small fleet's pass is quick to follow.
const budget = 60

// world is the partner's customers: pipelines with their stages (one
// stage Heroku may add later, "canary"), an app with two of our add-ons,
// and apps in no pipeline.
var world = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: hp.StageProduction, Plans: []string{"basic", "basic"}},
	{Customer: "acme", Name: "acme-shop-staging", Pipeline: "acme-shop", Stage: hp.StageStaging},
	{Customer: "acme", Name: "acme-shop-pr-1412", Pipeline: "acme-shop", Stage: hp.StageReview},
	{Customer: "globex", Name: "globex-api", Pipeline: "globex-api", Stage: hp.StageProduction},
	{Customer: "globex", Name: "globex-api-staging", Pipeline: "globex-api", Stage: hp.StageStaging},
	{Customer: "piper", Name: "pied-piper-web", Pipeline: "piper", Stage: hp.StageProduction},
	{Customer: "piper", Name: "pied-piper-canary", Pipeline: "piper", Stage: "canary"},
	{Customer: "initech", Name: "initech-reports"},
	{Customer: "initech", Name: "initech-scratch"},
}}

// dashboard is the running demo: the fake, its clock, the tracker and the
// screen.
type dashboard struct {
	clock   *virtualClock
	fake    *herokupartnertest.Server
	seeded  *herokupartnertest.Seeded
	tracker *hp.Tracker
	screen  *screen
}

// run seeds the fake, tracks every resource, and plays the customers'
// changes, writing the dashboard to w.
func run(ctx context.Context, w io.Writer) error {
	d := &dashboard{clock: newVirtualClock(), screen: &screen{w: w}}
	d.fake = herokupartnertest.NewServer(herokupartnertest.WithClock(d.clock.Now))
	defer d.fake.Close()
	base, err := hp.NewClient(append(d.fake.ClientOptions(), hp.WithUserAgent("dashboard-example"))...)
	if err != nil {
		return err
	}
	// A partner keeps one token per resource; here the fake issues them.
	d.seeded = d.fake.Seed(world)
	clients := map[string]*hp.Client{}
	for _, r := range d.seeded.Resources {
		clients[r.Addon.ID.String()] = base.WithToken(r.Token.Reveal())
	}
	clientOf := func(id string) *hp.Client { return clients[id] }

	d.tracker, err = hp.NewTracker(hp.TrackerConfig{
		ClientFor: func(_ context.Context, id string) (*hp.Client, error) {
			if cl := clientOf(id); cl != nil {
				return cl, nil
			}
			return nil, hp.ErrNoToken
		},
		Budget:   budget,
		OnChange: d.screen.change,
		Now:      d.clock.Now,
		Sleep:    d.clock.Sleep,
	})
	if err != nil {
		return err
	}
	// What provisioning does for each resource: subscribe it to its
	// webhooks, and track it.
	stop, err := subscribe(ctx, d.seeded.Resources, clientOf, d.clock.Now, func(ctx context.Context, ev *hp.WebhookEvent) error {
		d.screen.event(ev)
		return d.tracker.ApplyWebhook(ctx, ev)
	})
	if err != nil {
		return err
	}
	defer stop()
	for _, r := range d.seeded.Resources {
		if err := d.tracker.Track(ctx, r.Addon.ID.String()); err != nil {
			return err
		}
	}
	return d.play(ctx)
}

// play runs the first pass, then each customer's change.
func (d *dashboard) play(ctx context.Context) error {
	fr, err := d.tracker.Freshness(ctx)
	if err != nil {
		return err
	}
	d.screen.printf("%d add-on resources of %d customers, each subscribed to its webhooks and tracked;\n"+
		"refresher budget %d requests a minute, staleness bound %s.\n\n",
		len(d.seeded.Resources), d.seeded.Customers, fr.Budget, fr.Bound)

	sent := d.fake.RequestCount()
	d.screen.setQuiet(true)
	if err := d.clock.run(ctx, d.tracker, 30*time.Second); err != nil {
		return err
	}
	added := d.screen.setQuiet(false)
	d.screen.printf("%s first pass: %d x added, %d API requests\n", d.clock.Now().Format(time.TimeOnly), added, d.fake.RequestCount()-sent)
	if err := d.show(ctx); err != nil {
		return err
	}

	steps := []struct {
		title string
		act   func() error
	}{
		{"globex renames globex-api-staging to globex-api-qa", func() error {
			d.fake.RenameApp(d.resource("globex-api-staging").App.ID, "globex-api-qa")
			return d.fake.WaitForDeliveries(ctx)
		}},
		{"acme promotes acme-shop-staging to production", func() error {
			staging := d.resource("acme-shop-staging")
			d.fake.Couple(staging.App.ID, staging.Pipeline.ID, hp.StageProduction)
			if err := d.fake.WaitForDeliveries(ctx); err != nil {
				return err
			}
			d.screen.printf("  .. no webhook; the refresher's next pass asks each resource's coupling\n")
			return d.clock.run(ctx, d.tracker, time.Minute)
		}},
		{"initech removes our add-on from initech-scratch", func() error {
			d.fake.DestroyAddon(d.resource("initech-scratch").Addon.ID)
			return d.fake.WaitForDeliveries(ctx)
		}},
	}
	for _, s := range steps {
		d.screen.printf("%s %s\n", d.clock.Now().Format(time.TimeOnly), s.title)
		sent := d.fake.RequestCount()
		if err := s.act(); err != nil {
			return err
		}
		d.screen.printf("  %d API requests\n", d.fake.RequestCount()-sent)
		if err := d.show(ctx); err != nil {
			return err
		}
	}
	return nil
}

// resource returns the first resource seeded on the app named app.
func (d *dashboard) resource(app string) herokupartnertest.SeededResource {
	for _, r := range d.seeded.Resources {
		if r.App.Name == app {
			return r
		}
	}
	panic("dashboard: no app " + app + " in the world")
}

// show prints the tracker's map, grouped.
func (d *dashboard) show(ctx context.Context) error {
	entries, err := d.tracker.Resources(ctx)
	if err != nil {
		return fmt.Errorf("reading the tracker's map: %w", err)
	}
	d.screen.view(entries)
	return nil
}
