package herokupartner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFixture(t *testing.T, name string) *ProvisionRequest {
	t.Helper()
	req, err := ParseProvisionRequest(bytes.NewReader(readFixture(t, name)))
	require.NoError(t, err, name)
	return req
}

func TestParseProvisionRequestDocumentedExample(t *testing.T) {
	req := parseFixture(t, "provision_v3.json")
	assert.Equal(t, uuid.MustParse("01234567-89ab-cdef-0123-456789abcdef"), req.UUID)
	assert.Equal(t, "acme-inc-primary-database", req.Name)
	assert.Equal(t, "basic", req.Plan)
	assert.Equal(t, "amazon-web-services::us-east-1", req.Region)
	assert.Equal(t, "https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef", req.CallbackURL)
	assert.Equal(t, map[string]string{"foo": "bar", "baz": "true"}, req.Options)
	assert.Equal(t, "https://token:t.01234567-89ab-cdef-0123-456789abcdef@1.us.logplex.io/logs", req.LogInputURL.Reveal())
	assert.Equal(t, "d.01234567-89ab-cdef-0123-456789abcdef", req.LogDrainToken.Reveal())
	require.NotNil(t, req.OAuthGrant)
	assert.Equal(t, "9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", req.OAuthGrant.Code.Reveal())
	assert.Equal(t, GrantTypeAuthorizationCode, req.OAuthGrant.Type)
	// The documented -0800 form, which time.Time's JSON decoding rejects.
	assert.True(t, req.OAuthGrant.ExpiresAt.Equal(time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC)), "got %s", req.OAuthGrant.ExpiresAt)
	_, offset := req.OAuthGrant.ExpiresAt.Zone()
	assert.Equal(t, -8*3600, offset, "the sender's offset is kept")
}

func TestParseProvisionRequestRFC3339(t *testing.T) {
	req := parseFixture(t, "provision_rfc3339.json")
	require.NotNil(t, req.OAuthGrant)
	assert.True(t, req.OAuthGrant.ExpiresAt.Equal(time.Date(2026, 5, 28, 10, 15, 0, 250e6, time.UTC)))
	assert.Empty(t, req.Options)
	assert.Empty(t, req.LogInputURL)
	assert.Empty(t, req.HerokuID)
}

func TestParseProvisionRequestIsLenient(t *testing.T) {
	req := parseFixture(t, "provision_lenient.json")
	assert.Equal(t, "5a5a5a5a-0000-4000-8000-000000000002", req.UUID.String(), "upper-case uuid is canonicalised")
	assert.Equal(t, "app123@heroku.com", req.HerokuID, "legacy heroku_id is kept")
	assert.Equal(t, map[string]string{
		"replicas": "3", "ha": "true", "note": "", "tags": `["a","b"]`, "nested": `{"k":"v"}`,
	}, req.Options, "non-string option values are kept as their JSON text")
	require.NotNil(t, req.OAuthGrant)
	assert.Empty(t, req.OAuthGrant.Type, "a grant without type is accepted")
	assert.True(t, req.OAuthGrant.ExpiresAt.Equal(time.Date(2026, 5, 28, 8, 15, 0, 0, time.UTC)))
}

func TestParseProvisionRequestWithoutGrant(t *testing.T) {
	req := parseFixture(t, "provision_no_grant.json")
	assert.Nil(t, req.OAuthGrant, "a null grant is visible as nil")

	req, err := ParseProvisionRequest(strings.NewReader(`{"uuid":"5a5a5a5a-0000-4000-8000-000000000003"}`))
	require.NoError(t, err)
	assert.Nil(t, req.OAuthGrant, "an absent grant is visible as nil")
}

func TestGrantExpiryForms(t *testing.T) {
	want := time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC)
	for _, form := range []string{
		`"2016-03-03T18:01:31-0800"`,
		`"2016-03-03T18:01:31-08:00"`,
		`"2016-03-04T02:01:31Z"`,
		`"2016-03-04T02:01:31+0000"`,
		`"2016-03-03T18:01:31.000-0800"`,
		`"2016-03-03 18:01:31 -0800"`,
		` "2016-03-04T02:01:31Z" `,
		`1457056891`,
		`"1457056891"`,
	} {
		body := fmt.Sprintf(`{"uuid":%q,"oauth_grant":{"code":"c","expires_at":%s}}`, addonID, form)
		req, err := ParseProvisionRequest(strings.NewReader(body))
		if assert.NoError(t, err, form) {
			assert.True(t, req.OAuthGrant.ExpiresAt.Equal(want), "%s parsed as %s", form, req.OAuthGrant.ExpiresAt)
		}
	}
	for _, form := range []string{`""`, `null`} {
		req, err := ParseProvisionRequest(strings.NewReader(fmt.Sprintf(`{"uuid":%q,"oauth_grant":{"code":"c","expires_at":%s}}`, addonID, form)))
		require.NoError(t, err, form)
		assert.True(t, req.OAuthGrant.ExpiresAt.IsZero(), "%s means no expiry given", form)
	}
}

