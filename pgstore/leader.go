package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultLeaseTable is the table a Leader keeps its lease in unless
// LeaderConfig.Table names another.
const DefaultLeaseTable = "herokupartner_leases"

// LeaderConfig configures a Leader.
type LeaderConfig struct {
	// Lease names what is led; replicas that share a Tracker store share
	// the name. Empty means "tracker".
	Lease string
	// Holder names this replica; empty means the host name and a random
	// suffix, so that no two processes ever share one.
	Holder string
	// TTL is how long the lease lasts without renewal: how soon another
	// replica takes over when the leader dies. A Tracker renews it before
	// every request. Zero means herokupartner.DefaultLeaseTTL.
	TTL time.Duration
	// Table holds the leases; empty means DefaultLeaseTable.
	Table string
	// Now, if set, is the clock the lease's expiry is judged by; nil
	// means the database's clock, the one every replica agrees on.
	Now func() time.Time
}

// Leader is a herokupartner.TrackerLeader whose lease is a row in
// PostgreSQL with an expiry: the replica whose Lead call finds the row
// free, expired or already its own gets (or renews) it in one statement.
// A replica that dies stops renewing, and another takes over once the
// lease expires.
type Leader struct {
	pool   *pgxpool.Pool
	cfg    LeaderConfig
	schema []string
	lead   string
	resign string
}

var _ herokupartner.TrackerLeader = (*Leader)(nil)

// NewLeader returns a Leader on pool's database; it sends no query: call
// Migrate.
func NewLeader(pool *pgxpool.Pool, cfg LeaderConfig) (*Leader, error) {
	if pool == nil {
		return nil, errors.New("pgstore: NewLeader: nil pool")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("pgstore: LeaderConfig.TTL is negative")
	}
	if cfg.TTL == 0 {
		cfg.TTL = herokupartner.DefaultLeaseTTL
	}
	if cfg.Lease == "" {
		cfg.Lease = "tracker"
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 6)
		if _, err := rand.Read(suffix); err != nil {
			return nil, fmt.Errorf("pgstore: NewLeader: holder name: %w", err)
		}
		cfg.Holder = host + "/" + hex.EncodeToString(suffix)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultLeaseTable
	}
	var c config
	if err := WithTable(cfg.Table)(&c); err != nil {
		return nil, err
	}
	q := pgx.Identifier(strings.Split(cfg.Table, ".")).Sanitize()
	// $4 is the caller's clock, or NULL for the database's.
	const now = `COALESCE($4::timestamptz, now())`
	return &Leader{
		pool: pool, cfg: cfg,
		schema: []string{`CREATE TABLE IF NOT EXISTS ` + q + ` (
    lease      text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
)`},
		lead: `INSERT INTO ` + q + ` AS l (lease, holder, expires_at)
VALUES ($1, $2, ` + now + ` + make_interval(secs => $3))
ON CONFLICT (lease) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE l.holder = EXCLUDED.holder OR l.expires_at <= ` + now + `
RETURNING holder`,
		resign: `DELETE FROM ` + q + ` WHERE lease = $1 AND holder = $2`,
	}, nil
}

// Holder returns this replica's holder name.
func (l *Leader) Holder() string { return l.cfg.Holder }

// Migrate creates the lease table if it does not exist; safe from every
// replica at once.
func (l *Leader) Migrate(ctx context.Context) error {
	if ctx == nil {
		return errors.New("pgstore: Leader.Migrate: nil context")
	}
	if err := migrate(ctx, l.pool, l.schema); err != nil {
		return fmt.Errorf("pgstore: migrating table %s: %w", l.cfg.Table, err)
	}
	return nil
}

// Lead takes the lease if it is free or expired, or renews it if this
// replica holds it, and reports whether it does now. One statement.
func (l *Leader) Lead(ctx context.Context) (bool, error) {
	if ctx == nil {
		return false, errors.New("pgstore: Leader.Lead: nil context")
	}
	var now *time.Time
	if l.cfg.Now != nil {
		t := l.cfg.Now()
		now = &t
	}
	var holder string
	err := l.pool.QueryRow(ctx, l.lead, l.cfg.Lease, l.cfg.Holder, l.cfg.TTL.Seconds(), now).Scan(&holder)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil // another replica holds a live lease
	case err != nil:
		return false, fmt.Errorf("pgstore: taking lease %q: %w", l.cfg.Lease, err)
	}
	return true, nil
}

// Resign frees the lease if this replica holds it, so another takes over
// without waiting for the expiry.
func (l *Leader) Resign(ctx context.Context) error {
	if ctx == nil {
		return errors.New("pgstore: Leader.Resign: nil context")
	}
	if _, err := l.pool.Exec(ctx, l.resign, l.cfg.Lease, l.cfg.Holder); err != nil {
		return fmt.Errorf("pgstore: resigning lease %q: %w", l.cfg.Lease, err)
	}
	return nil
}
