package herokupartner_test

import (
	"context"
	"fmt"
	"log"
	"sort"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// A Tracker keeps a fleet's pipeline map current and reports each change,
// here against the fake with resources whose tokens a TokenManager holds.
func ExampleTracker() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Name: "shop-staging", Pipeline: "shop", Stage: herokupartner.StageStaging},
		{Name: "shop-prod", Pipeline: "shop", Stage: herokupartner.StageProduction},
	}})
	ctx := context.Background()
	tokens, err := herokupartner.NewTokenManager(fake.TokenManagerConfig())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range seeded.Resources { // what provisioning does
		code, expires := fake.IssueGrant(r.Addon.ID)
		grant := herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"}
		if _, err := tokens.Exchange(ctx, r.Addon.ID.String(), grant); err != nil {
			log.Fatal(err)
		}
	}
	base, err := herokupartner.NewClient(fake.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}

	changes := make(chan herokupartner.Change, 16)
	tracker, err := herokupartner.NewTracker(herokupartner.TrackerConfig{
		ClientFor: func(_ context.Context, id string) (*herokupartner.Client, error) {
			return base.ForResource(tokens, id)
		},
		Budget:   6000, // requests a minute; the default, 20, leaves most of Heroku's refill to you
		OnChange: func(c herokupartner.Change) { changes <- c },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range seeded.Resources {
		if err := tracker.Track(ctx, r.Addon.ID.String()); err != nil {
			log.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- tracker.Run(runCtx) }()

	describe := func(c herokupartner.Change) string {
		res := c.After.Resolution
		return fmt.Sprintf("%s: %s in %s/%s", c.Kind, res.App.Name, res.Pipeline.Name, res.Stage)
	}
	var added []string
	for range seeded.Resources {
		added = append(added, describe(<-changes))
	}
	sort.Strings(added) // the refresher's order is the resources' ids
	for _, line := range added {
		fmt.Println(line)
	}

	// What a webhook receiver's OnEvent does on an app rename.
	if err := tracker.AppRenamed(ctx, seeded.Resources[1].App.ID.String(), "shop-live"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(describe(<-changes))
	stop()
	<-done
	// Output:
	// added: shop-prod in shop/production
	// added: shop-staging in shop/staging
	// app_renamed: shop-live in shop/production
}