func TestParseProvisionRequestErrorsNameTheField(t *testing.T) {
	grant := func(g string) string { return fmt.Sprintf(`{"uuid":%q,"oauth_grant":%s}`, addonID, g) }
	for _, tc := range []struct{ body, field string }{
		{`{}`, "uuid: missing"},
		{`{"uuid":null}`, "uuid: missing"},
		{`{"uuid":42}`, "uuid: want a string, got a number"},
		{`{"uuid":"not-a-uuid"}`, `uuid: not a UUID`},
		{`{"uuid":"00000000-0000-0000-0000-000000000000"}`, "uuid:"},
		{fmt.Sprintf(`{"uuid":%q,"plan":7}`, addonID), "plan: want a string, got a number"},
		{fmt.Sprintf(`{"uuid":%q,"options":"x=y"}`, addonID), "options: want an object, got a string"},
		{grant(`"code"`), "oauth_grant: want an object, got a string"},
		{grant(`{}`), "oauth_grant.code: missing"},
		{grant(`{"code":""}`), "oauth_grant.code: empty"},
		{grant(`{"code":123}`), "oauth_grant.code: want a string, got a number"},
		{grant(`{"code":"c","type":"password"}`), `oauth_grant.type: not "authorization_code"`},
		{grant(`{"code":"c","expires_at":"next tuesday"}`), "oauth_grant.expires_at:"},
		{grant(`{"code":"c","expires_at":true}`), "oauth_grant.expires_at: want a timestamp string or Unix seconds, got a boolean"},
		{`[]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{``, "not a JSON object"},
		{`{"uuid":"` + addonID + `"`, "not a JSON object"},
	} {
		_, err := ParseProvisionRequest(strings.NewReader(tc.body))
		if assert.Error(t, err, tc.body) {
			assert.ErrorIs(t, err, ErrInvalidProvisionRequest, tc.body)
			assert.Contains(t, err.Error(), tc.field, tc.body)
		}
	}
}

func TestParseProvisionRequestErrorsDoNotEchoTheCode(t *testing.T) {
	const code = "HRKU-grant-code-secret"
	for _, body := range []string{
		`{"uuid":"` + code + `","oauth_grant":{"code":"` + code + `"}}`,
		`{"uuid":"` + addonID + `","oauth_grant":{"code":"` + code + `","type":7}}`,
		`{"uuid":"` + addonID + `","oauth_grant":{"code":"` + code + `","expires_at":"bad"}}`,
	} {
		_, err := ParseProvisionRequest(strings.NewReader(body))
		require.Error(t, err)
		assertNoToken(t, err.Error())
	}
}

// No error names a value the sender wrote, only the field and the problem:
// a credential pasted into the wrong field must not reach the logs.
func TestParseProvisionRequestErrorsNeverEchoInput(t *testing.T) {
	const pasted = "HRKU-pasted-secret-zz9"
	grant := func(g string) string { return fmt.Sprintf(`{"uuid":%q,"oauth_grant":%s}`, addonID, g) }
	for _, body := range []string{
		`{"uuid":"` + pasted + `"}`,
		`{"uuid":" ` + pasted + ` "}`,
		grant(`{"code":"c","type":"` + pasted + `"}`),
		grant(`{"code":"c","expires_at":"` + pasted + `"}`),
		grant(`{"code":"c","expires_at":"9999-12-31T23:59:59-2400` + `"}`),
		grant(`{"code":"c","expires_at":{"` + pasted + `":1}}`),
		fmt.Sprintf(`{"uuid":%q,"options":["%s"]}`, addonID, pasted),
		fmt.Sprintf(`{"uuid":%q,"plan":{"%s":1}}`, addonID, pasted),
	} {
		_, err := ParseProvisionRequest(strings.NewReader(body))
		require.ErrorIs(t, err, ErrInvalidProvisionRequest, body)
		assert.NotContains(t, err.Error(), pasted, "the error repeats the sender's value")
		var viaJSON ProvisionRequest
		jerr := json.Unmarshal([]byte(body), &viaJSON)
		require.ErrorIs(t, jerr, ErrInvalidProvisionRequest, "json.Unmarshal is the same parser")
		assert.Equal(t, err.Error(), jerr.Error())
	}
}

// json.Unmarshal into a ProvisionRequest is ParseProvisionRequest: it
// accepts Heroku's -0800 expiry, and a struct holding a request decodes it.
func TestProvisionRequestUnmarshalJSONIsTheParser(t *testing.T) {
	raw := readFixture(t, "provision_v3.json")
	want := parseFixture(t, "provision_v3.json")
	var got ProvisionRequest
	require.NoError(t, json.Unmarshal(raw, &got))
	assertSameRequest(t, want, &got)

	var holder struct {
		Req  ProvisionRequest  `json:"req"`
		Ptr  *ProvisionRequest `json:"ptr"`
		Rest json.RawMessage   `json:"rest"`
	}
	body := `{"req":` + string(raw) + `,"ptr":` + string(raw) + `}`
	require.NoError(t, json.Unmarshal([]byte(body), &holder))
	assertSameRequest(t, want, &holder.Req)
	assertSameRequest(t, want, holder.Ptr)

	var g OAuthGrant
	require.NoError(t, json.Unmarshal([]byte(`{"code":"c0de","expires_at":"2016-03-03T18:01:31-0800"}`), &g))
	assert.Equal(t, "c0de", g.Code.Reveal())
	assert.True(t, g.ExpiresAt.Equal(time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC)))
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"code":""}`), &g), ErrInvalidProvisionRequest)

	// The documented way to keep a request for a later exchange: keep the
	// raw body and parse it again.
	again, err := ParseProvisionRequest(bytes.NewReader(raw))
	require.NoError(t, err)
	assertSameRequest(t, want, again)
}

