package herokupartnertest_test

import (
	"context"
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
