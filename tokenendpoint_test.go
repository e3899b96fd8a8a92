package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generous bounds a wait that must end long before it: failing it means
// the call was not bounded at all, not that the machine was slow.
const generous = 20 * time.Second

// sink is a server that must receive nothing.
func sink(t *testing.T, tls bool) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &hits
}

// A token endpoint answering 307 or 308, to another host or from https to
// plain http, gets the form (client secret, code, refresh token) nowhere
// else: the redirect is refused and the other server receives nothing.
func TestTokenEndpointRedirectsAreRefused(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, target := range []string{"another host", "plain http", "same origin"} {
			t.Run(fmt.Sprintf("%d to %s", status, target), func(t *testing.T) {
				other, hits := sink(t, target == "another host")
				var tokenSrv *httptest.Server
				var tokenHits, followed atomic.Int32
				tokenSrv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/elsewhere" {
						followed.Add(1)
						return
					}
					tokenHits.Add(1)
					loc := other.URL + "/oauth/token"
					if target == "same origin" {
						loc = tokenSrv.URL + "/elsewhere"
					}
					http.Redirect(w, r, loc, status)
				}))
				t.Cleanup(tokenSrv.Close)
				store := new(MemoryTokenStore)
				m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), Store: store,
					TokenURL: tokenSrv.URL + "/oauth/token", HTTPClient: tokenSrv.Client()})
				require.NoError(t, err)

				_, err = m.Exchange(context.Background(), addonID, OAuthGrant{Code: NewSecret("HRKU-code-redirected")})
				var re *RedirectError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, status, re.StatusCode)
				assert.NotContains(t, err.Error(), "HRKU-code-redirected")
				assert.NotContains(t, err.Error(), oauthSecret)

				// A refresh is refused likewise, and is not taken for a
				// passing outage: the still-valid token is not served.
				require.NoError(t, store.Save(context.Background(), uuid.MustParse(addonID), Token{
					AccessToken: NewSecret("HRKU-access-old"), RefreshToken: NewSecret("HRKU-refresh-old"), Expiry: time.Now().Add(time.Minute)}))
				_, err = m.Token(context.Background(), addonID)
				require.ErrorAs(t, err, &re)
				assert.NotContains(t, err.Error(), "HRKU-refresh-old")
				assert.Zero(t, hits.Load(), "the other server received a request")
				assert.Zero(t, followed.Load(), "a redirect of the POST was followed")
				assert.Equal(t, int32(2), tokenHits.Load(), "one POST per call, none followed")
			})
		}
	}
}

// dripServer accepts token requests and answers one byte at a time,
// forever; started receives one value per request and gone one per request
// whose client hung up.
func dripServer(t *testing.T, headers bool) (srv *httptest.Server, started, gone chan struct{}) {
	started, gone = make(chan struct{}, 10), make(chan struct{}, 10)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the form to its end lets the server notice the client
		// hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		started <- struct{}{}
		defer func() { gone <- struct{}{} }()
		if headers {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"access_token":"`))
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if headers {
					if _, err := w.Write([]byte("x")); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, started, gone
}

// Each exchange and refresh is bounded whatever http.Client the caller
// passes: with one without Timeout, against a silent server and a
// slow-drip body, the flight ends at the manager's bound.
func TestTokenEndpointCallsAreBounded(t *testing.T) {
	for _, headers := range []bool{false, true} {
		name := map[bool]string{false: "silent", true: "slow drip"}[headers]
		t.Run(name, func(t *testing.T) {
			srv, started, gone := dripServer(t, headers)
			store := new(MemoryTokenStore)
			m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), Store: store,
				TokenURL: srv.URL + "/oauth/token", HTTPClient: &http.Client{}})
			require.NoError(t, err)
			m.flightTimeout = 200 * time.Millisecond

			done := make(chan error, 1)
			go func() {
				_, err := m.Exchange(context.Background(), addonID, OAuthGrant{Code: NewSecret("c0de")})
				done <- err
			}()
			select {
			case err := <-done:
				require.Error(t, err)
			case <-time.After(generous):
				t.Fatal("the exchange was not bounded")
			}
			<-started
			<-gone

			require.NoError(t, store.Save(context.Background(), uuid.MustParse(addonID), Token{
				AccessToken: NewSecret("a"), RefreshToken: NewSecret("r"), Expiry: time.Now().Add(-time.Minute)}))
			go func() {
				_, err := m.Token(context.Background(), addonID)
				done <- err
			}()
			select {
			case err := <-done:
				require.Error(t, err)
			case <-time.After(generous):
				t.Fatal("the refresh was not bounded")
			}
			<-started
			<-gone
		})
	}
}