// assertSameRequest compares two requests, secrets included.
func assertSameRequest(t *testing.T, want, got *ProvisionRequest) {
	t.Helper()
	require.Equal(t, want.String(), got.String())
	require.Equal(t, want.LogInputURL.Reveal(), got.LogInputURL.Reveal())
	require.Equal(t, want.LogDrainToken.Reveal(), got.LogDrainToken.Reveal())
	require.Equal(t, want.OAuthGrant == nil, got.OAuthGrant == nil)
	if want.OAuthGrant != nil {
		require.Equal(t, want.OAuthGrant.Code.Reveal(), got.OAuthGrant.Code.Reveal())
		require.True(t, want.OAuthGrant.ExpiresAt.Equal(got.OAuthGrant.ExpiresAt))
	}
}

// endlessReader is an endless body that counts what was read from it.
type endlessReader struct{ n int }

func (r *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	r.n += len(p)
	return len(p), nil
}

func TestParseProvisionRequestBoundsTheBody(t *testing.T) {
	valid := fmt.Sprintf(`{"uuid":%q}`, addonID)
	atLimit := valid + strings.Repeat(" ", MaxProvisionRequestSize-len(valid))
	_, err := ParseProvisionRequest(strings.NewReader(atLimit))
	require.NoError(t, err, "a body of exactly the limit is accepted")

	_, err = ParseProvisionRequest(strings.NewReader(atLimit + " "))
	require.ErrorIs(t, err, ErrInvalidProvisionRequest)
	assert.Contains(t, err.Error(), "larger than")

	r := &endlessReader{}
	_, err = ParseProvisionRequest(io.MultiReader(strings.NewReader(valid), r))
	require.ErrorIs(t, err, ErrInvalidProvisionRequest)
	assert.LessOrEqual(t, r.n, MaxProvisionRequestSize+1, "reading stops at the bound")

	_, err = ParseProvisionRequest(nil)
	assert.ErrorIs(t, err, ErrInvalidProvisionRequest)
}

