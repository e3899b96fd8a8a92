package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// webhookEndpoint is where Heroku (here the fake) delivers each resource's
// webhook events: a WebhookReceiver whose OnEvent is the tracker's
// ApplyWebhook, so a rename or a destroyed add-on is on the map, and on
// the page, as soon as the delivery is answered, at no request.
type webhookEndpoint struct {
	url string // the resource id is appended
	// secret signs every delivery and auth is their Authorization header;
	// one of each for the whole demo, random per run.
	secret, auth hp.Secret
	srv          *http.Server
}

// serveWebhooks starts the receiver on a loopback listener of its own (the
// fake delivers only to loopback addresses), until ctx ends.
func serveWebhooks(ctx context.Context, tracker *hp.Tracker) (*webhookEndpoint, error) {
	secret, err := randomSecret("")
	if err != nil {
		return nil, err
	}
	auth, err := randomSecret("Bearer ")
	if err != nil {
		return nil, err
	}
	rcv, err := hp.NewWebhookReceiver(hp.WebhookReceiverConfig{
		Secrets:       []hp.Secret{secret},
		Authorization: auth,
		OnEvent:       tracker.ApplyWebhook,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /heroku/webhooks/{resource}", rcv)
	e := &webhookEndpoint{url: "http://" + ln.Addr().String() + "/heroku/webhooks/", secret: secret, auth: auth,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}}
	go func() { _ = e.srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = e.srv.Close()
	}()
	return e, nil
}

// subscription is what the partner asks Heroku for when it provisions the
// resource: the app's and the add-on's events, delivered until answered.
func (e *webhookEndpoint) subscription(resourceID string) hp.WebhookSubscription {
	return hp.WebhookSubscription{URL: e.url + resourceID, Secret: e.secret, Authorization: e.auth}
}

func randomSecret(prefix string) (hp.Secret, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return hp.Secret{}, errors.New("generating a webhook secret: " + err.Error())
	}
	return hp.NewSecret(prefix + hex.EncodeToString(b)), nil
}
