package herokupartnertest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// stageHandler is a partner's own code under test: it tells which pipeline
// stage the add-on resource named in the path belongs to, using the token
// tokenFor gives for it.
func stageHandler(api *herokupartner.Client, tokenFor func(resource string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		res, err := api.WithToken(tokenFor(id)).ResolvePipeline(r.Context(), id)
		switch {
		case err != nil:
			http.Error(w, "lookup failed", http.StatusBadGateway)
		case !res.InPipeline():
			fmt.Fprintf(w, "%s: no pipeline\n", res.App.Name)
		default:
			fmt.Fprintf(w, "%s: %s/%s\n", res.App.Name, res.Pipeline.Name, res.Stage)
		}
	})
}

// A partner tests a handler that resolves pipelines without reaching Heroku.
func Example() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	app := fake.AddApp("shop-staging")
	pipe := fake.AddPipeline("shop")
	fake.Couple(app.ID, pipe.ID, herokupartner.StageStaging)
	addon := fake.AddAddon(app.ID, "basic")
	token := fake.IssueToken(addon.ID)

	mux := http.NewServeMux()
	mux.Handle("GET /resources/{id}/stage", stageHandler(fake.Client(""), func(string) string { return token }))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/resources/"+addon.ID.String()+"/stage", nil))

	fmt.Print(rec.Code, " ", rec.Body.String())
	fmt.Println(len(fake.Requests()), "API requests")
	// Output:
	// 200 shop-staging: shop/staging
	// 3 API requests
}

// Scripted faults show how code copes with Heroku having a bad moment; the
// request log shows what was sent.
func ExampleServer_Fail() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon := fake.AddAddon(fake.AddApp("shop").ID, "basic")

	fake.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Times: 2, Status: http.StatusServiceUnavailable})
	got, err := fake.Client(fake.IssueToken(addon.ID)).GetAddon(context.Background(), addon.ID.String())
	fmt.Println(got.Name == addon.Name, err)
	for _, r := range fake.Requests() {
		fmt.Println(r.Method, r.Route, r.Status, r.Header.Get("Authorization"))
	}
	// Output:
	// true <nil>
	// GET addon 503 Bearer [redacted]
	// GET addon 503 Bearer [redacted]
	// GET addon 200 Bearer [redacted]
}

// A test wires a TokenManager and a client to the fake with
// TokenManagerConfig and ClientOptions, then runs the provisioning flow:
// exchange the grant, call the API, refresh when the access token expires.
func ExampleServer_TokenManagerConfig() {
	ctx := context.Background()
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon := fake.AddAddon(fake.AddApp("shop").ID, "basic")
	id := addon.ID.String()

	tokens, err := herokupartner.NewTokenManager(fake.TokenManagerConfig())
	if err != nil {
		panic(err)
	}
	// The grant a provisioning request would carry.
	code, expires := fake.IssueGrant(addon.ID)
	grant := herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expires, Type: "authorization_code"}
	if _, err := tokens.Exchange(ctx, id, grant); err != nil {
		panic(err)
	}

	base, err := herokupartner.NewClient(fake.ClientOptions()...)
	if err != nil {
		panic(err)
	}
	client, err := base.ForResource(tokens, id)
	if err != nil {
		panic(err)
	}
	got, err := client.GetAddon(ctx, id)
	fmt.Println(got.Name == addon.Name, err)

	fake.ExpireAccessTokens(addon.ID)
	_, err = client.GetAddon(ctx, id)
	fmt.Println(err)
	for _, r := range fake.Requests() {
		line := fmt.Sprint(r.Method, " ", r.Route, " ", r.Status)
		if r.Route == herokupartnertest.RouteToken {
			line += " " + r.Form.Get("grant_type")
		}
		fmt.Println(line)
	}
	// Output:
	// true <nil>
	// <nil>
	// POST token 200 authorization_code
	// GET addon 200
	// GET addon 401
	// POST token 200 refresh_token
	// GET addon 200
}

// Seed builds a small world of customers in one call; each add-on comes
// with its own token, as Heroku grants them.
func ExampleServer_Seed() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
		{Customer: "acme", Name: "shop", Pipeline: "shop", Stage: herokupartner.StageProduction, Plans: []string{"premium", "basic"}},
		{Customer: "acme", Name: "shop-staging", Pipeline: "shop", Stage: herokupartner.StageStaging},
		{Customer: "initech", Name: "reports"},
		{Customer: "umbrella", Name: "legacy", Revoked: true},
	}})

	ctx := context.Background()
	for _, r := range seeded.Resources {
		res, err := fake.Client(r.Token.Reveal()).ResolvePipeline(ctx, r.Addon.ID.String())
		switch {
		case errors.Is(err, herokupartner.ErrUnauthorized):
			fmt.Println(r.App.Name, "refused")
		case err != nil:
			fmt.Println(r.App.Name, err)
		case !res.InPipeline():
			fmt.Println(r.App.Name, r.Addon.Plan.Name, "no pipeline")
		default:
			fmt.Println(r.App.Name, r.Addon.Plan.Name, res.Pipeline.Name, res.Stage)
		}
	}
	fmt.Println(seeded.Customers, "customers,", fake.RequestCount(), "requests")
	// Output:
	// shop acme-metrics:premium shop production
	// shop acme-metrics:basic shop production
	// shop-staging acme-metrics:basic shop staging
	// reports acme-metrics:basic no pipeline
	// legacy refused
	// 3 customers, 12 requests
}