func TestProvisionRequestNeverPrintsCredentials(t *testing.T) {
	req := parseFixture(t, "provision_v3.json")
	holder := struct {
		Req   ProvisionRequest
		Ptr   *ProvisionRequest
		Grant OAuthGrant
	}{*req, req, *req.OAuthGrant}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("provisioning", "req", req, "grant", req.OAuthGrant)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("provisioning", "req", *req, "grant", *req.OAuthGrant)
	secrets := []string{req.OAuthGrant.Code.Reveal(), "t.01234567", "d.01234567"}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s", req, req, req, req),
		fmt.Sprintf("%v %+v %#v", *req, *req, *req),
		fmt.Sprintf("%v %+v %#v", holder, holder, holder),
		fmt.Sprintf("%v %+v %#v", req.OAuthGrant, *req.OAuthGrant, *req.OAuthGrant),
		logs.String(),
	} {
		for _, secret := range secrets {
			assert.False(t, strings.Contains(s, secret), "a credential leaked into printed or logged output")
		}
	}
	printed := req.String()
	assert.Contains(t, printed, "acme-inc-primary-database", "the rest stays readable")
	assert.Contains(t, printed, "1.us.logplex.io", "the log URL's host stays readable")
	assert.Contains(t, logs.String(), "[redacted]")
}

// A parsed request always encodes; without credentials it parses back
// unchanged, and with them decoding fails loudly, since the default JSON
// redacts them (persist the raw body instead).
func TestProvisionRequestRoundTrips(t *testing.T) {
	for _, name := range []string{"provision_v3.json", "provision_rfc3339.json", "provision_lenient.json", "provision_no_grant.json"} {
		req := parseFixture(t, name)
		assertRoundTrips(t, req)
	}
}

func assertRoundTrips(t *testing.T, req *ProvisionRequest) {
	t.Helper()
	b, err := json.Marshal(req)
	require.NoError(t, err, "every parsed request can be encoded")
	again, err := ParseProvisionRequest(bytes.NewReader(b))
	if !req.LogInputURL.IsZero() || !req.LogDrainToken.IsZero() || req.OAuthGrant != nil {
		// The default JSON redacts the credentials; decoding it must fail
		// rather than yield "[redacted]" as a grant code or URL.
		require.ErrorIs(t, err, ErrInvalidProvisionRequest, "a redacted request decodes only with an error")
		require.Contains(t, err.Error(), "redacted placeholder")
		var viaJSON ProvisionRequest
		require.ErrorIs(t, json.Unmarshal(b, &viaJSON), ErrInvalidProvisionRequest)
		return
	}
	require.NoError(t, err, "re-parsing the encoded request")
	if len(req.Options) == 0 && len(again.Options) == 0 {
		req.Options, again.Options = nil, nil
	}
	require.Equal(t, req.String(), again.String())
	require.Equal(t, req.Options, again.Options)
}

// FuzzParseProvisionRequest checks that no body makes the parser panic, that
// what it accepts is valid, and that what it accepts round-trips.
func FuzzParseProvisionRequest(f *testing.F) {
	for _, name := range []string{"provision_v3.json", "provision_rfc3339.json", "provision_lenient.json", "provision_no_grant.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"uuid":"01234567-89ab-cdef-0123-456789abcdef","oauth_grant":{"code":"c","expires_at":1e300}}`))
	f.Add([]byte(`{"uuid":"01234567-89ab-cdef-0123-456789abcdef","options":{"a":{"b":[1,{"c":null}]}}}`))
	f.Add([]byte(`{"uuid":"{01234567-89ab-cdef-0123-456789abcdef}","oauth_grant":{"code":" ","type":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseProvisionRequest(bytes.NewReader(data))
		if err != nil {
			if req != nil {
				t.Fatal("a request returned along with an error")
			}
			var viaJSON ProvisionRequest
			if json.Unmarshal(data, &viaJSON) == nil {
				t.Fatal("json.Unmarshal accepted what the parser refused")
			}
			return
		}
		if req.UUID == uuid.Nil {
			t.Fatal("accepted a request without a uuid")
		}
		if req.OAuthGrant != nil && strings.TrimSpace(req.OAuthGrant.Code.Reveal()) == "" {
			t.Fatal("accepted a grant without a code")
		}
		var viaJSON ProvisionRequest
		if err := json.Unmarshal(data, &viaJSON); err != nil {
			t.Fatalf("json.Unmarshal refused what the parser accepted: %v", err)
		}
		assertSameRequest(t, req, &viaJSON)
		assertRoundTrips(t, req)
	})
}
