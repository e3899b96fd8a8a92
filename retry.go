package herokupartner

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RetryPolicy says how a failed GET is retried: on 429, 500, 502, 503 and
// 504 answers, on connection errors (a body cut off mid-way included) and on
// an attempt that timed out, with exponential backoff: the wait before retry
// n is drawn at random from [d/2, d], where d is BaseDelay doubled n-1 times
// and capped at MaxDelay. Other 4xx answers, writes and requests that could
// not be built are never retried.
type RetryPolicy struct {
	// MaxRetries is how many times a request is sent again after its first
	// attempt; 0 disables retries.
	MaxRetries int
	// BaseDelay is the first backoff; each retry doubles it. 0 means 200ms.
	BaseDelay time.Duration
	// MaxDelay caps any single wait, a Retry-After header's included.
	// 0 means 5s.
	MaxDelay time.Duration
}

const (
	defaultMaxRetries = 3
	defaultBaseDelay  = 200 * time.Millisecond
	defaultMaxDelay   = 5 * time.Second
)

// DefaultRetryPolicy is a copy of the policy a Client uses without
// WithRetry: 3 retries, 200ms base delay, 5s cap.
//
// Deprecated: it is a copy; changing it changes nothing. Pass WithRetry to
// choose another policy.
var DefaultRetryPolicy = defaultRetryPolicy()

// defaultRetryPolicy is the one source of the default policy: a few quick
// retries that, with the attempt and call bounds, fit Heroku's 30 second
// provisioning budget.
func defaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: defaultMaxRetries}.withDefaults()
}

// rateLimitRefill is how long Heroku's bucket takes to give back one
// request: about 75 a minute.
const rateLimitRefill = 800 * time.Millisecond

func (p RetryPolicy) validate() error {
	if p.MaxRetries < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
		return fmt.Errorf("herokupartner: WithRetry: negative value in %+v", p)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.BaseDelay == 0 {
		p.BaseDelay = defaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = defaultMaxDelay
	}
	return p
}

// backoff returns a random wait in [d/2, d] where d doubles per attempt.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// waitFor picks the wait before retrying after resp: Retry-After when the
// server sent one, else backoff, and at least one bucket refill on a 429.
func (p RetryPolicy) waitFor(attempt int, resp *http.Response) time.Duration {
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return min(ra, p.MaxDelay)
	}
	d := p.backoff(attempt)
	if resp.StatusCode == http.StatusTooManyRequests {
		d = max(d, min(rateLimitRefill, p.MaxDelay))
	}
	return d
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
