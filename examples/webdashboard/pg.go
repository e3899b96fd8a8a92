package main

import (
	"context"
	"errors"
	"fmt"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// demoTable and demoLease keep the demo's map and lease apart from a real
// tracker's (pgstore's default table and lease) in the same database.
const (
	demoTable = "webdashboard_demo_tracker"
	demoLease = "webdashboard-demo"
)

// sharedMap is the tracker's map and leadership in PostgreSQL: every
// replica reads the same entries, one of them (the lease holder) refreshes
// them, and each is told of the others' changes (LISTEN/NOTIFY).
type sharedMap struct {
	pool   *pgxpool.Pool
	store  *pgstore.TrackerStore
	leader *pgstore.Leader
}

// openSharedMap connects to databaseURL and creates the tables if needed.
func openSharedMap(ctx context.Context, databaseURL string) (*sharedMap, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	// Follow holds one connection for LISTEN; the rest serve pages, the
	// refresher and webhooks.
	cfg.MaxConns = max(cfg.MaxConns, 6)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to DATABASE_URL: %w", err)
	}
	m := &sharedMap{pool: pool}
	if err := m.setup(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return m, nil
}

func (m *sharedMap) setup(ctx context.Context) error {
	var err error
	if m.store, err = pgstore.NewTrackerStore(m.pool, demoTable); err != nil {
		return err
	}
	if err := m.store.Migrate(ctx); err != nil {
		return fmt.Errorf("creating the tracker's table: %w", err)
	}
	if m.leader, err = pgstore.NewLeader(m.pool, pgstore.LeaderConfig{Lease: demoLease}); err != nil {
		return err
	}
	if err := m.leader.Migrate(ctx); err != nil {
		return fmt.Errorf("creating the lease table: %w", err)
	}
	return nil
}

// pruneUnknown untracks the entries whose resource the registry does not
// hold. The demo seeds a new fake on every run, so entries left by an
// earlier run name add-ons that exist nowhere and would only take the
// refresher's slots; a real replica, whose registry is the partner's
// provisioning table, has no such leftovers and does not prune.
func pruneUnknown(ctx context.Context, t *hp.Tracker, reg *registry) error {
	entries, err := t.Resources(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if reg.ownerOf(e.ResourceID) == "" {
			if err := t.Untrack(ctx, e.ResourceID); err != nil {
				return err
			}
		}
	}
	return nil
}
