package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTrackerTable is the table a TrackerStore uses unless
// NewTrackerStore names another.
const DefaultTrackerTable = "herokupartner_tracker"

// TrackerStore is a herokupartner.TrackerStore in a PostgreSQL table, so
// that every replica's Tracker, and so every replica's dashboard, reads
// the same map, and a restarted replica resumes where the fleet stopped.
// Each entry is a row holding the entry as JSON, with its app id and last
// check time in columns for the lookups. It holds no credential.
type TrackerStore struct {
	pool    *pgxpool.Pool
	table   string
	channel string // the NOTIFY channel of this table's updates
	sql     trackerStatements
}

var (
	_ herokupartner.TrackerStore    = (*TrackerStore)(nil)
	_ herokupartner.TrackerNotifier = (*TrackerStore)(nil)
)

type trackerStatements struct {
	schema []string
	lock   string
	notify string
	get    string
	upsert string
	delete string
	byApp  string
	due    string
	all    string
	count  string
}

// NewTrackerStore returns a TrackerStore on pool's database, in table
// (DefaultTrackerTable when empty; the same rules as WithTable). It sends
// no query: call Migrate.
func NewTrackerStore(pool *pgxpool.Pool, table string) (*TrackerStore, error) {
	if pool == nil {
		return nil, errors.New("pgstore: NewTrackerStore: nil pool")
	}
	if table == "" {
		table = DefaultTrackerTable
	}
	var c config
	if err := WithTable(table)(&c); err != nil {
		return nil, err
	}
	// A channel name is an identifier of at most 63 bytes; a table name
	// with its schema may be longer, so the channel is named by a hash.
	channel := fmt.Sprintf("herokupartner_tracker_%08x", crc32.ChecksumIEEE([]byte(table)))
	return &TrackerStore{pool: pool, table: table, channel: channel, sql: buildTrackerStatements(table)}, nil
}

func buildTrackerStatements(table string) trackerStatements {
	q, index := quoteTable(table)
	return trackerStatements{
		schema: []string{
			`CREATE TABLE IF NOT EXISTS ` + q + ` (
    resource_uuid uuid        PRIMARY KEY,
    app_id        uuid,
    checked_at    timestamptz,
    entry         jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
)`,
			`CREATE INDEX IF NOT EXISTS ` + index("_checked_idx") + ` ON ` + q + ` (checked_at NULLS FIRST, resource_uuid)`,
			`CREATE INDEX IF NOT EXISTS ` + index("_app_idx") + ` ON ` + q + ` (app_id)`,
		},
		// A transaction-scoped advisory lock per resource serialises
		// Updates of one resource, a missing row's included, which
		// SELECT … FOR UPDATE alone could not lock.
		lock:   `SELECT pg_advisory_xact_lock(hashtext($1))`,
		notify: `SELECT pg_notify($1, $2)`,
		get:    `SELECT entry FROM ` + q + ` WHERE resource_uuid = $1`,
		upsert: `INSERT INTO ` + q + ` (resource_uuid, app_id, checked_at, entry) VALUES ($1, $2, $3, $4)
ON CONFLICT (resource_uuid) DO UPDATE SET app_id = EXCLUDED.app_id, checked_at = EXCLUDED.checked_at,
    entry = EXCLUDED.entry, updated_at = now()`,
		delete: `DELETE FROM ` + q + ` WHERE resource_uuid = $1`,
		byApp:  `SELECT resource_uuid FROM ` + q + ` WHERE app_id = $1 ORDER BY resource_uuid`,
		due: `SELECT entry FROM ` + q + ` WHERE checked_at IS NULL OR checked_at < $1
ORDER BY checked_at NULLS FIRST, resource_uuid LIMIT $2`,
		all:   `SELECT entry FROM ` + q + ` ORDER BY resource_uuid`,
		count: `SELECT count(*) FROM ` + q,
	}
}

// TrackerSchema returns the SQL that creates table (DefaultTrackerTable
// when empty) and its indexes, for teams that run their own migrations.
func TrackerSchema(table string) (string, error) {
	return schemaSQL(table, DefaultTrackerTable, func(t string) []string { return buildTrackerStatements(t).schema })
}

// Migrate creates the table and its indexes if they do not exist; safe
// from every replica at once.
func (s *TrackerStore) Migrate(ctx context.Context) error {
	if ctx == nil {
		return errors.New("pgstore: TrackerStore.Migrate: nil context")
	}
	if err := migrate(ctx, s.pool, s.sql.schema); err != nil {
		return fmt.Errorf("pgstore: migrating table %s: %w", s.table, err)
	}
	return nil
}

// Get returns the resource's entry, or nil when it is not tracked.
func (s *TrackerStore) Get(ctx context.Context, resourceID string) (*herokupartner.TrackedResource, error) {
	id, err := trackerArgs(ctx, "resource", resourceID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: reading tracked resource: %w", err)
	}
	e, err := scanEntry(s.pool.QueryRow(ctx, s.sql.get, id))
	if err != nil {
		return nil, fmt.Errorf("pgstore: reading tracked resource %s: %w", id, err)
	}
	return e, nil
}

