package herokupartnertest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The add-on webhook routes.
const (
	// RouteWebhooks is GET and POST /addons/{id}/webhooks.
	RouteWebhooks Route = "webhooks"
	// RouteWebhook is GET, PATCH and DELETE /addons/{id}/webhooks/{webhook id}.
	RouteWebhook Route = "webhook"
	// RouteWebhookDeliveries is GET /addons/{id}/webhook-deliveries and
	// GET /addons/{id}/webhook-deliveries/{delivery id}.
	RouteWebhookDeliveries Route = "webhook-deliveries"
	// RouteWebhookEvents is GET /addons/{id}/webhook-events and
	// GET /addons/{id}/webhook-events/{event id}.
	RouteWebhookEvents Route = "webhook-events"
)

// webhookEntities are the entities an add-on subscription may include,
// per Heroku's add-on webhooks documentation. The fake delivers events for
// api:app, api:addon and api:addon-attachment; the others are accepted,
// as Heroku accepts them, and never fire.
var webhookEntities = map[string]bool{
	"api:addon-attachment": true, "api:addon": true, "api:app": true, "api:build": true,
	"api:collaborator": true, "api:domain": true, "api:dyno": true, "api:formation": true,
	"api:release": true, "api:sni-endpoint": true,
}

// webhook is one add-on webhook subscription.
type webhook struct {
	id, addonID uuid.UUID
	addonName   string
	include     []string
	level       string
	url         string
	// secret and auth are closures for the reason state.secret is: no
	// fmt verb that follows a pointer into the server finds them.
	secret, auth     func() string
	created, updated time.Time
	// seq orders subscriptions by creation; timestamps have whole seconds.
	seq int
	// deleted is set by DELETE: queued deliveries are then skipped, and
	// closing gone wakes one waiting out a backoff.
	deleted bool
	gone    chan struct{}
	// queue holds the deliveries not yet attempted, in event order;
	// running says a goroutine is draining it.
	queue   []*delivery
	running bool
}

type wireWebhook struct {
	Addon     wireRef  `json:"addon"`
	CreatedAt string   `json:"created_at"`
	ID        string   `json:"id"`
	Include   []string `json:"include"`
	Level     string   `json:"level"`
	UpdatedAt string   `json:"updated_at"`
	URL       string   `json:"url"`
}

func (h *webhook) wire() wireWebhook {
	return wireWebhook{
		Addon:     wireRef{ID: h.addonID.String(), Name: h.addonName},
		CreatedAt: stamp(h.created), ID: h.id.String(),
		Include: append([]string{}, h.include...), Level: h.level,
		UpdatedAt: stamp(h.updated), URL: h.url,
	}
}

// webhookInput is a checked POST or PATCH body; nil fields were absent.
type webhookInput struct {
	url, level     *string
	include        []string
	secret, auth   *string
	clearAuth      bool
	hasAnyField    bool
	generateSecret bool
}

func invalidParams(msg string) (int, any) {
	return apiError{Status: http.StatusUnprocessableEntity, ID: "invalid_params", Message: msg}.answer()
}

// readWebhookInput reads and checks a subscription body before any lock is
// taken. Its messages name the field and never repeat a value: a token
// pasted into the wrong field must not come back in an error.
func readWebhookInput(r *http.Request, create bool) (*webhookInput, int, any) {
	raw, code, body := readBody(r)
	if code != 0 {
		return nil, code, body
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		code, body := badRequest("The request body is not a JSON object.")
		return nil, code, body
	}
	in := &webhookInput{}
	fail := func(msg string) (*webhookInput, int, any) {
		code, body := invalidParams(msg)
		return nil, code, body
	}
	for name, v := range fields {
		isNull := string(v) == "null"
		var msg string
		switch name {
		case "url":
			in.url, msg = stringField(v, "url")
			if msg == "" {
				msg = checkDeliveryURL(*in.url)
			}
		case "level":
			in.level, msg = stringField(v, "level")
			if msg == "" && *in.level != "notify" && *in.level != "sync" {
				msg = "level must be notify or sync."
			}
		case "include":
			in.include, msg = includeField(v)
		case "secret":
			if !isNull {
				in.secret, msg = stringField(v, "secret")
			}
		case "authorization":
			in.clearAuth = isNull
			if !isNull {
				in.auth, msg = stringField(v, "authorization")
			}
		default:
			if create {
				msg = "Unknown field in the request body; allowed: authorization, include, level, secret, url."
			}
		}
		if msg != "" {
			return fail(msg)
		}
	}
	in.hasAnyField = in.url != nil || in.level != nil || in.include != nil || in.secret != nil || in.auth != nil || in.clearAuth
	if create {
		for name, missing := range map[string]bool{"url": in.url == nil, "level": in.level == nil, "include": in.include == nil} {
			if missing {
				return fail("Missing required param: " + name + ".")
			}
		}
		in.generateSecret = in.secret == nil
	}
	return in, 0, nil
}

