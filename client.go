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
	// defaultAttemptTimeout bounds one attempt when the caller's context has
	// no deadline, so that a silent server cannot hang a provisioning handler.
	defaultAttemptTimeout = 15 * time.Second
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
// to DefaultBaseURL, retries with DefaultRetryPolicy, logs nothing and has no
// token: derive one per resource with WithToken or WithTokenSource.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		baseURL:    DefaultBaseURL,
		httpClient: &http.Client{Timeout: defaultAttemptTimeout, Transport: defaultTransport},
		userAgent:  "herokupartner-go/" + Version,
		retry:      DefaultRetryPolicy,
		logger:     slog.New(slog.DiscardHandler),
		rate:       newRateState(),
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

// WithToken sets a static OAuth access token for every request.
func WithToken(token string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(token) == "" {
			return errors.New("herokupartner: WithToken: empty token")
		}
		c.tokens = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
		return nil
	}
}

// WithTokenSource takes access tokens from ts, asking it before every
// attempt so that a refreshing source is honoured.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) error {
		if ts == nil {
			return errors.New("herokupartner: WithTokenSource: nil token source")
		}
		c.tokens = ts
		return nil
	}
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
// changed. Its Timeout, if any, bounds each attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("herokupartner: WithHTTPClient: nil client")
		}
		cp := *hc
		c.httpClient = &cp
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
// empty token the copy has none, and its requests fail with ErrNoToken.
func (c *Client) WithToken(token string) *Client {
	if strings.TrimSpace(token) == "" {
		return c.WithTokenSource(nil)
	}
	return c.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
}

// WithTokenSource returns a copy of c that takes its tokens from ts; it
// shares c's transport and settings. With a nil ts the copy has no token.
func (c *Client) WithTokenSource(ts oauth2.TokenSource) *Client {
	cp := *c
	cp.tokens = ts
	// Each token may draw on a different rate-limit bucket, so a derived
	// client reports what its own answers said.
	cp.rate = newRateState()
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
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		// The value is not echoed: a caller who swapped arguments could
		// otherwise put a token into an error message.
		return "", fmt.Errorf("%w: %s is not a UUID (%d characters)", ErrInvalidID, param, len(s))
	}
	return id.String(), nil
}
