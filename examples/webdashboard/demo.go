package main

import (
	"context"
	"fmt"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// demoStep is one change a customer (or Heroku) makes to the fleet; it
// returns what it did, for the terminal.
type demoStep func(ctx context.Context, f *fleet) (string, error)

// demoScript moves acme's fleet around and back, so the demo can loop for
// ever: a promotion, an app joining and leaving a pipeline, an add-on
// deprovisioned and a new one provisioned.
//
// Renaming an app needs the fake's RenameApp, which is not on main yet;
// once it is, add a step like
//
//	func(ctx context.Context, f *fleet) (string, error) {
//		f.srv.RenameApp(f.apps["acme-shop-pr-1412"].ID, "acme-shop-pr-1413")
//		return "renamed acme-shop-pr-1412 to acme-shop-pr-1413", nil
//	}
//
// (and one renaming it back), and let deprovision call f.srv.DestroyAddon.
var demoScript = []demoStep{
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-shop-staging", "acme-shop", hp.StageProduction)
		return "promoted acme-shop-staging to production", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-scratch", "acme-api", hp.StageDevelopment)
		return "acme-scratch joined pipeline acme-api at development", nil
	},
	func(ctx context.Context, f *fleet) (string, error) {
		a, err := f.deprovision(ctx, "acme-shop")
		if err != nil {
			return "", err
		}
		return "deprovisioned " + a.Name + " from acme-shop", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-shop-staging", "acme-shop", hp.StageStaging)
		return "moved acme-shop-staging back to staging", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-scratch", "", "")
		return "acme-scratch left its pipeline", nil
	},
	func(ctx context.Context, f *fleet) (string, error) {
		a, err := f.provision(ctx, "acme-shop", "basic")
		if err != nil {
			return "", err
		}
		return "provisioned " + a.Name + " on acme-shop", nil
	},
}

// runDemo plays demoScript, one step every interval, until ctx ends,
// reporting each step through say.
func runDemo(ctx context.Context, f *fleet, every time.Duration, say func(string)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		what, err := demoScript[i%len(demoScript)](ctx, f)
		if err != nil {
			if ctx.Err() == nil {
				say(fmt.Sprintf("demo step failed: %v", err))
			}
			continue
		}
		say(what)
	}
}