// A caller's deadline wins: the caller gets its deadline's error while the
// flight goes on (so a spent code or rotated refresh token is not lost),
// itself bounded.
func TestCallerDeadlineWinsOverTheTokenEndpoint(t *testing.T) {
	srv, started, gone := dripServer(t, false)
	store := new(MemoryTokenStore)
	m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), Store: store,
		TokenURL: srv.URL + "/oauth/token", HTTPClient: &http.Client{}})
	require.NoError(t, err)
	m.flightTimeout = generous // only the caller's deadline can end the wait

	for _, call := range []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := m.Exchange(ctx, addonID, OAuthGrant{Code: NewSecret("c0de")})
			return err
		},
		func(ctx context.Context) error {
			require.NoError(t, store.Save(ctx, uuid.MustParse(addonID), Token{
				AccessToken: NewSecret("a"), RefreshToken: NewSecret("r"), Expiry: time.Now().Add(-time.Minute)}))
			_, err := m.Token(ctx, addonID)
			return err
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		<-started // the request is on the wire
		cancel()
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		select {
		case <-gone:
			t.Fatal("the flight ended with the caller; it must outlive it")
		default:
		}
	}
	srv.CloseClientConnections()
	<-gone
	<-gone
}

// A refused refresh matches ErrUnauthorized as well as ErrGrantRevoked,
// whether Heroku says so with a 401, a 400 invalid_grant in its own error
// body, or an RFC 6749 one; other 4xx answers match neither.
func TestRefusedRefreshIsUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		revoked bool
	}{
		{400, `{"error":"invalid_grant","error_description":"The refresh token is invalid."}`, true},
		{400, `{"id":"invalid_grant","message":"The refresh token is invalid."}`, true},
		{401, `{"id":"unauthorized","message":"OAuth authorization invalid."}`, true},
		{403, `{"error":"invalid_grant"}`, true},
		{400, `{"error":"invalid_request","error_description":"Missing parameter."}`, false},
		{429, `{"id":"invalid_grant","message":"slow down"}`, false},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.body), func(t *testing.T) {
			var apiHits atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			mux.HandleFunc("GET /addons/{id}", func(w http.ResponseWriter, r *http.Request) {
				apiHits.Add(1)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"id":"unauthorized","message":"Invalid credentials provided."}`))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			store := new(MemoryTokenStore)
			m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), Store: store, TokenURL: srv.URL + "/oauth/token"})
			require.NoError(t, err)
			require.NoError(t, store.Save(context.Background(), uuid.MustParse(addonID), Token{
				AccessToken: NewSecret("HRKU-a"), RefreshToken: NewSecret("HRKU-r"), Expiry: time.Now().Add(-time.Minute)}))

			_, err = m.Token(context.Background(), addonID)
			require.Error(t, err)
			assert.Equal(t, tc.revoked, errors.Is(err, ErrGrantRevoked), "ErrGrantRevoked")
			assert.Equal(t, tc.revoked, errors.Is(err, ErrUnauthorized), "ErrUnauthorized")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.NotEmpty(t, apiErr.ID, "the error id is kept from either body shape")
			assert.Empty(t, apiErr.Body)

			// Through a client, the README's errors.Is(err, ErrUnauthorized)
			// switch sees the lost grant too.
			base, err := NewClient(WithBaseURL(srv.URL), WithRetry(fastRetry))
			require.NoError(t, err)
			c, err := base.ForResource(m, addonID)
			require.NoError(t, err)
			_, err = c.GetAddon(context.Background(), addonID)
			if tc.revoked {
				assert.ErrorIs(t, err, ErrUnauthorized)
				assert.ErrorIs(t, err, ErrGrantRevoked)
			}
		})
	}
}

// TokenSource checks the id up front: a bad one fails at once and on every
// call, naming the parameter and never echoing the value; nothing is
// loaded or sent.
func TestTokenSourceRefusesABadIDAtOnce(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), TokenURL: srv.URL + "/oauth/token"})
	require.NoError(t, err)
	const pasted = "HRKU-access-pasted-by-mistake"
	ts := m.TokenSource(pasted)
	for range 2 {
		_, err := ts.Token()
		require.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), "resourceUUID")
		assert.NotContains(t, err.Error(), pasted)
	}
	inv, ok := ts.(tokenInvalidator)
	require.True(t, ok)
	require.ErrorIs(t, inv.InvalidateToken(context.Background(), "x"), ErrInvalidID)
	c, err := NewClient(WithBaseURL(srv.URL), WithTokenSource(ts))
	require.NoError(t, err)
	_, err = c.GetAddon(context.Background(), addonID)
	require.ErrorIs(t, err, ErrInvalidID)
	assert.Zero(t, hits.Load(), "nothing was sent")
}

// A grant code refused with 400 invalid_grant matches ErrUnauthorized, as a
// 401 does, but is not a revoked grant.
func TestRefusedCodeIsUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"The code has expired."}`))
	}))
	t.Cleanup(srv.Close)
	m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), TokenURL: srv.URL + "/oauth/token"})
	require.NoError(t, err)
	_, err = m.Exchange(context.Background(), addonID, OAuthGrant{Code: NewSecret("HRKU-code-expired")})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.NotErrorIs(t, err, ErrGrantRevoked)
	assert.Contains(t, err.Error(), "invalid, expired or already used")
	assert.Contains(t, err.Error(), "The code has expired.")
}
