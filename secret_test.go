package herokupartner

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every value in these tests that must never be printed starts with this
// marker, so a leak is caught whatever else the value contains.
const (
	secAccess  = "HRKU-access-SECRETa1b2c3"
	secRefresh = "HRKU-refresh-SECRETd4e5f6"
	secClient  = "cs+abc/def==xyzSECRET"
	secCode    = "grant-code-SECRET778899"
	secDrain   = "d.drain-SECRET445566"
)

// logInputURLs are the log_input_url shapes a request may carry, each with
// its credential and the printed form expected.
var logInputURLs = []struct{ raw, secret, shown string }{
	{"https://logs.example.com/logs?token=lq-SECRET-001", "lq-SECRET-001", "https://logs.example.com/[redacted]"},
	{"https://token:lu-SECRET-002@1.us.logplex.io/logs", "lu-SECRET-002", "https://1.us.logplex.io/[redacted]"},
	{"syslog+tls://user:ls-SECRET-003@drain.example.com:6514", "ls-SECRET-003", "syslog+tls://drain.example.com:6514/[redacted]"},
	{"https://logs.example.com/lp-SECRET-004/ingest", "lp-SECRET-004", "https://logs.example.com/[redacted]"},
	{"token:lo-SECRET-005@logs.example.com", "lo-SECRET-005", "[redacted]"},
	{"http://[::1]:%zz/lb-SECRET-006", "lb-SECRET-006", "[redacted]"},
}

type exportedHolder struct {
	Tok    Token
	TokP   *Token
	Req    ProvisionRequest
	ReqP   *ProvisionRequest
	Grant  OAuthGrant
	GrantP *OAuthGrant
	Cfg    TokenManagerConfig
	CfgP   *TokenManagerConfig
	Sec    Secret
	SecP   *Secret
	Toks   []Token
	ByName map[string]Token
	Any    any
}

type unexportedHolder struct {
	tok    Token
	tokP   *Token
	req    ProvisionRequest
	reqP   *ProvisionRequest
	grant  OAuthGrant
	grantP *OAuthGrant
	cfg    TokenManagerConfig
	cfgP   *TokenManagerConfig
	sec    Secret
	secP   *Secret
	toks   []Token
	byName map[string]Token
	any    any
}

// secretValues builds every type that holds a secret, around one
// log_input_url shape, and the values that must never show.
func secretValues(t *testing.T, logURL string) (map[string]any, []string) {
	t.Helper()
	tok := Token{AccessToken: NewSecret(secAccess), RefreshToken: NewSecret(secRefresh), Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	body, err := json.Marshal(map[string]any{
		"uuid": addonID, "name": "acme-db", "plan": "basic", "log_input_url": logURL, "log_drain_token": secDrain,
		"oauth_grant": map[string]any{"code": secCode, "expires_at": "2016-03-03T18:01:31-0800", "type": "authorization_code"},
	})
	require.NoError(t, err)
	req, err := ParseProvisionRequest(bytes.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, logURL, req.LogInputURL.Reveal())
	grant := *req.OAuthGrant
	store := new(MemoryTokenStore)
	require.NoError(t, store.Save(t.Context(), uuid.MustParse(addonID), tok))
	cfg := TokenManagerConfig{ClientSecret: NewSecret(secClient), Store: store, TokenURL: DefaultTokenURL,
		HTTPClient: &http.Client{Timeout: time.Second}, Logger: slog.New(slog.DiscardHandler)}
	sec := NewSecret(secAccess)
	exp := exportedHolder{tok, &tok, *req, req, grant, &grant, cfg, &cfg, sec, &sec,
		[]Token{tok}, map[string]Token{"a": tok}, tok}
	unexp := unexportedHolder{tok, &tok, *req, req, grant, &grant, cfg, &cfg, sec, &sec,
		[]Token{tok}, map[string]Token{"a": tok}, tok}
	values := map[string]any{
		"Token": tok, "*Token": &tok, "ProvisionRequest": *req, "*ProvisionRequest": req,
		"OAuthGrant": grant, "*OAuthGrant": &grant, "TokenManagerConfig": cfg, "*TokenManagerConfig": &cfg,
		"Secret": sec, "*Secret": &sec, "exported holder": exp, "*exported holder": &exp,
		"unexported holder": unexp, "*unexported holder": &unexp,
	}
	return values, []string{secAccess, secRefresh, secClient, secCode, secDrain}
}

// leakForms lists the encodings in which a secret could slip out of a
// printer: raw, hex (%x of a string), URL, JSON and base64.
func leakForms(secret string) []string {
	j, _ := json.Marshal(secret)
	return []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret))),
		url.QueryEscape(secret), string(j[1 : len(j)-1]), base64.StdEncoding.EncodeToString([]byte(secret))}
}

func assertNoSecret(t *testing.T, where, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for _, form := range leakForms(s) {
			if strings.Contains(out, form) {
				// Name the value by position only: the failure message must
				// not print the secret either.
				t.Errorf("%s: a secret leaked (form %d of %d)", where, len(form), len(s))
			}
		}
	}
}

