package main

import (
	"context"
	"errors"
	"sync"
	"time"

	hp "github.com/addonkit/herokupartner"
)

// virtualClock is the clock of the fake, the tracker and the webhook
// receiver. It moves only when the refresher waits for its next request
// slot, by exactly that wait, so a minute of refreshing runs in
// milliseconds and every run prints the same.
type virtualClock struct {
	mu     sync.Mutex
	now    time.Time
	stopAt time.Time
	stop   context.CancelFunc
}

func newVirtualClock() *virtualClock {
	return &virtualClock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

// Now returns the virtual time.
func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock on by d at once, and ends the current run when
// it reaches its end.
func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	if c.stop != nil && !c.now.Before(c.stopAt) {
		c.stop()
	}
	c.mu.Unlock()
	return ctx.Err()
}

// run runs the tracker's refresher for d of virtual time.
func (c *virtualClock) run(ctx context.Context, tr *hp.Tracker, d time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.stopAt, c.stop = c.now.Add(d), cancel
	c.mu.Unlock()
	err := tr.Run(ctx)
	c.mu.Lock()
	c.stop = nil
	c.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		return nil // the run's end, not a failure
	}
	return err
}
