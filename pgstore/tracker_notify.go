package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notify listens on a connection of its own for the ids of the entries
// any replica's Update changes, and calls fn with each, in commit order;
// see herokupartner.TrackerNotifier. It returns when ctx ends or the
// connection fails.
func (s *TrackerStore) Notify(ctx context.Context, ready func() error, fn func(resourceID string)) error {
	if ctx == nil || ready == nil || fn == nil {
		return errors.New("pgstore: TrackerStore.Notify: nil context or function")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: listening for tracker updates: %w", err)
	}
	// The connection leaves the pool: a LISTEN must not outlive this call
	// on a connection someone else gets next.
	pc := conn.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = pc.Close(cctx)
	}()
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return fmt.Errorf("pgstore: listening for tracker updates: %w", err)
	}
	if err := ready(); err != nil {
		return err
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("pgstore: listening for tracker updates: %w", err)
		}
		fn(n.Payload)
	}
}
