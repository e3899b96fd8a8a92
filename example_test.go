package herokupartner_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func ExampleNewClient() {
	// One base client for the whole backend: it holds the connection pool
	// and settings. Derive a client per add-on resource with WithToken.
	client, err := herokupartner.NewClient(
		herokupartner.WithUserAgent("acme-addon/1.0"),
		herokupartner.WithRetry(herokupartner.RetryPolicy{MaxRetries: 2}),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.BaseURL())

	_, err = herokupartner.NewClient(herokupartner.WithBaseURL("http://api.heroku.com"))
	fmt.Println(err != nil)
	// Output:
	// https://api.heroku.com
	// true
}

func ExampleClient_GetAddon() {
	// The fake Platform API stands in for api.heroku.com here.
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	app := fake.AddApp("acme-web")
	addon := fake.AddAddon(app.ID, "basic")
	client := fake.Client(fake.IssueToken(addon.ID))

	a, err := client.GetAddon(context.Background(), addon.ID.String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.App.Name, a.State)

	_, err = client.GetAddon(context.Background(), "acme-web")
	fmt.Println(errors.Is(err, herokupartner.ErrInvalidID))
	// Output:
	// acme-web provisioning
	// true
}

func ExampleClient_ResolvePipeline() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	web, legacy := fake.AddApp("acme-web"), fake.AddApp("acme-legacy")
	shop := fake.AddPipeline("acme-shop")
	fake.Couple(web.ID, shop.ID, herokupartner.StageStaging)

	for _, app := range []herokupartner.Ref{web, legacy} {
		addon := fake.AddAddon(app.ID, "basic")
		client := fake.Client(fake.IssueToken(addon.ID))
		res, err := client.ResolvePipeline(context.Background(), addon.ID.String())
		switch {
		case err != nil:
			fmt.Println("error:", err)
		case !res.InPipeline():
			fmt.Printf("%s: no pipeline\n", res.App.Name)
		default:
			fmt.Printf("%s: %s at %s\n", res.App.Name, res.Pipeline.Name, res.Stage)
		}
	}
	// Output:
	// acme-web: acme-shop at staging
	// acme-legacy: no pipeline
}

// Tag your metrics with the stage: one Resolver per process answers
// "which stage is this resource's app in?" for every metric, from memory
// once warm.
func ExampleResolver_tagYourMetricsWithTheStage() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	ctx := context.Background()
	shop := fake.AddPipeline("acme-shop")
	web := fake.AddApp("acme-web")
	fake.Couple(web.ID, shop.ID, herokupartner.StageProduction)
	addon := fake.AddAddon(web.ID, "basic")
	resource := addon.ID.String()

	// Provisioning exchanged the resource's grant; the fake issues one here.
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL(), HTTPClient: fake.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	code, expires := fake.IssueGrant(addon.ID)
	if _, err := tokens.Exchange(ctx, resource, herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expires}); err != nil {
		log.Fatal(err)
	}
	fake.ResetRequests()

	base := fake.Client("") // in production: herokupartner.NewClient(...)
	var stages herokupartner.Resolver
	stageOf := func(ctx context.Context, resource string) string {
		client, err := base.ForResource(tokens, resource) // bound to the resource: cache hits allowed
		if err != nil {
			return "unknown"
		}
		stage, err := stages.Stage(ctx, client, resource)
		switch {
		case err != nil:
			return "unknown" // a revoked grant is remembered: no request per metric
		case stage == "":
			return "none"
		}
		return string(stage)
	}

	for range 1000 {
		_ = stageOf(ctx, resource) // e.g. in the middleware tagging each request's metrics
	}
	fmt.Println("stage:", stageOf(ctx, resource))
	fmt.Println("API requests for 1,001 lookups:", len(fake.Requests()))
	// Output:
	// stage: production
	// API requests for 1,001 lookups: 3
}
