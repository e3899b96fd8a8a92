package herokupartner

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// WebhookDeliveryStatus is the state of a delivery. The set is open:
// Heroku added "skipped" after the schema was written.
type WebhookDeliveryStatus string

// The delivery states Heroku documents.
const (
	WebhookDeliveryPending   WebhookDeliveryStatus = "pending"
	WebhookDeliveryScheduled WebhookDeliveryStatus = "scheduled"
	WebhookDeliveryRetrying  WebhookDeliveryStatus = "retrying"
	WebhookDeliveryFailed    WebhookDeliveryStatus = "failed"
	WebhookDeliverySucceeded WebhookDeliveryStatus = "succeeded"
	WebhookDeliverySkipped   WebhookDeliveryStatus = "skipped"
)

// WebhookDelivery is Heroku's record of delivering one event to one
// webhook, as GET /addons/{id}/webhook-deliveries lists it.
type WebhookDelivery struct {
	ID            uuid.UUID             `json:"id"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
	Status        WebhookDeliveryStatus `json:"status"`
	NumAttempts   int                   `json:"num_attempts"`
	NextAttemptAt *time.Time            `json:"next_attempt_at"`
	Event         struct {
		ID      uuid.UUID `json:"id"`
		Include string    `json:"include"`
	} `json:"event"`
	Webhook struct {
		ID    uuid.UUID    `json:"id"`
		Level WebhookLevel `json:"level"`
	} `json:"webhook"`
	// LastAttempt is nil before the first attempt.
	LastAttempt *WebhookAttempt `json:"last_attempt"`
}

// WebhookAttempt is one attempt at a delivery.
type WebhookAttempt struct {
	ID uuid.UUID `json:"id"`
	// Code is the receiver's HTTP status, nil when there was no answer.
	Code *int `json:"code"`
	// ErrorClass names what went wrong, when something did.
	ErrorClass *string   `json:"error_class"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ListAddonWebhookDeliveries returns the resource's recent deliveries
// (GET /addons/{id}/webhook-deliveries): the first page Heroku answers.
func (c *Client) ListAddonWebhookDeliveries(ctx context.Context, resourceUUID string) ([]WebhookDelivery, error) {
	return listUnderAddon[WebhookDelivery](ctx, c, resourceUUID, "webhook-deliveries")
}

// GetAddonWebhookDelivery returns one of the resource's deliveries.
func (c *Client) GetAddonWebhookDelivery(ctx context.Context, resourceUUID, deliveryID string) (*WebhookDelivery, error) {
	return getUnderAddon[WebhookDelivery](ctx, c, resourceUUID, "webhook-deliveries", "deliveryID", deliveryID)
}

// ListAddonWebhookEvents returns the resource's recent events (GET
// /addons/{id}/webhook-events): the first page Heroku answers. Heroku's
// CLI calls this listing deprecated in favour of deliveries; it is the one
// way to read an event's payload again.
func (c *Client) ListAddonWebhookEvents(ctx context.Context, resourceUUID string) ([]WebhookEventRecord, error) {
	return listUnderAddon[WebhookEventRecord](ctx, c, resourceUUID, "webhook-events")
}

// GetAddonWebhookEvent returns one of the resource's events.
func (c *Client) GetAddonWebhookEvent(ctx context.Context, resourceUUID, eventID string) (*WebhookEventRecord, error) {
	return getUnderAddon[WebhookEventRecord](ctx, c, resourceUUID, "webhook-events", "eventID", eventID)
}
