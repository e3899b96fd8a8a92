package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// demoStep is one change a customer (or Heroku) makes to the fleet; it
// returns what it did, for the terminal.
type demoStep func(ctx context.Context, f *fleet) (string, error)

// demoScript moves acme's fleet around and back, so the demo can loop for
// ever. Renames and the destroyed add-on reach the page through Heroku's
// webhooks at once; promotions and pipeline moves send no webhook, so they
// show once the tracker's refresher reads the coupling again (within
// seconds at the demo's budget). Each move is undone half a loop later,
// long after the refresher has seen it.
var demoScript = []demoStep{
	func(_ context.Context, f *fleet) (string, error) {
		f.rename("acme-shop-pr-1412", "acme-shop-pr-1413")
		return "renamed acme-shop-pr-1412 to acme-shop-pr-1413 (webhook)", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-shop-staging", "acme-shop", hp.StageProduction)
		return "promoted acme-shop-staging to production (no webhook: the refresher finds it)", nil
	},
	func(ctx context.Context, f *fleet) (string, error) {
		a, err := f.deprovision(ctx, "acme-shop")
		if err != nil {
			return "", err
		}
		return "destroyed " + a.Name + " on acme-shop (webhook)", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-scratch", "acme-api", hp.StageDevelopment)
		return "acme-scratch joined pipeline acme-api at development", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.rename("acme-shop-pr-1412", "acme-shop-pr-1412")
		return "renamed acme-shop-pr-1413 back to acme-shop-pr-1412 (webhook)", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-shop-staging", "acme-shop", hp.StageStaging)
		return "moved acme-shop-staging back to staging", nil
	},
	func(ctx context.Context, f *fleet) (string, error) {
		a, err := f.provision(ctx, "acme-shop", "basic")
		if err != nil {
			return "", err
		}
		return "provisioned " + a.Name + " on acme-shop (tracked at once, read first)", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.couple("acme-scratch", "", "")
		return "acme-scratch left its pipeline", nil
	},
	func(_ context.Context, f *fleet) (string, error) {
		f.outage()
		return "Heroku answers the next coupling read 503 (the page shows the failure until the next read)", nil
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

// outage makes Heroku fail the next coupling read, retries included: the
// tracker keeps the resource's last resolution and records LastError,
// which the page shows with the request id until a read succeeds.
func (f *fleet) outage() {
	f.srv.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Status: http.StatusServiceUnavailable, Times: outageAnswers})
}

// outageAnswers covers a read and the fake client's three retries.
const outageAnswers = 4