// No secret reaches fmt under any verb, slog's text or JSON handler,
// encoding/json or a TextMarshaler, directly or inside a caller's struct,
// exported or unexported field, by value or by pointer.
func TestSecretsNeverPrint(t *testing.T) {
	for _, shape := range logInputURLs {
		values, secrets := secretValues(t, shape.raw)
		secrets = append(secrets, shape.secret)
		for name, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X"} {
				out := fmt.Sprintf(verb, v)
				require.NotEmpty(t, out)
				assertNoSecret(t, name+" "+verb, out, secrets)
			}
			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "v", v)
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "v", v)
			slog.New(slog.NewJSONHandler(&logs, nil)).LogAttrs(t.Context(), slog.LevelInfo, "m", slog.Any("v", v))
			assertNoSecret(t, name+" slog", logs.String(), secrets)

			b, err := json.Marshal(v)
			require.NoError(t, err, name)
			assertNoSecret(t, name+" json", string(b), secrets)
			if tm, ok := v.(encoding.TextMarshaler); ok {
				b, err := tm.MarshalText()
				require.NoError(t, err)
				assertNoSecret(t, name+" text", string(b), secrets)
			}
		}
	}
}

// The printed forms are Secret's: "[redacted]" for a token, code or client
// secret, scheme://host/[redacted] for a log URL that parses with a host.
func TestSecretPrintedForms(t *testing.T) {
	for _, shape := range logInputURLs {
		values, _ := secretValues(t, shape.raw)
		req := values["ProvisionRequest"].(ProvisionRequest)
		assert.Equal(t, shape.shown, req.LogInputURL.String())
		assert.Contains(t, req.String(), fmt.Sprintf("LogInputURL:%q", shape.shown))
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "req", req)
		assert.Contains(t, logs.String(), fmt.Sprintf(`"log_input_url":%q`, shape.shown))
	}
	values, _ := secretValues(t, logInputURLs[0].raw)
	tok := values["Token"].(Token)
	assert.Equal(t, `herokupartner.Token{AccessToken:"[redacted]" RefreshToken:"[redacted]" Expiry:2026-01-02T03:04:05Z}`, tok.String())
	assert.Equal(t, tok.String(), fmt.Sprintf("%d", tok), "every verb prints String")
	assert.Equal(t, fmt.Sprintf("%q", tok.String()), fmt.Sprintf("%q", tok))
	assert.Equal(t, `herokupartner.Token{AccessToken:"" RefreshToken:"" Expiry:none}`, Token{}.String(), "empty is told apart from redacted")
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	assert.JSONEq(t, `{"AccessToken":"[redacted]","RefreshToken":"[redacted]","Expiry":"2026-01-02T03:04:05Z"}`, string(b))
	cfg := values["TokenManagerConfig"].(TokenManagerConfig)
	assert.Contains(t, cfg.String(), `ClientSecret:"[redacted]"`)
	grant := values["OAuthGrant"].(OAuthGrant)
	assert.Contains(t, grant.String(), `Code:"[redacted]"`)
}

// A store written through the default JSON cannot load a fake token: the
// redacted placeholder fails to decode, with a message that says what to do.
func TestRedactedJSONFailsToDecode(t *testing.T) {
	tok := Token{AccessToken: NewSecret(secAccess), RefreshToken: NewSecret(secRefresh)}
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	var back Token
	err = json.Unmarshal(b, &back)
	require.ErrorIs(t, err, errRedactedSecret)
	assert.Contains(t, err.Error(), "Reveal")

	// Persisting with Reveal is the way, and it round-trips.
	stored, err := json.Marshal(map[string]string{"access": tok.AccessToken.Reveal(), "refresh": tok.RefreshToken.Reveal()})
	require.NoError(t, err)
	var loaded struct{ Access, Refresh Secret }
	require.NoError(t, json.Unmarshal(stored, &loaded))
	assert.True(t, loaded.Access.Equal(tok.AccessToken))
	assert.True(t, loaded.Refresh.Equal(tok.RefreshToken))

	values, _ := secretValues(t, logInputURLs[1].raw)
	for _, name := range []string{"ProvisionRequest", "OAuthGrant"} {
		b, err := json.Marshal(values[name])
		require.NoError(t, err)
		var err2 error
		if name == "ProvisionRequest" {
			var r ProvisionRequest
			err2 = json.Unmarshal(b, &r)
		} else {
			var g OAuthGrant
			err2 = json.Unmarshal(b, &g)
		}
		require.ErrorIs(t, err2, ErrInvalidProvisionRequest, name)
		assert.Contains(t, err2.Error(), "redacted placeholder", name)
	}
	for _, shape := range logInputURLs {
		body := fmt.Sprintf(`{"uuid":%q,"log_input_url":%q}`, addonID, shape.shown)
		_, err := ParseProvisionRequest(strings.NewReader(body))
		require.ErrorIs(t, err, ErrInvalidProvisionRequest, "the printed form %s is refused", shape.shown)
	}
}

func TestSecretBasics(t *testing.T) {
	var zero Secret
	assert.True(t, zero.IsZero())
	assert.True(t, NewSecret("").IsZero())
	assert.Equal(t, "", zero.String())
	assert.True(t, NewSecret("abc").Equal(NewSecret("abc")))
	assert.False(t, NewSecret("abc").Equal(NewSecret("abd")))
	var s Secret
	require.NoError(t, json.Unmarshal([]byte(`null`), &s))
	assert.True(t, s.IsZero())
	require.Error(t, json.Unmarshal([]byte(`42`), &s))
	require.NoError(t, json.Unmarshal([]byte(`"v"`), &s))
	assert.Equal(t, "v", s.Reveal())
}
