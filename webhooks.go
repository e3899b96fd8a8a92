package herokupartner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// WebhookLevel says how hard Heroku tries to deliver a webhook's events.
type WebhookLevel string

// The delivery levels the Platform API offers.
const (
	// WebhookLevelNotify makes one fire-and-forget attempt per event.
	WebhookLevelNotify WebhookLevel = "notify"
	// WebhookLevelSync retries an event until it succeeds or 72 hours have
	// passed since it was created.
	WebhookLevelSync WebhookLevel = "sync"
)

// The entities an add-on subscription can include that the SDK decodes
// into typed events; Heroku offers others (api:build, api:release, …),
// which a subscription may name as plain strings.
const (
	WebhookIncludeApp        = "api:app"
	WebhookIncludeAddon      = "api:addon"
	WebhookIncludeAttachment = "api:addon-attachment"
)

// DefaultWebhookInclude is what SubscribeAddonWebhooks subscribes to when
// the subscription names nothing: the entities that change what a
// resource resolves to (its app's name, the add-on's plan and existence,
// the apps it is attached to).
var DefaultWebhookInclude = []string{WebhookIncludeApp, WebhookIncludeAddon, WebhookIncludeAttachment}

// webhookSecretBytes is the entropy of a secret the SDK generates.
const webhookSecretBytes = 32

// WebhookSubscription is what SubscribeAddonWebhooks asks Heroku for.
type WebhookSubscription struct {
	// URL receives the deliveries: https, or http on a loopback host for
	// tests. Putting the resource's uuid in it tells add-ons apart.
	URL string
	// Include lists the entities to be notified about; nil means
	// DefaultWebhookInclude (an empty non-nil list is refused).
	Include []string
	// Level is WebhookLevelSync when empty, so that an event missed while
	// the receiver was down is delivered again.
	Level WebhookLevel
	// Secret signs every delivery. When empty the SDK generates a random
	// one and returns it in Webhook.Secret: Heroku's own generated secret
	// comes back once, in a response header, and is easily lost.
	Secret Secret
	// Authorization, when set, is sent verbatim as the Authorization
	// header of every delivery; WebhookReceiverConfig.Authorization checks it.
	Authorization Secret
}

// WebhookUpdate changes a subscription; its zero fields are left as they
// are.
type WebhookUpdate struct {
	URL           string
	Include       []string
	Level         WebhookLevel
	Secret        Secret
	Authorization Secret
}

// Webhook is an add-on's webhook subscription as the Platform API
// describes it. The API never returns the secret or the authorization.
type Webhook struct {
	Addon     Ref          `json:"addon"`
	CreatedAt time.Time    `json:"created_at"`
	ID        uuid.UUID    `json:"id"`
	Include   []string     `json:"include"`
	Level     WebhookLevel `json:"level"`
	UpdatedAt time.Time    `json:"updated_at"`
	URL       string       `json:"url"`
	// Secret is set only on SubscribeAddonWebhooks' answer: the secret the
	// deliveries are signed with, the caller's or the one generated.
	// Store it (with Reveal) for the receiver; it is not shown again.
	Secret Secret `json:"-"`
}

// webhookBody is the request body on the wire; secrets are revealed only
// here, on their way into the request.
type webhookBody struct {
	URL           string       `json:"url,omitempty"`
	Include       []string     `json:"include,omitempty"`
	Level         WebhookLevel `json:"level,omitempty"`
	Secret        *string      `json:"secret,omitempty"`
	Authorization *string      `json:"authorization,omitempty"`
}

func revealed(s Secret) *string {
	if s.IsZero() {
		return nil
	}
	v := s.Reveal()
	return &v
}

// SubscribeAddonWebhooks subscribes the add-on's resource to webhook
// events (POST /addons/{id}/webhooks), in one call that a provisioning
// handler can make with the resource's token. The answer's Secret is the
// one deliveries are signed with.
func (c *Client) SubscribeAddonWebhooks(ctx context.Context, resourceUUID string, sub WebhookSubscription) (*Webhook, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, err
	}
	if sub.Include == nil {
		sub.Include = DefaultWebhookInclude
	}
	if sub.Level == "" {
		sub.Level = WebhookLevelSync
	}
	body := webhookBody{URL: sub.URL, Include: sub.Include, Level: sub.Level}
	if err := body.validate(true); err != nil {
		return nil, err
	}
	secret := sub.Secret
	if secret.IsZero() {
		if secret, err = newWebhookSecret(); err != nil {
			return nil, err
		}
	}
	body.Secret, body.Authorization = revealed(secret), revealed(sub.Authorization)
	var w Webhook
	if err := c.do(ctx, http.MethodPost, "/addons/"+id+"/webhooks", body, &w); err != nil {
		return nil, err
	}
	w.Secret = secret
	return &w, nil
}

