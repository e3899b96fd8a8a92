package herokupartner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
)

// WebhookAction is what happened to the entity of a WebhookEvent. The set
// is open: an action Heroku adds later is kept as it is.
type WebhookAction string

// The actions Heroku documents.
const (
	WebhookActionCreate  WebhookAction = "create"
	WebhookActionUpdate  WebhookAction = "update"
	WebhookActionDestroy WebhookAction = "destroy"
)

// The Resource names of the entities decoded into typed fields.
const (
	WebhookResourceApp        = "app"
	WebhookResourceAddon      = "addon"
	WebhookResourceAttachment = "addon-attachment"
)

// WebhookEvent is one add-on webhook notification, decoded. For app,
// add-on and add-on attachment events the entity is also decoded into App,
// Addon or Attachment; for any other entity those stay nil and Data holds
// the object as Heroku sent it.
//
// Heroku may deliver events out of order and, for a sync subscription,
// again after a failure: compare the entity's UpdatedAt with what you hold
// before applying an event.
type WebhookEvent struct {
	// ID identifies the event; a redelivery carries the same ID.
	ID uuid.UUID
	// Include is the subscription entity, such as "api:app".
	Include string
	// Resource is the entity's name without the "api:" prefix.
	Resource  string
	Action    WebhookAction
	Actor     WebhookActor
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is the Platform API version of Data.
	Version string
	// Delivery identifies the webhook and attempt that brought the event;
	// it is zero for an event read back with GetAddonWebhookEvent.
	Delivery WebhookDeliveryRef

	// App is the app after the change, for Resource "app".
	App *App
	// PreviousApp holds, on an update, the app fields that changed with
	// their old values; the others are zero (see Changed).
	PreviousApp *App
	// Addon is the add-on after the change, for Resource "addon".
	Addon *Addon
	// PreviousAddon holds, on an update, the add-on fields that changed
	// with their old values (a plan change: Plan); the others are zero.
	PreviousAddon *Addon
	// Attachment is the attachment created or destroyed, for Resource
	// "addon-attachment".
	Attachment *AddonAttachment

	// Data is the entity's object after the change, as sent.
	Data json.RawMessage
	// PreviousData is the old values of the changed fields, as sent: {}
	// when there are none.
	PreviousData json.RawMessage
}

// WebhookActor is who caused an event: a user, or an add-on's service
// account.
type WebhookActor struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
}

// WebhookDeliveryRef identifies the delivery of an event: Heroku's
// webhook_metadata.
type WebhookDeliveryRef struct {
	WebhookID  uuid.UUID
	DeliveryID uuid.UUID
	AttemptID  uuid.UUID
}

