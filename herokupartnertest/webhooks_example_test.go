package herokupartnertest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/addonkit/herokupartner/herokupartnertest"
)

// A partner subscribes its resource to app events, the customer renames
// the app, and the partner's endpoint receives the signed update.
func ExampleServer_RenameApp() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	seeded := fake.Seed(herokupartnertest.World{Apps: []herokupartnertest.WorldApp{{Name: "shop-staging"}}})
	resource := seeded.Resources[0]

	const secret = "whsec-kept-by-the-partner"
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Verify before decoding: HMAC-SHA256 of the raw body, base64.
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get("Heroku-Webhook-Hmac-SHA256"))
		if !hmac.Equal(sig, mac.Sum(nil)) || r.Header.Get("Authorization") != "Bearer from-the-partner" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Action       string `json:"action"`
			Resource     string `json:"resource"`
			Data         struct{ Name string }
			PreviousData map[string]string `json:"previous_data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		fmt.Printf("%s %s: %s -> %s\n", ev.Resource, ev.Action, ev.PreviousData["name"], ev.Data.Name)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer endpoint.Close()

	// POST /addons/{id}/webhooks with the resource's own token.
	sub := `{"url":"` + endpoint.URL + `/heroku/` + resource.Addon.ID.String() + `","include":["api:app"],` +
		`"level":"sync","secret":"` + secret + `","authorization":"Bearer from-the-partner"}`
	req, _ := http.NewRequest(http.MethodPost, fake.URL+"/addons/"+resource.Addon.ID.String()+"/webhooks", strings.NewReader(sub))
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Authorization", "Bearer "+resource.Token.Reveal())
	resp, err := fake.HTTPClient().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("subscribed:", resp.Status)

	fake.RenameApp(resource.App.ID, "shop-prod")
	if err := fake.WaitForDeliveries(context.Background()); err != nil {
		log.Fatal(err)
	}
	d := fake.WebhookDeliveries()[0]
	fmt.Println(d.Include, d.Action, d.Status, len(d.Attempts), "attempt")
	// Output:
	// subscribed: 201 Created
	// app update: shop-staging -> shop-prod
	// api:app update succeeded 1 attempt
}
