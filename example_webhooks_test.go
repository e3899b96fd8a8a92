package herokupartner_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/addonkit/herokupartner"
)

func ExampleNewWebhookReceiver() {
	receiver, err := herokupartner.NewWebhookReceiver(herokupartner.WebhookReceiverConfig{
		// The secret given to (or returned by) SubscribeAddonWebhooks; during
		// a rotation, list the old and the new one.
		Secrets:       []herokupartner.Secret{herokupartner.NewSecret("whsec-from-your-store")},
		Authorization: herokupartner.NewSecret("Bearer from-your-store"),
		OnEvent: func(ctx context.Context, ev *herokupartner.WebhookEvent) error {
			switch {
			case ev.App != nil && ev.Changed("name"):
				fmt.Printf("app %s renamed from %s\n", ev.App.Name, ev.PreviousApp.Name)
			case ev.Addon != nil && ev.Action == herokupartner.WebhookActionDestroy:
				fmt.Printf("add-on %s destroyed\n", ev.Addon.ID)
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// http.Handle("/heroku/webhooks", receiver) in a real backend; here,
	// a delivery signed as Heroku signs it.
	body := []byte(`{"id":"5e7d1f6c-8f2a-4c1e-9b53-2f0d6a1c9e01","action":"update","resource":"app",
		"data":{"id":"d4710f2e-3c1b-4a8e-b7f4-5e2a9c0d1b33","name":"shop-prod"},
		"previous_data":{"name":"shop-staging"},"created_at":"` + time.Now().UTC().Format(time.RFC3339) + `",
		"webhook_metadata":{"event":{"id":"5e7d1f6c-8f2a-4c1e-9b53-2f0d6a1c9e01","include":"api:app"}}}`)
	mac := hmac.New(sha256.New, []byte("whsec-from-your-store"))
	mac.Write(body)
	req := httptest.NewRequest(http.MethodPost, "/heroku/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer from-your-store")
	req.Header.Set("Heroku-Webhook-Hmac-SHA256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	receiver.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// app shop-prod renamed from shop-staging
	// 204
}
