package herokupartnertest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func tokenForm(grantType string, kv ...string) url.Values {
	v := url.Values{"grant_type": {grantType}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// postForm posts form to the token endpoint as id.heroku.com expects it.
func postForm(t *testing.T, s *herokupartnertest.Server, form url.Values, hdr ...string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, "/oauth/token", "", strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

const oauthInvalid = `{"id":"unauthorized","message":"OAuth authorization invalid."}`

func exchange(t *testing.T, w *world, addonID uuid.UUID) (access, refresh string) {
	t.Helper()
	code, _ := w.s.IssueGrant(addonID)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	m := a.object(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

func TestTokenExchange(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithClock(clk.Now))
	code, expires := w.s.IssueGrant(w.a.ID)
	assert.Equal(t, clk.Now().Add(5*time.Minute), expires, "grant codes live five minutes")

	// No client_id: Heroku identifies the add-on by its secret alone.
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	_, err := uuid.Parse(a.header.Get("Request-Id"))
	assert.NoError(t, err)
	assert.Empty(t, a.header.Get("RateLimit-Remaining"), "the token endpoint is not the API")
	m := a.object(t)
	assert.Len(t, m, 6)
	access, ok1 := m["access_token"].(string)
	refresh, ok2 := m["refresh_token"].(string)
	assert.True(t, ok1 && strings.HasPrefix(access, "HRKU-"))
	assert.True(t, ok2 && refresh != "" && refresh != access)
	assert.Equal(t, float64(28799), m["expires_in"])
	assert.Equal(t, "Bearer", m["token_type"])
	_, err = uuid.Parse(m["user_id"].(string))
	assert.NoError(t, err)
	v, present := m["session_nonce"]
	assert.True(t, present && v == nil, "session_nonce is present and null")

	// The token reaches the add-on, and only its scope.
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), access, nil).status)
	requireError(t, call(t, w.s, http.MethodGet, w.addonPath(w.b.ID), access, nil), http.StatusForbidden, "forbidden")

	// A replayed code is refused like an expired one.
	a = postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	requireError(t, a, http.StatusUnauthorized, "unauthorized")
	assert.JSONEq(t, oauthInvalid, string(a.raw))
}

func TestTokenExchangeVariants(t *testing.T) {
	w := newWorld(t)
	// A client_id, when sent, is ignored.
	code, _ := w.s.IssueGrant(w.a.ID)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret(), "client_id", "whatever"))
	assert.Equal(t, http.StatusOK, a.status)

	// Heroku's example add-on sends the parameters in the query string.
	code, _ = w.s.IssueGrant(w.a.ID)
	q := tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret())
	a = call(t, w.s, http.MethodPost, "/oauth/token?"+q.Encode(), "", nil)
	assert.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
}

func TestTokenExchangeExpiredCode(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithClock(clk.Now))
	code, _ := w.s.IssueGrant(w.a.ID)
	clk.Advance(5 * time.Minute)
	a := postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret()))
	requireError(t, a, http.StatusUnauthorized, "unauthorized")
	assert.JSONEq(t, oauthInvalid, string(a.raw))

	// Just inside the five minutes, a fresh code works.
	code, _ = w.s.IssueGrant(w.a.ID)
	clk.Advance(5*time.Minute - time.Second)
	assert.Equal(t, http.StatusOK, postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret())).status)
}

func TestTokenEndpointRefusals(t *testing.T) {
	w := newWorld(t)
	code, _ := w.s.IssueGrant(w.a.ID)
	for name, form := range map[string]url.Values{
		"bad secret":     tokenForm("authorization_code", "code", code, "client_secret", "not-the-secret"),
		"no secret":      tokenForm("authorization_code", "code", code),
		"unknown code":   tokenForm("authorization_code", "code", uuid.NewString(), "client_secret", w.s.ClientSecret()),
		"no code":        tokenForm("authorization_code", "client_secret", w.s.ClientSecret()),
		"unknown token":  tokenForm("refresh_token", "refresh_token", "nope", "client_secret", w.s.ClientSecret()),
		"no refresh tok": tokenForm("refresh_token", "client_secret", w.s.ClientSecret()),
	} {
		a := postForm(t, w.s, form)
		assert.Equalf(t, http.StatusUnauthorized, a.status, "%s", name)
		assert.JSONEqf(t, oauthInvalid, string(a.raw), "%s", name)
	}
	// A refused attempt with the wrong secret did not use the code up.
	assert.Equal(t, http.StatusOK, postForm(t, w.s, tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret())).status)

	requireError(t, postForm(t, w.s, tokenForm("password", "client_secret", w.s.ClientSecret())), http.StatusBadRequest, "bad_request")
	requireError(t, postForm(t, w.s, url.Values{}), http.StatusBadRequest, "bad_request")
}

