package herokupartner

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the Platform API's address.
const DefaultBaseURL = "https://api.heroku.com"

const (
	acceptHeader = "application/vnd.heroku+json; version=3"
	// maxSuccessBody bounds what a success answer may make us read: the
	// largest of our answers is a few KiB, so anything near this is wrong.
	maxSuccessBody = 4 << 20
	// maxErrorBody bounds what an error answer may make us read.
	maxErrorBody = 1 << 20
	// maxDrain is how much of an unread body we read to let the connection
	// be reused; beyond it, closing the connection is cheaper.
	maxDrain = 64 << 10
	// excerptLen bounds the body excerpt kept in an APIError.
	excerptLen = 256
	// defaultAttemptTimeout bounds one attempt, from asking for the token to
	// the last byte of the answer's body, whatever the caller's deadline and
	// http.Client: a silent or slow-dripping server cannot hang a call.
	defaultAttemptTimeout = 10 * time.Second
	// defaultCallTimeout bounds a whole call (attempts and the waits between
	// them) when the caller's context has no deadline, so that with defaults
	// a call ends inside Heroku's 30 second provisioning budget with time
	// left to answer Heroku. A caller's deadline replaces it.
	defaultCallTimeout = 25 * time.Second
)

// Client calls the Platform API. A Client is safe for concurrent use; copies
// made with WithToken or WithTokenSource share its transport and settings.
type Client struct {
	baseURL    string // scheme://host[/path], no trailing slash
	httpClient *http.Client
	userAgent  string
	tokens     oauth2.TokenSource
	retry      RetryPolicy
	logger     *slog.Logger
	rate       *rateState
	// auth keeps the Authorization value of the latest token (per token
	// source, like rate).
	auth *atomic.Pointer[bearer]
	// attemptTimeout and callTimeout are defaultAttemptTimeout and
	// defaultCallTimeout; tests shorten them.
	attemptTimeout time.Duration
	callTimeout    time.Duration
}

type rateState struct {
	remaining atomic.Int64 // -1 until a header has been seen
}

func newRateState() *rateState {
	r := &rateState{}
	r.remaining.Store(-1)
	return r
}

// defaultTransport keeps enough idle connections per host for a batch's
// concurrent lookups; net/http's default of two would make most of them
// open a new TLS connection.
var defaultTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}()

// Option configures a Client built by NewClient.
type Option func(*Client) error

// NewClient returns a Client for the Platform API. Without options it talks
// to DefaultBaseURL, retries as DefaultRetryPolicy says, bounds each attempt
// to 10s and, without a caller deadline, each call to 25s, logs nothing and
// has no token: derive one per resource with WithToken or WithTokenSource.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		baseURL:        DefaultBaseURL,
		httpClient:     secureHTTPClient(&http.Client{Transport: defaultTransport}),
		userAgent:      "herokupartner-go/" + Version,
		retry:          defaultRetryPolicy(),
		logger:         slog.New(slog.DiscardHandler),
		rate:           newRateState(),
		auth:           new(atomic.Pointer[bearer]),
		attemptTimeout: defaultAttemptTimeout,
		callTimeout:    defaultCallTimeout,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithToken sets a static OAuth access token for every request. An empty
// or blank token leaves the client without one, exactly as the method
// (*Client).WithToken does: NewClient succeeds, and every request fails with
// ErrNoToken before anything is sent.
func WithToken(token string) Option {
	return func(c *Client) error {
		c.tokens = staticTokens(token)
		return nil
	}
}

// WithTokenSource takes access tokens from ts, asking it before every
// attempt so that a refreshing source is honoured. A nil ts leaves the
// client without a token, exactly as the method (*Client).WithTokenSource
// does: every request fails with ErrNoToken before anything is sent.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) error {
		c.tokens = ts
		return nil
	}
}

// staticTokens is the source for one fixed token, or nil (no token) for a
// blank one.
func staticTokens(token string) oauth2.TokenSource {
	if strings.TrimSpace(token) == "" {
		return nil
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
}

// WithBaseURL points the client at another address: a fake Platform API in
// tests, or a proxy. It must be https, or http on a loopback host.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := checkEndpoint("WithBaseURL", raw)
		if err != nil {
			return err
		}
		c.baseURL = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
		return nil
	}
}

// WithHTTPClient makes requests through a copy of hc; hc itself is never
// changed. The copy follows the SDK's redirect policy ahead of hc's own (see
// RedirectError), and each attempt stays bounded to 10s even when hc has no
// Timeout; a shorter Timeout of hc bounds each attempt further.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("herokupartner: WithHTTPClient: nil client")
		}
		c.httpClient = secureHTTPClient(hc)
		return nil
	}
}

// WithUserAgent appends product to the SDK's own User-Agent, so Heroku can
// tell which add-on is calling.
func WithUserAgent(product string) Option {
	return func(c *Client) error {
		product = strings.TrimSpace(product)
		if product == "" || strings.ContainsAny(product, "\r\n") {
			return errors.New("herokupartner: WithUserAgent: empty or multi-line user agent")
		}
		c.userAgent = "herokupartner-go/" + Version + " " + product
		return nil
	}
}

// WithRetry sets how failed requests are retried.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p.withDefaults()
		return nil
	}
}

// WithLogger logs each attempt at debug level and each retry at info level
// to l. Tokens are never logged. The default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("herokupartner: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithToken returns a copy of c that sends token; it shares c's transport
// and settings, so deriving one client per add-on resource is cheap. With an
// empty or blank token the copy has none, exactly as the option WithToken:
// its requests fail with ErrNoToken before anything is sent.
func (c *Client) WithToken(token string) *Client {
	return c.WithTokenSource(staticTokens(token))
}

// WithTokenSource returns a copy of c that takes its tokens from ts; it
// shares c's transport and settings. With a nil ts the copy has no token,
// exactly as the option WithTokenSource: its requests fail with ErrNoToken
// before anything is sent.
func (c *Client) WithTokenSource(ts oauth2.TokenSource) *Client {
	cp := *c
	cp.tokens = ts
	// Each token may draw on a different rate-limit bucket, so a derived
	// client reports what its own answers said.
	cp.rate = newRateState()
	cp.auth = new(atomic.Pointer[bearer])
	return &cp
}

// BaseURL returns the address the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL }

// RateLimitRemaining returns the RateLimit-Remaining header of the latest
// answer this client received, and false until one carried it.
func (c *Client) RateLimitRemaining() (int, bool) {
	v := c.rate.remaining.Load()
	return int(v), v >= 0
}

// parseID validates an id argument and returns its canonical form, so that
// no caller string ever reaches a URL path.
func parseID(param, s string) (string, error) {
	t := strings.TrimSpace(s)
	id, err := uuid.Parse(t)
	if err != nil {
		// The value is not echoed: a caller who swapped arguments could
		// otherwise put a token into an error message.
		return "", fmt.Errorf("%w: %s is not a UUID (%d characters)", ErrInvalidID, param, len(s))
	}
	if isCanonicalUUID(t) {
		return t, nil // already canonical: spares formatting a copy per call
	}
	return id.String(), nil
}

// isCanonicalUUID reports whether s, which uuid.Parse accepted, is already
// in the form uuid.UUID.String gives: 36 characters, lower-case hex.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			return false
		}
	}
	return true
}