// ListAddonWebhooks returns the resource's webhook subscriptions (GET
// /addons/{id}/webhooks).
func (c *Client) ListAddonWebhooks(ctx context.Context, resourceUUID string) ([]Webhook, error) {
	return listUnderAddon[Webhook](ctx, c, resourceUUID, "webhooks")
}

// GetAddonWebhook returns one of the resource's webhook subscriptions.
func (c *Client) GetAddonWebhook(ctx context.Context, resourceUUID, webhookID string) (*Webhook, error) {
	return getUnderAddon[Webhook](ctx, c, resourceUUID, "webhooks", "webhookID", webhookID)
}

// UpdateAddonWebhook changes the fields that upd sets (PATCH
// /addons/{id}/webhooks/{webhook}); to rotate the secret, let the receiver
// accept both secrets, update, then drop the old one.
func (c *Client) UpdateAddonWebhook(ctx context.Context, resourceUUID, webhookID string, upd WebhookUpdate) (*Webhook, error) {
	path, err := addonChildPath(resourceUUID, "webhooks", "webhookID", webhookID)
	if err != nil {
		return nil, err
	}
	body := webhookBody{URL: upd.URL, Include: upd.Include, Level: upd.Level}
	if err := body.validate(false); err != nil {
		return nil, err
	}
	body.Secret, body.Authorization = revealed(upd.Secret), revealed(upd.Authorization)
	if body.URL == "" && body.Include == nil && body.Level == "" && body.Secret == nil && body.Authorization == nil {
		return nil, errors.New("herokupartner: UpdateAddonWebhook: the update changes nothing")
	}
	var w Webhook
	if err := c.do(ctx, http.MethodPatch, path, body, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteAddonWebhook removes one of the resource's webhook subscriptions.
func (c *Client) DeleteAddonWebhook(ctx context.Context, resourceUUID, webhookID string) error {
	path, err := addonChildPath(resourceUUID, "webhooks", "webhookID", webhookID)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil)
}

// listUnderAddon returns the first page of the resource's collection kind
// (GET /addons/{id}/{kind}).
func listUnderAddon[T any](ctx context.Context, c *Client, resourceUUID, kind string) ([]T, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return nil, err
	}
	var out []T
	if err := c.do(ctx, http.MethodGet, "/addons/"+id+"/"+kind, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// getUnderAddon returns one member of the resource's collection kind (GET
// /addons/{id}/{kind}/{child}); childParam names childID in errors.
func getUnderAddon[T any](ctx context.Context, c *Client, resourceUUID, kind, childParam, childID string) (*T, error) {
	path, err := addonChildPath(resourceUUID, kind, childParam, childID)
	if err != nil {
		return nil, err
	}
	return getJSON[T](ctx, c, path)
}

// addonChildPath builds /addons/{id}/{kind}/{child} from validated ids.
func addonChildPath(resourceUUID, kind, childParam, childID string) (string, error) {
	id, err := parseID("resourceUUID", resourceUUID)
	if err != nil {
		return "", err
	}
	child, err := parseID(childParam, childID)
	if err != nil {
		return "", err
	}
	return "/addons/" + id + "/" + kind + "/" + child, nil
}

// validate checks the plain fields; create needs all three. Errors name
// the field and never echo its value.
func (b *webhookBody) validate(create bool) error {
	if b.URL != "" || create {
		if err := checkWebhookURL(b.URL); err != nil {
			return err
		}
	}
	if b.Include != nil || create {
		if len(b.Include) == 0 {
			return errors.New("herokupartner: webhook Include: empty list")
		}
		for i, inc := range b.Include {
			if inc == "" || strings.ContainsAny(inc, " \t\r\n,") {
				return fmt.Errorf("herokupartner: webhook Include[%d]: want an entity such as %q", i, WebhookIncludeApp)
			}
		}
	}
	switch b.Level {
	case WebhookLevelNotify, WebhookLevelSync:
	case "":
		if create {
			return errors.New("herokupartner: webhook Level: empty")
		}
	default:
		return fmt.Errorf("herokupartner: webhook Level: want %q or %q", WebhookLevelNotify, WebhookLevelSync)
	}
	return nil
}

// checkWebhookURL accepts an absolute https URL, or http on a loopback
// host: deliveries carry the Authorization value.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("herokupartner: webhook URL: want an absolute https URL")
	}
	if u.User != nil {
		return errors.New("herokupartner: webhook URL: must not carry user info; use Authorization")
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil
	}
	return errors.New("herokupartner: webhook URL: scheme must be https (plain http only on a loopback host)")
}

// newWebhookSecret returns a random secret, hex-encoded for a header-safe
// value.
func newWebhookSecret() (Secret, error) {
	b := make([]byte, webhookSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return Secret{}, fmt.Errorf("herokupartner: generating a webhook secret: %w", err)
	}
	return NewSecret(hex.EncodeToString(b)), nil
}
