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
// Reveal returns the value. The value sits behind a pointer to a string,
// so even fmt's reflection over a struct's unexported fields, under any
// verb, prints an address, never the credential.
//
// The zero Secret is empty. Secrets compare with Equal, not ==.
type Secret struct {
	// v is a *string, not a pointer to a struct: fmt dereferences a
	// pointer to a struct it meets at the top of a bad-verb report (%s of
	// an unexported field), but only prints the address of a *string.
	v *string
	// url marks a URL that embeds a credential; it prints as its scheme
	// and host only.
	url bool
}

// NewSecret wraps s; an empty s gives the empty Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// newSecretURL wraps a URL that embeds a credential (in its user info,
// path or query); it prints as its scheme and host only.
func newSecretURL(raw string) Secret {
	s := NewSecret(raw)
	s.url = s.v != nil
	return s
}

// shown is the printed form of a non-empty Secret: redactedText, or for a
// URL that parses with a host and a known scheme, scheme://host/ followed
// by redactedText.
func (s Secret) shown() string {
	if !s.url {
		return redactedText
	}
	u, err := url.Parse(*s.v)
	if err != nil || u.Host == "" {
		return redactedText
	}
	switch u.Scheme {
	case "https", "http", "syslog", "syslog+tls":
		return u.Scheme + "://" + u.Host + "/" + redactedText
	}
	return redactedText
}

// Reveal returns the credential itself. Call it only where the value must
// leave the program: a request header, a form, your encrypted store.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// Equal reports whether s and o hold the same value, in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// String returns "[redacted]" (scheme://host/[redacted] for a URL that
// embeds a credential), or "" for an empty Secret.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return s.shown()
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
