package herokupartner

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// MaxProvisionRequestSize bounds the body ParseProvisionRequest reads. Real
// requests are a few hundred bytes; the bound keeps a hostile or broken
// sender from making the handler buffer megabytes.
const MaxProvisionRequestSize = 64 << 10

// ErrInvalidProvisionRequest is wrapped by every error ParseProvisionRequest
// returns; the message names the offending field.
var ErrInvalidProvisionRequest = errors.New("herokupartner: invalid provisioning request")

// GrantTypeAuthorizationCode is the only OAuth grant type Heroku sends.
const GrantTypeAuthorizationCode = "authorization_code"

// ProvisionRequest is the body of Heroku's provisioning call, POST
// {base_url} (conventionally /heroku/resources), from the Add-on Partner API
// v3. Printing or logging it redacts the grant code and the credentials in
// LogInputURL.
type ProvisionRequest struct {
	// UUID is the add-on resource's id in the Platform API; Heroku may send
	// the same request more than once, so it is the idempotency key.
	UUID uuid.UUID `json:"uuid"`
	// Name is the add-on resource's name, such as "acme-inc-primary-database".
	Name string `json:"name,omitempty"`
	// Plan is the plan slug without the service prefix.
	Plan string `json:"plan,omitempty"`
	// Region is where the app runs, such as "amazon-web-services::us-east-1".
	Region string `json:"region,omitempty"`
	// CallbackURL is the add-on's Platform API address.
	CallbackURL string `json:"callback_url,omitempty"`
	// Options holds the "--name value" options given to heroku addons:create.
	// Heroku documents string values; a number, boolean or null arriving
	// instead is kept as its JSON text ("3", "true", "") and an object or
	// array as compact JSON, so an odd value never fails the provisioning.
	Options map[string]string `json:"options,omitempty"`
	// OAuthGrant is nil when the request carries no grant (absent or null);
	// such a resource cannot get an API token, so check before Exchange.
	OAuthGrant *OAuthGrant `json:"oauth_grant,omitempty"`
	// LogInputURL, when present, accepts log lines for the app; it embeds a
	// credential.
	LogInputURL Secret `json:"log_input_url,omitempty"`
	// LogDrainToken is set when the add-on's manifest requires a syslog drain.
	LogDrainToken Secret `json:"log_drain_token,omitempty"`
	// HerokuID is the legacy (v1) app identifier, such as "app123@heroku.com";
	// v3 requests normally omit it.
	HerokuID string `json:"heroku_id,omitempty"`
}

// OAuthGrant is the one-time authorization code in a provisioning request.
// Heroku lets it live about five minutes: exchange it while provisioning.
// Printing or logging it redacts the code.
type OAuthGrant struct {
	// Code is the authorization code TokenManager.Exchange trades for the
	// resource's tokens; it works once.
	Code Secret `json:"code"`
	// ExpiresAt is zero when the request did not say.
	ExpiresAt time.Time `json:"expires_at"`
	// Type is "authorization_code".
	Type string `json:"type"`
}

// String describes g without its code.
func (g OAuthGrant) String() string {
	return fmt.Sprintf("herokupartner.OAuthGrant{Code:%q ExpiresAt:%s Type:%q}",
		g.Code, formatTime(g.ExpiresAt), g.Type)
}

// GoString describes g without its code, for %#v.
func (g OAuthGrant) GoString() string { return g.String() }

// Format prints String under every verb, so that no verb walks the fields.
func (g OAuthGrant) Format(f fmt.State, verb rune) { formatAs(f, verb, g.String()) }

// LogValue makes slog log g without its code.
func (g OAuthGrant) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("code", g.Code),
		slog.Time("expires_at", g.ExpiresAt), slog.String("type", g.Type))
}

// UnmarshalJSON decodes a grant as ParseProvisionRequest decodes
// oauth_grant, with the same rules and errors.
func (g *OAuthGrant) UnmarshalJSON(data []byte) error {
	parsed, field, err := parseGrant(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidProvisionRequest, field, err)
	}
	*g = *parsed
	return nil
}

// String describes r with its credentials redacted.
func (r ProvisionRequest) String() string {
	grant := "nil"
	if r.OAuthGrant != nil {
		grant = r.OAuthGrant.String()
	}
	return fmt.Sprintf("herokupartner.ProvisionRequest{UUID:%s Name:%q Plan:%q Region:%q CallbackURL:%q Options:%q OAuthGrant:%s LogInputURL:%q LogDrainToken:%q HerokuID:%q}",
		r.UUID, r.Name, r.Plan, r.Region, r.CallbackURL, r.Options, grant,
		r.LogInputURL, r.LogDrainToken, r.HerokuID)
}

// GoString describes r with its credentials redacted, for %#v.
func (r ProvisionRequest) GoString() string { return r.String() }

// Format prints String under every verb, so that no verb walks the fields.
func (r ProvisionRequest) Format(f fmt.State, verb rune) { formatAs(f, verb, r.String()) }

// LogValue makes slog log r with its credentials redacted.
func (r ProvisionRequest) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("uuid", r.UUID.String()), slog.String("name", r.Name), slog.String("plan", r.Plan),
		slog.String("region", r.Region), slog.String("callback_url", r.CallbackURL),
		slog.Any("options", r.Options),
		slog.Any("log_input_url", r.LogInputURL),
		slog.Any("log_drain_token", r.LogDrainToken),
	}
	if r.OAuthGrant != nil {
		attrs = append(attrs, slog.Any("oauth_grant", *r.OAuthGrant))
	}
	if r.HerokuID != "" {
		attrs = append(attrs, slog.String("heroku_id", r.HerokuID))
	}
	return slog.GroupValue(attrs...)
}

// UnmarshalJSON decodes r exactly as ParseProvisionRequest does: the same
// checks, forms and errors (JSON null, not being a request, is refused too).
// In particular it refuses the "[redacted]" placeholders that json.Marshal
// writes for the credentials, so a request written through the default JSON
// cannot come back with a fake grant code.
func (r *ProvisionRequest) UnmarshalJSON(data []byte) error {
	parsed, err := parseProvisionBody(data)
	if err != nil {
		return err
	}
	*r = *parsed
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339)
}