// stringField decodes a non-empty string field.
func stringField(v json.RawMessage, name string) (*string, string) {
	var s string
	if json.Unmarshal(v, &s) != nil || strings.TrimSpace(s) == "" {
		return nil, name + " must be a non-empty string."
	}
	return &s, ""
}

func includeField(v json.RawMessage) ([]string, string) {
	const msg = "include must be a non-empty array of entities such as api:app, api:addon or api:addon-attachment."
	var list []string
	if json.Unmarshal(v, &list) != nil || len(list) == 0 {
		return nil, msg
	}
	for _, e := range list {
		if !webhookEntities[e] {
			return nil, msg
		}
	}
	return list, ""
}

// checkDeliveryURL accepts only http and https URLs on a loopback host:
// the fake delivers events to code under test on the same machine and
// never to the network, whatever a test subscribes.
func checkDeliveryURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "url must be an absolute http or https URL."
	case u.User != nil:
		return "url must not carry user info; use authorization."
	case u.Scheme != "http" && u.Scheme != "https":
		return "url must be an http or https URL."
	case !loopbackHost(u.Hostname()):
		return "url must be on a loopback host (localhost, 127.0.0.0/8 or ::1): this fake delivers only to the local machine."
	}
	return ""
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveWebhooks answers the webhook routes for add-on a, whose token the
// caller has checked; the caller holds s.mu.
func (s *Server) serveWebhooks(r *http.Request, h http.Header, route Route, a *addon, in *webhookInput) (int, any) {
	child := pathChild(r.URL.Path)
	switch route {
	case RouteWebhooks:
		if r.Method == http.MethodPost {
			return s.createWebhook(h, a, in)
		}
		return http.StatusOK, s.webhooksOf(a.id)
	case RouteWebhookDeliveries:
		return s.serveDeliveries(a.id, child)
	case RouteWebhookEvents:
		return s.serveEvents(a.id, child)
	}
	hook := s.hooks.byID[parseUUID(child)]
	if hook == nil || hook.addonID != a.id {
		return notFound("addon_webhook", "webhook")
	}
	switch r.Method {
	case http.MethodPatch:
		if !in.hasAnyField {
			return invalidParams("The request body changes nothing; send any of authorization, include, level, secret, url.")
		}
		in.apply(hook)
		hook.updated = s.now()
	case http.MethodDelete:
		hook.deleted = true
		close(hook.gone)
		delete(s.hooks.byID, hook.id)
	}
	return http.StatusOK, hook.wire()
}

// createWebhook adds a subscription. Like Heroku, it generates a secret
// when none is given and shows it this once, in the Heroku-Webhook-Secret
// header.
func (s *Server) createWebhook(h http.Header, a *addon, in *webhookInput) (int, any) {
	now := s.now()
	hook := &webhook{id: uuid.New(), addonID: a.id, addonName: a.name, created: now, updated: now,
		auth: func() string { return "" }, gone: make(chan struct{})}
	if in.generateSecret {
		secret := randomToken("", 32)
		in.secret = &secret
		h.Set("Heroku-Webhook-Secret", secret)
	}
	in.apply(hook)
	s.hooks.init()
	s.hooks.seq++
	hook.seq = s.hooks.seq
	s.hooks.byID[hook.id] = hook
	return http.StatusCreated, hook.wire()
}

func (in *webhookInput) apply(h *webhook) {
	if in.url != nil {
		h.url = *in.url
	}
	if in.level != nil {
		h.level = *in.level
	}
	if in.include != nil {
		h.include = in.include
	}
	if in.secret != nil {
		secret := *in.secret
		h.secret = func() string { return secret }
	}
	switch {
	case in.auth != nil:
		auth := *in.auth
		h.auth = func() string { return auth }
	case in.clearAuth:
		h.auth = func() string { return "" }
	}
}

// webhooksOf lists the add-on's subscriptions, oldest first; the caller
// holds s.mu.
func (s *Server) webhooksOf(addonID uuid.UUID) []wireWebhook {
	list := s.hooksOf(addonID)
	out := make([]wireWebhook, 0, len(list))
	for _, h := range list {
		out = append(out, h.wire())
	}
	return out
}

// hooksOf returns the add-on's live subscriptions, oldest first; the
// caller holds s.mu.
func (s *Server) hooksOf(addonID uuid.UUID) []*webhook {
	var out []*webhook
	for _, h := range s.hooks.byID {
		if h.addonID == addonID {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// pathChild returns the fourth segment of /addons/{id}/{kind}/{child}, or
// "" for a collection path.
func pathChild(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) == 4 {
		return seg[3]
	}
	return ""
}

// parseUUID returns uuid.Nil for anything but a uuid: webhook, delivery
// and event identities are ids only.
func parseUUID(s string) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil
	}
	return id
}
