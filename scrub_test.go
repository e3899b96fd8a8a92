package herokupartner

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrubSecrets are shaped like what the token endpoint sees: a client
// secret with URL-reserved characters, a grant code, an access and a
// refresh token, and one with a space, a quote and a non-ASCII letter.
var scrubSecrets = []string{
	"cs+abc/def==xyz",
	"9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
	"HRKU-access.0123456789abcdef",
	"HRKU-refresh~fedcba9876543210",
	`pa ss"wörd<&>\x`,
}

// percentAll escapes every byte of s, in the given hex case.
func percentAll(s string, upper bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if upper {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// jsonAll escapes every character of s as \uXXXX.
func jsonAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// echoForms lists the ways a server can echo sec back.
func echoForms(sec string) map[string]string {
	q := url.QueryEscape(sec)
	j, _ := json.Marshal(sec)
	js := string(j[1 : len(j)-1])
	return map[string]string{
		"raw":                 sec,
		"query escape":        q,
		"query escape, lower": lowerHex(q),
		"path escape":         url.PathEscape(sec),
		"every byte escaped":  percentAll(sec, true),
		"every byte, lower":   percentAll(sec, false),
		"form body":           url.Values{"client_secret": {sec}, "grant_type": {"refresh_token"}}.Encode(),
		"json":                js,
		"json, escaped slash": strings.ReplaceAll(js, "/", `\/`),
		"json, every char":    jsonAll(sec),
		"json of the form":    mustJSON(url.Values{"code": {sec}}.Encode()),
		"base64":              base64.StdEncoding.EncodeToString([]byte(sec)),
		"base64 url, raw":     base64.RawURLEncoding.EncodeToString([]byte(sec)),
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lowerHex lower-cases the hex digits of percent escapes only.
func lowerHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b.WriteString("%" + strings.ToLower(s[i+1:i+3]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestScrubRemovesEveryEncoding(t *testing.T) {
	for i, sec := range scrubSecrets {
		for name, form := range echoForms(sec) {
			text := "error: bad request near " + form + " (see docs)"
			out := scrub(text, scrubSecrets...)
			// Messages name the secret by index: they must not print it.
			assert.NotContains(t, out, form, "secret %d, %s: still there", i, name)
			assert.NotContains(t, out, sec, "secret %d, %s: raw value left", i, name)
			assert.Contains(t, out, redactedText, "secret %d, %s", i, name)
			assert.True(t, strings.HasPrefix(out, "error: bad request near ") && strings.HasSuffix(out, " (see docs)"),
				"secret %d, %s: the rest of the text stays", i, name)
		}
	}
}

// A secret inside a longer base64 text, at each of the three alignments,
// leaves no run of its encoding behind.
func TestScrubBase64InsideALongerText(t *testing.T) {
	for i, sec := range scrubSecrets {
		for _, prefix := range []string{"", "a", "ab", "client_secret="} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				plain := prefix + sec + "&grant_type=authorization_code"
				encoded := enc.EncodeToString([]byte(plain))
				out := scrub("body: "+encoded, scrubSecrets...)
				start := (8*len(prefix) + 5) / 6
				end := 8 * (len(prefix) + len(sec)) / 6
				core := encoded[start:end]
				for w := 0; w+8 <= len(core); w++ {
					if strings.Contains(out, core[w:w+8]) {
						t.Errorf("secret %d, prefix %d bytes: part of its base64 survived", i, len(prefix))
						break
					}
				}
			}
		}
	}
}

func TestScrubInvalidUTF8Secret(t *testing.T) {
	sec := "tok\xff\xfe-SECRET"
	for _, form := range []string{sec, url.QueryEscape(sec), lowerHex(url.QueryEscape(sec))} {
		out := scrub("x "+form+" y", sec)
		assert.Equal(t, "x "+redactedText+" y", out)
	}
}

func TestScrubLeavesOtherTextAlone(t *testing.T) {
	text := `{"id":"invalid_grant","message":"The grant is invalid; 100% sure. a+b/c"}`
	assert.Equal(t, text, scrub(text, scrubSecrets...))
	assert.Equal(t, "", scrub("", scrubSecrets...))
	assert.Equal(t, "abc abc", scrub("abc abc", "abc"), "implausibly short secrets are not scrubbed")
}

// The token endpoint's errors go through newAPIError with the secrets:
// neither a Heroku JSON body nor an HTML page that echoes them in any
// encoding reaches the error text.
func TestNewAPIErrorScrubsEchoedSecrets(t *testing.T) {
	sec := scrubSecrets[0]
	for name, form := range echoForms(sec) {
		for _, body := range []string{
			`{"id":"unauthorized","message":"bad secret ` + strings.ReplaceAll(form, `"`, `\"`) + `"}`,
			"<html><body>bad secret " + form + "</body></html>",
		} {
			e := newAPIError(http.MethodPost, tokenPath, 1, 401, http.Header{"Request-Id": {"r1"}}, []byte(body), sec)
			text := e.Error() + fmt.Sprintf(" %+v %#v", e, e)
			for n, f := range echoForms(sec) {
				if n == "form body" || n == "json of the form" {
					continue // longer texts that contain other forms
				}
				assert.NotContains(t, text, f, "%s echoed, %s found", name, n)
			}
			require.ErrorIs(t, e, ErrUnauthorized)
		}
	}
}
