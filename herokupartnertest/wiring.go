package herokupartnertest

import (
	"time"

	"github.com/addonkit/herokupartner"
)

// testRetry keeps retries real but fast, so tests of retry behaviour do
// not wait out production backoffs.
var testRetry = herokupartner.RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}

// ClientOptions returns the options that point a herokupartner.Client at
// the server: its base URL, its http.Client, a user agent naming the fake
// and retries with millisecond backoff (three, like production, so retry
// behaviour is exercised without waiting out production delays). Append
// options of your own to override any of them.
func (s *Server) ClientOptions() []herokupartner.Option {
	return []herokupartner.Option{
		herokupartner.WithBaseURL(s.URL),
		herokupartner.WithHTTPClient(s.HTTPClient()),
		herokupartner.WithRetry(testRetry),
		herokupartner.WithUserAgent("herokupartnertest"),
	}
}

// TokenManagerConfig returns a configuration for
// herokupartner.NewTokenManager that exchanges and refreshes tokens at the
// server's token endpoint: the server's client secret, TokenURL and
// http.Client. Store, RefreshBefore and Logger are left at their zero
// values for the caller to set.
func (s *Server) TokenManagerConfig() herokupartner.TokenManagerConfig {
	return herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(s.secret()),
		TokenURL:     s.TokenURL(),
		HTTPClient:   s.HTTPClient(),
	}
}

// Client returns a client pointed at the server (see ClientOptions) that
// sends token. An empty token gives a client whose requests fail with
// herokupartner.ErrNoToken.
func (s *Server) Client(token string) *herokupartner.Client {
	c, err := herokupartner.NewClient(s.ClientOptions()...)
	if err != nil {
		// Unreachable: every option above is valid by construction.
		panic("herokupartnertest: building the client: " + err.Error())
	}
	return c.WithToken(token)
}
