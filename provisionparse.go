package herokupartner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ParseProvisionRequest reads and validates a provisioning request body. It
// requires a UUID and, when a grant is present, a non-empty code; it accepts
// fields it does not know, as Heroku asks, and reads at most
// MaxProvisionRequestSize bytes. oauth_grant.expires_at may be RFC 3339
// (with or without fractional seconds), the "2016-03-03T18:01:31-0800" form
// Heroku documents, Ruby's "2016-03-03 18:01:31 -0800", or Unix seconds (a
// number or a string of digits, returned in UTC); a string keeps the
// sender's offset. Errors wrap
// ErrInvalidProvisionRequest, name the field and never repeat its value.
//
// The request keeps its credentials as Secrets, which json.Marshal
// redacts. To keep a request for a later exchange, persist the raw body
// (encrypted: it holds the grant code) and parse it again when needed;
// json.Unmarshal into a ProvisionRequest is this same parser.
func ParseProvisionRequest(r io.Reader) (*ProvisionRequest, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no body", ErrInvalidProvisionRequest)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxProvisionRequestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %w", ErrInvalidProvisionRequest, err)
	}
	return parseProvisionBody(data)
}

// parseProvisionBody is ParseProvisionRequest on a body already read.
func parseProvisionBody(data []byte) (*ProvisionRequest, error) {
	if len(data) > MaxProvisionRequestSize {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrInvalidProvisionRequest, MaxProvisionRequestSize)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrInvalidProvisionRequest)
	}
	bad := func(field, problem string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidProvisionRequest, field, problem)
	}

	req := &ProvisionRequest{}
	rawID, ok := fields["uuid"]
	if !ok || isNull(rawID) {
		return nil, bad("uuid", "missing")
	}
	var idText string
	if err := json.Unmarshal(rawID, &idText); err != nil {
		return nil, bad("uuid", "want a string, got "+jsonKind(rawID))
	}
	id, err := uuid.Parse(strings.TrimSpace(idText))
	if err != nil || id == uuid.Nil {
		return nil, bad("uuid", "not a UUID")
	}
	req.UUID = id

	var logInputURL, logDrainToken string
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"name", &req.Name}, {"plan", &req.Plan}, {"region", &req.Region},
		{"callback_url", &req.CallbackURL}, {"log_input_url", &logInputURL},
		{"log_drain_token", &logDrainToken}, {"heroku_id", &req.HerokuID},
	} {
		raw, ok := fields[f.name]
		if !ok || isNull(raw) {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return nil, bad(f.name, "want a string, got "+jsonKind(raw))
		}
	}
	if isRedactedPlaceholder(logInputURL) {
		return nil, bad("log_input_url", errRedactedPlaceholder)
	}
	if isRedactedPlaceholder(logDrainToken) {
		return nil, bad("log_drain_token", errRedactedPlaceholder)
	}
	req.LogInputURL, req.LogDrainToken = newSecretURL(logInputURL), NewSecret(logDrainToken)

	if raw, ok := fields["options"]; ok && !isNull(raw) {
		opts, err := parseOptions(raw)
		if err != nil {
			return nil, bad("options", err.Error())
		}
		req.Options = opts
	}

	if raw, ok := fields["oauth_grant"]; ok && !isNull(raw) {
		g, field, err := parseGrant(raw)
		if err != nil {
			return nil, bad(field, err.Error())
		}
		req.OAuthGrant = g
	}
	return req, nil
}

// errRedactedPlaceholder explains a credential that json.Marshal redacted.
const errRedactedPlaceholder = "holds the redacted placeholder json.Marshal writes, not a credential: persist the raw request body instead"

// isRedactedPlaceholder reports whether s is a printed form of a Secret
// ("[redacted]", or scheme://host/[redacted] for a URL) rather than a value.
func isRedactedPlaceholder(s string) bool {
	return s == redactedText || strings.HasSuffix(s, "://"+redactedText) ||
		strings.Contains(s, "://") && strings.HasSuffix(s, "/"+redactedText)
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jsonKind names the JSON type of raw for an error message, so the message
// never repeats the value itself.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func parseOptions(raw json.RawMessage) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("want an object, got %s", jsonKind(raw))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		v = bytes.TrimSpace(v)
		switch {
		case isNull(v):
			out[k] = ""
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, errors.New("an option value is not a valid string")
			}
			out[k] = s
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return nil, errors.New("an option value is not valid JSON")
			}
			out[k] = buf.String()
		}
	}
	return out, nil
}

// parseGrant returns the grant, or the name of the field at fault and why.
func parseGrant(raw json.RawMessage) (*OAuthGrant, string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, "oauth_grant", fmt.Errorf("want an object, got %s", jsonKind(raw))
	}
	g := &OAuthGrant{}
	code, ok := fields["code"]
	if !ok || isNull(code) {
		return nil, "oauth_grant.code", errors.New("missing")
	}
	var codeText string
	if err := json.Unmarshal(code, &codeText); err != nil {
		return nil, "oauth_grant.code", fmt.Errorf("want a string, got %s", jsonKind(code))
	}
	if strings.TrimSpace(codeText) == "" {
		return nil, "oauth_grant.code", errors.New("empty")
	}
	if codeText == redactedText {
		return nil, "oauth_grant.code", errors.New(errRedactedPlaceholder)
	}
	g.Code = NewSecret(codeText)
	if typ, ok := fields["type"]; ok && !isNull(typ) {
		if err := json.Unmarshal(typ, &g.Type); err != nil {
			return nil, "oauth_grant.type", fmt.Errorf("want a string, got %s", jsonKind(typ))
		}
		if g.Type != "" && g.Type != GrantTypeAuthorizationCode {
			return nil, "oauth_grant.type", fmt.Errorf("not %q", GrantTypeAuthorizationCode)
		}
	}
	if exp, ok := fields["expires_at"]; ok && !isNull(exp) {
		t, err := parseGrantExpiry(exp)
		if err != nil {
			return nil, "oauth_grant.expires_at", err
		}
		g.ExpiresAt = t
	}
	return g, "", nil
}

// grantTimeLayouts are the expires_at string forms tried after Unix
// seconds: RFC 3339; Heroku's documented example, whose offset has no colon
// (time.Time's own JSON decoding rejects it); and Ruby's Time#to_s form,
// what a Rails sender produces by default. Fractional seconds are accepted
// in every form.
var grantTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05 -0700",
}

func parseGrantExpiry(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] != '"' {
		var secs float64
		if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > 1e11 {
			return time.Time{}, fmt.Errorf("want a timestamp string or Unix seconds, got %s", jsonKind(raw))
		}
		return time.Unix(int64(secs), 0).UTC(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("want a string, got %s", jsonKind(raw))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil && secs >= 0 && secs <= 1e11 {
		return time.Unix(secs, 0).UTC(), nil
	}
	for _, layout := range grantTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			// The sender's offset is kept; a time that JSON cannot
			// encode (year past 9999, offset of 24 hours) is refused, so
			// that json.Marshal of a parsed request always works.
			if _, err := t.MarshalJSON(); err != nil {
				return time.Time{}, errors.New("out of range")
			}
			return t, nil
		}
	}
	return time.Time{}, errors.New("neither RFC 3339 nor like 2016-03-03T18:01:31-0800 nor Unix seconds")
}
