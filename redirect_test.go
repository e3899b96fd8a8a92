package herokupartner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSameOriginGETRedirectIsFollowedWithItsToken(t *testing.T) {
	addon := readFixture(t, "addon.json")
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/addons/"+addonID {
			http.Redirect(w, r, "/moved/"+addonID, http.StatusMovedPermanently)
			return
		}
		auth.Store(r.Header.Get("Authorization"))
		_, _ = w.Write(addon)
	}))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	a, err := c.GetAddon(context.Background(), addonID)
	require.NoError(t, err)
	assert.Equal(t, fixtureAddonID, a.ID)
	assert.True(t, auth.Load() == "Bearer "+testToken, "the token stays with its origin's redirect")
}

func TestEveryClientGetsTheRedirectPolicy(t *testing.T) {
	c, err := NewClient()
	require.NoError(t, err)
	require.NotNil(t, c.httpClient.CheckRedirect, "the default client")
	var callerPolicyCalls int
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		callerPolicyCalls++
		return nil
	}}
	c, err = NewClient(WithHTTPClient(hc))
	require.NoError(t, err)
	other, _ := http.NewRequest(http.MethodGet, "https://elsewhere.example/x", nil)
	first, _ := http.NewRequest(http.MethodGet, DefaultBaseURL+"/addons/"+addonID, nil)
	var re *RedirectError
	require.ErrorAs(t, c.httpClient.CheckRedirect(other, []*http.Request{first}), &re)
	assert.Equal(t, "elsewhere.example", re.Host)
	assert.Zero(t, callerPolicyCalls, "the SDK's policy runs first")
	same, _ := http.NewRequest(http.MethodGet, DefaultBaseURL+"/moved", nil)
	require.NoError(t, c.httpClient.CheckRedirect(same, []*http.Request{first}))
	assert.Equal(t, 1, callerPolicyCalls, "then the caller's")
	assert.Nil(t, hc.CheckRedirect(same, nil), "the caller's client is not changed")
}

func TestRedirectPolicyCases(t *testing.T) {
	req := func(method, u string) *http.Request {
		r, err := http.NewRequest(method, u, nil)
		require.NoError(t, err)
		return r
	}
	policy := redirectPolicy(nil)
	base := "https://api.heroku.com/addons/x"
	cases := []struct {
		name    string
		method  string
		target  string
		via     int
		refused string
	}{
		{"same origin", "GET", "https://api.heroku.com/y", 1, ""},
		{"explicit default port", "GET", "https://API.heroku.com:443/y", 1, ""},
		{"other host", "GET", "https://evil.example/y", 1, "configured origin"},
		{"other port", "GET", "https://api.heroku.com:8443/y", 1, "configured origin"},
		{"downgrade", "GET", "http://api.heroku.com/y", 1, "downgrade"},
		{"sixth hop", "GET", "https://api.heroku.com/y", maxRedirects + 1, "more than"},
		{"PATCH same origin", "PATCH", "https://api.heroku.com/y", 1, "never redirected"},
		{"POST", "POST", "https://api.heroku.com/y", 1, "never redirected"},
		{"DELETE", "DELETE", "https://api.heroku.com/y", 1, "never redirected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			via := []*http.Request{req(tc.method, base)}
			for len(via) < tc.via {
				via = append(via, req("GET", base))
			}
			err := policy(req("GET", tc.target), via)
			if tc.refused == "" {
				assert.NoError(t, err)
				return
			}
			var re *RedirectError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, re.Reason, tc.refused)
		})
	}
}

func TestRefusedRedirectTimeIsBounded(t *testing.T) {
	// A redirect loop on the same origin stops at the hop limit, well
	// inside the attempt bound.
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	c, err := NewClient(WithBaseURL(srv.URL), WithToken(testToken), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	c.attemptTimeout = time.Minute
	_, err = c.GetPipeline(context.Background(), plID)
	var re *RedirectError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int32(maxRedirects+1), n.Load(), "not retried either")
}
