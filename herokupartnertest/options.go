package herokupartnertest

import (
	"strings"
	"time"
)

// CouplingsShape selects how GET /apps/{id}/pipeline-couplings answers.
type CouplingsShape int

const (
	// CouplingsObject answers a single coupling object, and 404 not_found
	// when the app is in no pipeline, as the official schema and Heroku's
	// CLI expect. It is the default.
	CouplingsObject CouplingsShape = iota
	// CouplingsArray answers an array of zero or one coupling, as the
	// partner pipelines article shows.
	CouplingsArray
)

type config struct {
	shape           CouplingsShape
	pipelineName    bool
	latency         time.Duration
	rateCapacity    int
	ratePerMinute   float64
	accessLifetime  time.Duration
	rotateRefresh   bool
	now             func() time.Time
	service         string
	requestLogLimit int
	webhookRetry    WebhookRetry
}

// Option configures a Server built by NewServer.
type Option func(*config)

// WithCouplingsShape selects the couplings answer's shape; the default is
// CouplingsObject.
func WithCouplingsShape(s CouplingsShape) Option {
	return func(c *config) { c.shape = s }
}

// WithPipelineNameInCoupling makes a coupling's pipeline carry its name
// besides its id, as Heroku's CLI fixtures show; the schema declares only
// the id, so the default is off.
func WithPipelineNameInCoupling(on bool) Option {
	return func(c *config) { c.pipelineName = on }
}

// WithLatency delays every answer by d, to make benchmarks and timeouts
// meet a realistic round trip. The wait ends early if the client goes away.
func WithLatency(d time.Duration) Option {
	return func(c *config) { c.latency = max(d, 0) }
}

// WithRateLimit sets the token bucket that every API request draws on: it
// holds capacity requests and refills refillPerMinute a minute. Heroku's is
// 4500 and 75 a minute, the default. A capacity below 1 turns the limit off,
// and answers then carry no RateLimit-Remaining header.
func WithRateLimit(capacity int, refillPerMinute float64) Option {
	return func(c *config) {
		c.rateCapacity = capacity
		c.ratePerMinute = max(refillPerMinute, 0)
	}
}

// WithAccessTokenLifetime sets how long access tokens from IssueToken and
// the OAuth endpoint stay valid; Heroku's last 8 hours, the default.
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.accessLifetime = d
		}
	}
}

// WithRefreshTokenRotation makes every refresh answer a new refresh token
// and invalidate the one that was used. Heroku does not document rotation
// and its 2014 example returned the same refresh token, so the default is
// off: the refresh token stays valid and is sent back unchanged.
func WithRefreshTokenRotation(on bool) Option {
	return func(c *config) { c.rotateRefresh = on }
}

// WithClock makes the server read the time from now: token and grant
// expiry, rate-limit refill and timestamps then follow a clock the test
// controls. now must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithAddonService names the add-on service the server's add-ons belong
// to: your add-on's slug. The default is "acme-metrics".
func WithAddonService(name string) Option {
	return func(c *config) {
		if name = strings.TrimSpace(name); name != "" {
			c.service = name
		}
	}
}

// DefaultRequestLogCapacity is how many requests the request log keeps
// unless WithRequestLogCapacity says otherwise: enough for any test to
// inspect, few enough (tens of megabytes at most) that a long benchmark or
// a CLI run over a million resources cannot exhaust memory.
const DefaultRequestLogCapacity = 100_000

// WithRequestLogCapacity sets how many requests the request log keeps; the
// oldest go first once it is full, and RequestCount still counts them. A
// capacity of 0 (or less) keeps none, only the count, for runs that never
// look.
func WithRequestLogCapacity(n int) Option {
	return func(c *config) { c.requestLogLimit = max(n, 0) }
}