func TestTokenRefresh(t *testing.T) {
	w := newWorld(t)
	access, refresh := exchange(t, w, w.a.ID)

	a := postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status, "body %s", a.raw)
	m := a.object(t)
	access2 := m["access_token"].(string)
	assert.True(t, access2 != access, "a refresh issues a new access token")
	assert.True(t, m["refresh_token"] == refresh, "without rotation the refresh token comes back unchanged")
	assert.Equal(t, float64(28799), m["expires_in"])
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), access2, nil).status)

	// The refresh token stays valid.
	assert.Equal(t, http.StatusOK, postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret())).status)
	// And needs the secret.
	a = postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", "wrong"))
	assert.JSONEq(t, oauthInvalid, string(a.raw))
}

func TestTokenRefreshRotation(t *testing.T) {
	w := newWorld(t, herokupartnertest.WithRefreshTokenRotation(true))
	_, refresh := exchange(t, w, w.a.ID)
	a := postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status)
	refresh2 := a.object(t)["refresh_token"].(string)
	assert.True(t, refresh2 != "" && refresh2 != refresh, "rotation answers a new refresh token")

	a = postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	assert.Equal(t, http.StatusUnauthorized, a.status, "the used refresh token is dead")
	assert.JSONEq(t, oauthInvalid, string(a.raw))
	assert.Equal(t, http.StatusOK, postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh2, "client_secret", w.s.ClientSecret())).status)
}

func TestRevokeGrant(t *testing.T) {
	w := newWorld(t)
	access, refresh := exchange(t, w, w.a.ID)
	pending, _ := w.s.IssueGrant(w.a.ID)
	_, refreshB := exchange(t, w, w.b.ID)

	w.s.RevokeGrant(w.a.ID)
	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), access, nil)
	requireError(t, a, http.StatusUnauthorized, "unauthorized", "Invalid credentials provided.")
	requireError(t, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil), http.StatusUnauthorized, "unauthorized")
	a = postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	assert.JSONEq(t, oauthInvalid, string(a.raw))
	a = postForm(t, w.s, tokenForm("authorization_code", "code", pending, "client_secret", w.s.ClientSecret()))
	assert.JSONEq(t, oauthInvalid, string(a.raw))

	// Other add-ons are unaffected, and a new grant works again.
	assert.Equal(t, http.StatusOK, postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refreshB, "client_secret", w.s.ClientSecret())).status)
	fresh, _ := exchange(t, w, w.a.ID)
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), fresh, nil).status)
}

func TestExpireAccessTokens(t *testing.T) {
	w := newWorld(t)
	access, refresh := exchange(t, w, w.a.ID)
	w.s.ExpireAccessTokens(w.a.ID)
	a := call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), access, nil)
	requireError(t, a, http.StatusUnauthorized, "unauthorized", "Invalid credentials provided.")
	assert.Equal(t, http.StatusUnauthorized, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), w.tokA, nil).status)
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.b.ID), w.tokB, nil).status, "other add-ons keep theirs")

	// The refresh token still works and its access token is accepted.
	a = postForm(t, w.s, tokenForm("refresh_token", "refresh_token", refresh, "client_secret", w.s.ClientSecret()))
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, http.StatusOK, call(t, w.s, http.MethodGet, w.addonPath(w.a.ID), a.object(t)["access_token"].(string), nil).status)
}

// TestOAuth2Library checks that golang.org/x/oauth2, configured the way
// Heroku needs (secret only, in the form), works against the endpoint.
func TestOAuth2Library(t *testing.T) {
	clk := newClock()
	w := newWorld(t, herokupartnertest.WithClock(clk.Now))
	conf := &oauth2.Config{
		ClientSecret: w.s.ClientSecret(),
		Endpoint:     oauth2.Endpoint{TokenURL: w.s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, w.s.HTTPClient())
	code, _ := w.s.IssueGrant(w.a.ID)
	tok, err := conf.Exchange(ctx, code)
	require.NoError(t, err)
	assert.True(t, tok.AccessToken != "" && tok.RefreshToken != "")
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.WithinDuration(t, time.Now().Add(8*time.Hour), tok.Expiry, time.Minute)

	// Refresh through the library, then a rejected refresh surfaces as a
	// RetrieveError carrying Heroku's body.
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	assert.True(t, tok2.AccessToken != tok.AccessToken)
	w.s.RevokeGrant(w.a.ID)
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
	assert.JSONEq(t, oauthInvalid, string(re.Body))

	for _, r := range w.s.Requests() {
		if r.Route == herokupartnertest.RouteToken {
			assert.Empty(t, r.Form.Get("client_id"), "x/oauth2 sends no client_id when none is configured")
		}
	}
}

func TestTokenFaults(t *testing.T) {
	w := newWorld(t)
	w.s.Fail(herokupartnertest.RouteToken, herokupartnertest.Fault{Status: http.StatusServiceUnavailable})
	code, _ := w.s.IssueGrant(w.a.ID)
	form := tokenForm("authorization_code", "code", code, "client_secret", w.s.ClientSecret())
	requireError(t, postForm(t, w.s, form), http.StatusServiceUnavailable, "unavailable")
	// The faulted request never reached the endpoint, so the code is unused.
	assert.Equal(t, http.StatusOK, postForm(t, w.s, form).status)
}
