package herokupartner

import (
	"context"
	"time"
)

// funcClock is a clock made of a test's functions.
type funcClock struct {
	nowFn   func() time.Time
	untilFn func(ctx context.Context, t time.Time) error
}

func (c funcClock) now() time.Time { return c.nowFn() }

func (c funcClock) sleepUntil(ctx context.Context, t time.Time) error { return c.untilFn(ctx, t) }

// BatchClockForTest makes a batch read the time from now and wait with
// sleepUntil, so that a pacing test runs on a clock it controls.
func BatchClockForTest(now func() time.Time, sleepUntil func(ctx context.Context, t time.Time) error) BatchOption {
	return func(c *batchConfig) { c.clock = funcClock{nowFn: now, untilFn: sleepUntil} }
}

// DefaultTransportForTest is the transport a Client built without
// WithHTTPClient sends through, so that a test can count the connections
// it opens with a dialer of its own on a clone.
var DefaultTransportForTest = defaultTransport