// App is a Heroku app as webhook events describe it.
type App struct {
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	WebURL      string     `json:"web_url"`
	GitURL      string     `json:"git_url"`
	Maintenance bool       `json:"maintenance"`
	Region      Ref        `json:"region"`
	Stack       Ref        `json:"stack"`
	Owner       AppOwner   `json:"owner"`
	Team        *Ref       `json:"team"`
	Space       *Ref       `json:"space"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ReleasedAt  *time.Time `json:"released_at"`
}

// AppOwner is the account that owns an app.
type AppOwner struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
}

// AddonAttachment attaches an add-on to an app, its billing app or another.
type AddonAttachment struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
	// Addon is the attached add-on; its App is the billing app.
	Addon struct {
		ID   uuid.UUID `json:"id"`
		Name string    `json:"name"`
		App  Ref       `json:"app"`
	} `json:"addon"`
	// App is the app the add-on is attached to.
	App       Ref       `json:"app"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ResourceID returns the add-on resource the event is about: the add-on's
// id for an add-on or attachment event, and uuid.Nil for an app event,
// which concerns every resource billed to or attached to App.ID.
func (e *WebhookEvent) ResourceID() uuid.UUID {
	switch {
	case e.Addon != nil:
		return e.Addon.ID
	case e.Attachment != nil:
		return e.Attachment.Addon.ID
	}
	return uuid.Nil
}

// Changed reports whether the event's previous_data names field (a JSON
// name such as "name" or "plan"), that is whether the update changed it.
func (e *WebhookEvent) Changed(field string) bool {
	var prev map[string]json.RawMessage
	if json.Unmarshal(e.PreviousData, &prev) != nil {
		return false
	}
	_, ok := prev[field]
	return ok
}

// String names the event without its data, which may hold credentials
// (an attachment's log input URL): "api:app update <id>".
func (e WebhookEvent) String() string {
	return fmt.Sprintf("%s %s event %s", e.Include, e.Action, e.ID)
}

// Format prints String under every verb, so that %d or %x never spell
// out Data's bytes; %q quotes it.
func (e WebhookEvent) Format(f fmt.State, verb rune) { formatAs(f, verb, e.String()) }

// LogValue logs the event's identity, never its data.
func (e WebhookEvent) LogValue() slog.Value {
	return slog.GroupValue(slog.String("include", e.Include), slog.String("action", string(e.Action)),
		slog.String("event_id", e.ID.String()), slog.String("delivery_id", e.Delivery.DeliveryID.String()))
}

// maxWebhookField bounds the strings kept from an envelope, so a body of
// nonsense cannot become a huge log line.
const maxWebhookField = 100

// webhookEnvelope is a delivery body on the wire.
type webhookEnvelope struct {
	ID           string          `json:"id"`
	Action       string          `json:"action"`
	Actor        WebhookActor    `json:"actor"`
	Resource     string          `json:"resource"`
	Data         json.RawMessage `json:"data"`
	PreviousData json.RawMessage `json:"previous_data"`
	Version      string          `json:"version"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Metadata     struct {
		Attempt  struct{ ID string } `json:"attempt"`
		Delivery struct{ ID string } `json:"delivery"`
		Event    struct {
			ID      string `json:"id"`
			Include string `json:"include"`
		} `json:"event"`
		Webhook struct{ ID string } `json:"webhook"`
	} `json:"webhook_metadata"`
}

// ParseWebhookEvent decodes a delivery body. It does not check the
// signature: a WebhookReceiver does that before calling it. Its errors
// name the field at fault and never quote the body.
func ParseWebhookEvent(body []byte) (*WebhookEvent, error) {
	var env webhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("herokupartner: webhook event: %w", describeJSONError(err))
	}
	md := env.Metadata
	id := env.ID
	if id == "" {
		id = md.Event.ID
	}
	ev := &WebhookEvent{
		Include: md.Event.Include, Resource: env.Resource, Action: WebhookAction(env.Action), Actor: env.Actor,
		CreatedAt: env.CreatedAt, UpdatedAt: env.UpdatedAt, Version: env.Version,
		Data: env.Data, PreviousData: env.PreviousData,
	}
	var err error
	if ev.ID, err = uuid.Parse(id); err != nil || ev.ID == uuid.Nil {
		return nil, errors.New("herokupartner: webhook event: id is missing or not a UUID")
	}
	// Metadata ids are informative only; one Heroku garbles must not cost
	// the event.
	ev.Delivery.WebhookID, _ = uuid.Parse(md.Webhook.ID)
	ev.Delivery.DeliveryID, _ = uuid.Parse(md.Delivery.ID)
	ev.Delivery.AttemptID, _ = uuid.Parse(md.Attempt.ID)
	if err := ev.decodeEntity(); err != nil {
		return nil, err
	}
	return ev, nil
}

// decodeEntity checks the envelope's names and decodes Data and
// PreviousData into the typed field that Resource selects.
func (e *WebhookEvent) decodeEntity() error {
	if e.Resource == "" {
		e.Resource = strings.TrimPrefix(e.Include, "api:")
	}
	if e.Include == "" {
		e.Include = "api:" + e.Resource
	}
	for _, f := range [...]struct{ name, v string }{{"resource", e.Resource}, {"action", string(e.Action)}, {"include", e.Include}} {
		if f.v == "" || f.v == "api:" || len(f.v) > maxWebhookField || strings.ContainsAny(f.v, " \t\r\n") {
			return fmt.Errorf("herokupartner: webhook event: %s is missing or malformed", f.name)
		}
	}
	if len(bytes.TrimSpace(e.Data)) == 0 || bytes.Equal(bytes.TrimSpace(e.Data), []byte("null")) {
		return errors.New("herokupartner: webhook event: data is missing")
	}
	var err error
	switch e.Resource {
	case WebhookResourceApp:
		if e.App, err = decodeEntity[App](e.Resource, "data", e.Data); err == nil {
			e.PreviousApp, err = decodePrevious[App](e.Resource, e.PreviousData)
		}
	case WebhookResourceAddon:
		if e.Addon, err = decodeEntity[Addon](e.Resource, "data", e.Data); err == nil {
			e.PreviousAddon, err = decodePrevious[Addon](e.Resource, e.PreviousData)
		}
	case WebhookResourceAttachment:
		e.Attachment, err = decodeEntity[AddonAttachment](e.Resource, "data", e.Data)
	}
	return err
}

func decodeEntity[T any](resource, field string, raw json.RawMessage) (*T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("herokupartner: webhook event: %s of a %s event: %w", field, resource, describeJSONError(err))
	}
	return &v, nil
}

// decodePrevious returns nil when nothing changed.
func decodePrevious[T any](resource string, raw json.RawMessage) (*T, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("{}")) {
		return nil, nil
	}
	return decodeEntity[T](resource, "previous_data", raw)
}

// describeJSONError keeps what is safe to say of a decoding error: where
// and which field, never a quoted value from the body.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("want a JSON object, got JSON %s", typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	}
	// Other errors come from a field's own decoder (a uuid, a time) and
	// may quote the value.
	return errors.New("a field has a malformed value (uuid, time or shape)")
}

// WebhookEventRecord is an event as GET /addons/{id}/webhook-events lists
// it; Event decodes its payload as a delivery would be.
type WebhookEventRecord struct {
	ID        uuid.UUID `json:"id"`
	Include   string    `json:"include"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Payload   struct {
		Action       string          `json:"action"`
		Actor        WebhookActor    `json:"actor"`
		Data         json.RawMessage `json:"data"`
		PreviousData json.RawMessage `json:"previous_data"`
		Resource     string          `json:"resource"`
		Version      string          `json:"version"`
	} `json:"payload"`
}

// String names the record without its payload, as WebhookEvent.String.
func (r WebhookEventRecord) String() string {
	return fmt.Sprintf("%s %s event %s", r.Include, r.Payload.Action, r.ID)
}

// Format prints String under every verb.
func (r WebhookEventRecord) Format(f fmt.State, verb rune) { formatAs(f, verb, r.String()) }

// Event decodes the record into a WebhookEvent, so that events missed
// while a receiver was down can be replayed through the same handler.
func (r *WebhookEventRecord) Event() (*WebhookEvent, error) {
	p := r.Payload
	ev := &WebhookEvent{ID: r.ID, Include: r.Include, Resource: p.Resource, Action: WebhookAction(p.Action),
		Actor: p.Actor, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: p.Version,
		Data: p.Data, PreviousData: p.PreviousData}
	if ev.ID == uuid.Nil {
		return nil, errors.New("herokupartner: webhook event: id is missing")
	}
	if err := ev.decodeEntity(); err != nil {
		return nil, err
	}
	return ev, nil
}
