package herokupartnertest

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
)

// WebhookDelivery is one event's delivery to one subscription, as the
// server recorded it.
type WebhookDelivery struct {
	ID, AddonID, WebhookID, EventID uuid.UUID
	// Include is the event's entity, such as "api:app"; Action is
	// "create", "update" or "destroy".
	Include, Action string
	// Level is the subscription's level when the event happened.
	Level string
	// Status is "pending", "retrying", "succeeded", "failed", or
	// "skipped" when the subscription was deleted or the server closed
	// before it was done.
	Status   string
	Attempts []WebhookAttempt
}

// WebhookAttempt is one attempt at a delivery.
type WebhookAttempt struct {
	ID uuid.UUID
	// Code is the receiver's status, 0 when it sent none.
	Code int
	// Error says why there was no answer ("timeout", "connection_refused",
	// "connection_error"); empty when there was one.
	Error string
}

// WebhookDeliveries returns every delivery the server made, in the order
// the events happened, with its attempts so far.
func (s *Server) WebhookDeliveries() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookDelivery, 0, len(s.hooks.deliveries))
	for _, d := range s.hooks.deliveries {
		wd := WebhookDelivery{ID: d.id, AddonID: d.hook.addonID, WebhookID: d.hook.id, EventID: d.ev.id,
			Include: d.ev.include, Action: d.ev.action, Level: d.level, Status: d.status}
		for _, a := range d.attempts {
			wd.Attempts = append(wd.Attempts, WebhookAttempt{ID: a.id, Code: a.code, Error: a.errClass})
		}
		out = append(out, wd)
	}
	return out
}

// wireDelivery is a delivery as GET /addons/{id}/webhook-deliveries shows it.
type wireDelivery struct {
	CreatedAt     string       `json:"created_at"`
	Event         wireEventRef `json:"event"`
	ID            string       `json:"id"`
	LastAttempt   *wireAttempt `json:"last_attempt"`
	NextAttemptAt *string      `json:"next_attempt_at"`
	NumAttempts   int          `json:"num_attempts"`
	Status        string       `json:"status"`
	UpdatedAt     string       `json:"updated_at"`
	Webhook       struct {
		ID    string `json:"id"`
		Level string `json:"level"`
	} `json:"webhook"`
}

type wireEventRef struct {
	ID      string `json:"id"`
	Include string `json:"include"`
}

type wireAttempt struct {
	Code       *int    `json:"code"`
	CreatedAt  string  `json:"created_at"`
	ErrorClass *string `json:"error_class"`
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	UpdatedAt  string  `json:"updated_at"`
}

func (d *delivery) wire() wireDelivery {
	w := wireDelivery{CreatedAt: stamp(d.created), Event: wireEventRef{ID: d.ev.id.String(), Include: d.ev.include},
		ID: d.id.String(), NumAttempts: len(d.attempts), Status: d.status, UpdatedAt: stamp(d.updated)}
	w.Webhook.ID, w.Webhook.Level = d.hook.id.String(), d.level
	if d.next != nil {
		n := stamp(*d.next)
		w.NextAttemptAt = &n
	}
	if len(d.attempts) > 0 {
		a := d.attempts[len(d.attempts)-1]
		wa := &wireAttempt{CreatedAt: stamp(a.created), ID: a.id.String(), Status: "failed", UpdatedAt: stamp(a.updated)}
		if a.code != 0 {
			code := a.code
			wa.Code = &code
		}
		if a.errClass != "" {
			class := a.errClass
			wa.ErrorClass = &class
		}
		if a.code >= 200 && a.code < 300 {
			wa.Status = "succeeded"
		}
		w.LastAttempt = wa
	}
	return w
}

// serveDeliveries lists the add-on's deliveries, oldest first, or shows
// one; the caller holds s.mu.
func (s *Server) serveDeliveries(addonID uuid.UUID, child string) (int, any) {
	want := parseUUID(child)
	list := []wireDelivery{}
	for _, d := range s.hooks.deliveries {
		if d.hook.addonID != addonID {
			continue
		}
		if child == "" {
			list = append(list, d.wire())
		} else if d.id == want {
			return http.StatusOK, d.wire()
		}
	}
	if child != "" {
		return notFound("addon_webhook_delivery", "webhook delivery")
	}
	return http.StatusOK, list
}

// serveEvents lists the events sent to the add-on's subscriptions, oldest
// first, or shows one; the caller holds s.mu.
func (s *Server) serveEvents(addonID uuid.UUID, child string) (int, any) {
	want := parseUUID(child)
	list := []wireEventRecord{}
	for _, ev := range s.hooks.events[addonID] {
		if child == "" {
			list = append(list, ev.record())
		} else if ev.id == want {
			return http.StatusOK, ev.record()
		}
	}
	if child != "" {
		return notFound("addon_webhook_event", "webhook event")
	}
	return http.StatusOK, list
}

// wireEventRecord is an event as GET /addons/{id}/webhook-events shows it.
type wireEventRecord struct {
	CreatedAt string `json:"created_at"`
	ID        string `json:"id"`
	Include   string `json:"include"`
	Payload   struct {
		Action       string          `json:"action"`
		Actor        wireAccount     `json:"actor"`
		Data         json.RawMessage `json:"data"`
		PreviousData json.RawMessage `json:"previous_data"`
		Resource     string          `json:"resource"`
		Version      string          `json:"version"`
	} `json:"payload"`
	UpdatedAt string `json:"updated_at"`
}

func (ev *event) record() wireEventRecord {
	r := wireEventRecord{CreatedAt: stamp(ev.created), ID: ev.id.String(), Include: ev.include, UpdatedAt: stamp(ev.created)}
	p := &r.Payload
	p.Action, p.Actor, p.Data, p.PreviousData, p.Resource, p.Version = ev.action, ev.actor, ev.data, ev.previous, ev.resource, eventVersion
	return r
}
