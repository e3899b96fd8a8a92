package herokupartner

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
)

// redactedText is what every printed or encoded form of a Secret shows.
const redactedText = "[redacted]"

// Secret holds a credential: an OAuth access or refresh token, a grant
// code, a client secret, or a URL that embeds one. Every printed or encoded
// form of a Secret (fmt with any verb, slog text and JSON, encoding/json,
// encoding.TextMarshaler) shows "[redacted]", or "" when it is empty; only
// Reveal returns the value. The value sits behind a pointer, so even fmt's
// reflection over a struct's unexported fields prints an address, never
// the credential.
//
// The zero Secret is empty. Secrets compare with Equal, not ==.
type Secret struct{ p *secretValue }

type secretValue struct {
	value string
	// shown is the printed form: redactedText, or for a URL its scheme and
	// host followed by redactedText.
	shown string
}

// NewSecret wraps s; an empty s gives the empty Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{&secretValue{value: s, shown: redactedText}}
}

// newSecretURL wraps a URL that embeds a credential (in its user info,
// path or query); it prints as its scheme and host only.
func newSecretURL(raw string) Secret {
	s := NewSecret(raw)
	if s.p == nil {
		return s
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" &&
		(u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "syslog" || u.Scheme == "syslog+tls") {
		s.p.shown = u.Scheme + "://" + u.Host + "/" + redactedText
	}
	return s
}

// Reveal returns the credential itself. Call it only where the value must
// leave the program: a request header, a form, your encrypted store.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return s.p.value
}

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return s.p == nil || s.p.value == "" }

// Equal reports whether s and o hold the same value, in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// String returns "[redacted]", or "" for an empty Secret.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return s.p.shown
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints String under every verb, so that %d, %x or %s never
// reveal the value; %q quotes it.
func (s Secret) Format(f fmt.State, verb rune) { formatAs(f, verb, s.String()) }

// formatAs prints text under every verb, quoted for %q: the Format of every
// type that holds a Secret, so that no verb (%d, %x, ...) falls back to
// walking its fields.
func formatAs(f fmt.State, verb rune, text string) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", text)
		return
	}
	_, _ = f.Write([]byte(text))
}

// LogValue makes slog log String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes String as a JSON string: the value never reaches
// JSON. Persist a credential with Reveal.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns String: the value never reaches a text encoding.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// errRedactedSecret refuses to decode a value that was written redacted, so
// that a store written through the default JSON fails loudly instead of
// yielding "[redacted]" as a token.
var errRedactedSecret = errors.New("herokupartner: refusing to decode a redacted secret: store credentials with Secret.Reveal")

// UnmarshalJSON decodes a JSON string (null gives the empty Secret).
func (s *Secret) UnmarshalJSON(data []byte) error {
	var v *string
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("herokupartner: a secret must be a JSON string")
	}
	if v == nil {
		*s = Secret{}
		return nil
	}
	return s.UnmarshalText([]byte(*v))
}

// UnmarshalText decodes text as the value.
func (s *Secret) UnmarshalText(text []byte) error {
	if string(text) == redactedText {
		return errRedactedSecret
	}
	*s = NewSecret(string(text))
	return nil
}