// Update runs fn in a transaction that holds the resource's lock, and
// writes or deletes what it returns before committing.
func (s *TrackerStore) Update(ctx context.Context, resourceID string, fn func(cur *herokupartner.TrackedResource) (*herokupartner.TrackedResource, error)) error {
	id, err := trackerArgs(ctx, "resource", resourceID)
	if err != nil {
		return fmt.Errorf("pgstore: updating tracked resource: %w", err)
	}
	if fn == nil {
		return errors.New("pgstore: updating tracked resource: nil function")
	}
	var fnErr error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sql.lock, s.table+"/"+id.String()); err != nil {
			return err
		}
		var raw []byte
		if err := tx.QueryRow(ctx, s.sql.get, id).Scan(&raw); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		cur, err := decodeEntry(raw)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		var wrote bool
		switch {
		case next == nil && cur == nil:
		case next == nil:
			_, err = tx.Exec(ctx, s.sql.delete, id)
			wrote = true
		default:
			wrote, err = s.write(ctx, tx, id, next, raw)
		}
		if err == nil && wrote {
			// Delivered to every listening replica when the
			// transaction commits, and only then.
			_, err = tx.Exec(ctx, s.sql.notify, s.channel, id.String())
		}
		return err
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("pgstore: updating tracked resource %s: %w", id, err)
	}
	return nil
}

// write stores e, unless it encodes exactly as the stored entry old: a
// Track of a tracked resource on every start writes nothing.
func (s *TrackerStore) write(ctx context.Context, tx pgx.Tx, id uuid.UUID, e *herokupartner.TrackedResource, old []byte) (bool, error) {
	cp := *e
	cp.ResourceID = id.String()
	raw, err := json.Marshal(&cp)
	if err != nil {
		return false, err
	}
	if old != nil && jsonEqual(old, raw) {
		return false, nil
	}
	var app *uuid.UUID
	if cp.Resolution != nil && cp.Resolution.App.ID != uuid.Nil {
		app = &cp.Resolution.App.ID
	}
	var checked *time.Time
	if !cp.CheckedAt.IsZero() {
		checked = &cp.CheckedAt
	}
	_, err = tx.Exec(ctx, s.sql.upsert, id, app, checked, raw)
	return err == nil, err
}

// ByApp returns the resources billed to appID, in id order.
func (s *TrackerStore) ByApp(ctx context.Context, appID string) ([]string, error) {
	app, err := trackerArgs(ctx, "app", appID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing an app's tracked resources: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.sql.byApp, app)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing app %s's tracked resources: %w", app, err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id uuid.UUID
		err := r.Scan(&id)
		return id.String(), err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing app %s's tracked resources: %w", app, err)
	}
	return ids, nil
}

// Due returns up to limit entries checked before `before`, never-checked
// ones first, then oldest first.
func (s *TrackerStore) Due(ctx context.Context, before time.Time, limit int) ([]herokupartner.TrackedResource, error) {
	if err := checkPage(ctx, "listing due resources", limit); err != nil {
		return nil, err
	}
	return s.entries(ctx, "listing due resources", s.sql.due, before, limit)
}

// All returns every entry, in resource id order.
func (s *TrackerStore) All(ctx context.Context) ([]herokupartner.TrackedResource, error) {
	if ctx == nil {
		return nil, errors.New("pgstore: listing tracked resources: nil context")
	}
	return s.entries(ctx, "listing tracked resources", s.sql.all)
}

// Count returns how many resources are tracked.
func (s *TrackerStore) Count(ctx context.Context) (int, error) {
	if ctx == nil {
		return 0, errors.New("pgstore: counting tracked resources: nil context")
	}
	var n int
	if err := s.pool.QueryRow(ctx, s.sql.count).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: counting tracked resources: %w", err)
	}
	return n, nil
}

func (s *TrackerStore) entries(ctx context.Context, what, query string, args ...any) ([]herokupartner.TrackedResource, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herokupartner.TrackedResource, error) {
		e, err := scanEntry(r)
		if err != nil || e == nil {
			return herokupartner.TrackedResource{}, err
		}
		return *e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	return out, nil
}

// scanEntry reads one entry column; no row is a nil entry.
func scanEntry(row pgx.Row) (*herokupartner.TrackedResource, error) {
	var raw []byte
	if err := row.Scan(&raw); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return decodeEntry(raw)
}

// jsonEqual compares two encodings of an entry; jsonb does not keep its
// input's key order or spacing, so both are decoded first.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// decodeEntry decodes a stored entry; nil or empty is no entry.
func decodeEntry(raw []byte) (*herokupartner.TrackedResource, error) {
	if raw == nil {
		return nil, nil
	}
	var e herokupartner.TrackedResource
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("stored entry is not a tracked resource: %w", err)
	}
	return &e, nil
}

// trackerArgs checks the context and parses an id; the id's value is
// never echoed.
func trackerArgs(ctx context.Context, what, id string) (uuid.UUID, error) {
	if ctx == nil {
		return uuid.Nil, errors.New("nil context")
	}
	u, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil || u == uuid.Nil {
		return uuid.Nil, fmt.Errorf("%s id is not a UUID (%d characters)", what, len(id))
	}
	return u, nil
}
