package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DefaultJobsTable is the table a Store keeps provisioning jobs in unless
// WithJobsTable names another.
const DefaultJobsTable = "herokupartner_jobs"

var _ herokupartner.JobStore = (*Store)(nil)

// colPayload is the additional data's column name for a job's sealed
// payload.
const colPayload = "job_payload"

// WithJobsTable keeps provisioning jobs in the table name instead of
// DefaultJobsTable; the name follows WithTable's rules.
func WithJobsTable(name string) Option {
	return func(c *config) error {
		var tc config
		if err := WithTable(name)(&tc); err != nil {
			return fmt.Errorf("pgstore: WithJobsTable: %w", err)
		}
		c.jobsTable = name
		return nil
	}
}

// JobsSchema returns the SQL that creates the jobs table (DefaultJobsTable
// when empty) and its index, for teams that run their own migrations.
// Every statement is idempotent.
func JobsSchema(table string) (string, error) {
	if table == "" {
		table = DefaultJobsTable
	}
	var c config
	if err := WithJobsTable(table)(&c); err != nil {
		return "", err
	}
	return strings.Join(buildJobStatements(table).schema, ";\n\n") + ";\n", nil
}

type jobStatements struct {
	schema                                 []string
	insert, load, claim, renew, save, list string
	tombstone, lock, cancel                string
}

// jobCols are the columns scanJob reads, in order.
const jobCols = `resource_uuid, state, step, attempts, next_attempt, last_error, received_at, updated_at,
    lease_owner, lease_until, payload, encrypted`

func buildJobStatements(table string) jobStatements {
	q, indexOf := quoteTable(table)
	index := indexOf("_due_idx")
	return jobStatements{
		// The grant code, the log credentials and the config values live
		// in payload, sealed like the tokens when the Store has a key; the
		// other columns hold nothing secret and serve the queries.
		schema: []string{
			`CREATE TABLE IF NOT EXISTS ` + q + ` (
    resource_uuid uuid        PRIMARY KEY,
    state         text        NOT NULL,
    step          text        NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    next_attempt  timestamptz,
    last_error    text        NOT NULL DEFAULT '',
    received_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    lease_owner   text        NOT NULL DEFAULT '',
    lease_until   timestamptz,
    payload       text        NOT NULL,
    encrypted     boolean     NOT NULL DEFAULT false
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + q + ` (next_attempt) WHERE state = 'provisioning'`,
		},
		insert: `INSERT INTO ` + q + ` (` + jobCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', NULL, $9, $10)
ON CONFLICT (resource_uuid) DO NOTHING RETURNING ` + jobCols,
		load: `SELECT ` + jobCols + ` FROM ` + q + ` WHERE resource_uuid = $1`,
		// SKIP LOCKED lets replicas claim side by side without waiting on
		// each other's candidate rows; the locked row's WHERE is checked
		// again on its newest version, so a job claimed meanwhile is passed
		// over.
		claim: `UPDATE ` + q + ` SET lease_owner = $1, lease_until = $3 WHERE resource_uuid = (
    SELECT resource_uuid FROM ` + q + `
    WHERE state = 'provisioning' AND next_attempt <= $2 AND (lease_until IS NULL OR lease_until <= $2)
    ORDER BY next_attempt LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING ` + jobCols,
		renew: `UPDATE ` + q + ` SET lease_until = $3 WHERE resource_uuid = $1 AND state = 'provisioning' AND lease_owner = $2`,
		save: `UPDATE ` + q + ` SET state = $3, step = $4, attempts = $5, next_attempt = $6, last_error = $7, updated_at = $8,
    payload = $9, encrypted = $10, lease_owner = $11, lease_until = $12
WHERE resource_uuid = $1 AND state = 'provisioning' AND lease_owner = $2`,
		list: `SELECT ` + jobCols + ` FROM ` + q + ` WHERE resource_uuid > $1 ORDER BY resource_uuid LIMIT $2`,
		tombstone: `INSERT INTO ` + q + ` (resource_uuid, state, step, received_at, updated_at, payload, encrypted)
VALUES ($1, 'deprovisioned', 'exchange', $2, $2, $3, $4) ON CONFLICT (resource_uuid) DO NOTHING RETURNING ` + jobCols,
		lock: `SELECT ` + jobCols + ` FROM ` + q + ` WHERE resource_uuid = $1 FOR UPDATE`,
		cancel: `UPDATE ` + q + ` SET state = 'deprovisioned', next_attempt = NULL, updated_at = $2, lease_owner = '',
    lease_until = NULL, payload = $3, encrypted = $4 WHERE resource_uuid = $1`,
	}
}

// CreateJob stores job unless its resource has a job already, in one
// statement (two when it has).
func (s *Store) CreateJob(ctx context.Context, job herokupartner.Job) (herokupartner.Job, bool, error) {
	id := job.Resource()
	if err := checkArgs(ctx, id); err != nil {
		return herokupartner.Job{}, false, fmt.Errorf("pgstore: creating job: %w", err)
	}
	payload, encrypted, err := s.sealPayload(job)
	if err != nil {
		return herokupartner.Job{}, false, fmt.Errorf("pgstore: creating job of resource %s: %w", id, err)
	}
	stored, err := s.scanJob(s.pool.QueryRow(ctx, s.jobSQL.insert, id, job.State, job.Step, job.Attempts,
		nullTime(job.NextAttempt), job.LastError, job.Received, job.Updated, payload, encrypted))
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return herokupartner.Job{}, false, fmt.Errorf("pgstore: creating job of resource %s: %w", id, err)
	}
	stored, err = s.LoadJob(ctx, id)
	return stored, false, err
}

// LoadJob returns the resource's job, or an error matching
// herokupartner.ErrJobNotFound.
func (s *Store) LoadJob(ctx context.Context, resource uuid.UUID) (herokupartner.Job, error) {
	if err := checkArgs(ctx, resource); err != nil {
		return herokupartner.Job{}, fmt.Errorf("pgstore: loading job: %w", err)
	}
	j, err := s.scanJob(s.pool.QueryRow(ctx, s.jobSQL.load, resource))
	if errors.Is(err, pgx.ErrNoRows) {
		return herokupartner.Job{}, fmt.Errorf("%w: %s", herokupartner.ErrJobNotFound, resource)
	}
	if err != nil {
		return herokupartner.Job{}, fmt.Errorf("pgstore: loading job of resource %s: %w", resource, err)
	}
	return j, nil
}

// ClaimJob leases the due job that has waited longest, skipping rows other
// replicas are claiming at the same moment. It sends one statement.
func (s *Store) ClaimJob(ctx context.Context, owner string, now, until time.Time) (herokupartner.Job, bool, error) {
	if ctx == nil || owner == "" {
		return herokupartner.Job{}, false, errors.New("pgstore: claiming job: nil context or empty owner")
	}
	j, err := s.scanJob(s.pool.QueryRow(ctx, s.jobSQL.claim, owner, now, until))
	if errors.Is(err, pgx.ErrNoRows) {
		return herokupartner.Job{}, false, nil
	}
	if err != nil {
		return herokupartner.Job{}, false, fmt.Errorf("pgstore: claiming job: %w", err)
	}
	return j, true, nil
}

// RenewJob moves the end of owner's lease.
func (s *Store) RenewJob(ctx context.Context, owner string, resource uuid.UUID, until time.Time) error {
	if err := checkArgs(ctx, resource); err != nil {
		return fmt.Errorf("pgstore: renewing job lease: %w", err)
	}
	tag, err := s.pool.Exec(ctx, s.jobSQL.renew, resource, owner, until)
	if err != nil {
		return fmt.Errorf("pgstore: renewing job lease of resource %s: %w", resource, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: resource %s", herokupartner.ErrLeaseLost, resource)
	}
	return nil
}

// SaveJob stores job if owner still holds its lease; until zero releases
// the lease.
func (s *Store) SaveJob(ctx context.Context, owner string, job herokupartner.Job, until time.Time) error {
	id := job.Resource()
	if err := checkArgs(ctx, id); err != nil {
		return fmt.Errorf("pgstore: saving job: %w", err)
	}
	payload, encrypted, err := s.sealPayload(job)
	if err != nil {
		return fmt.Errorf("pgstore: saving job of resource %s: %w", id, err)
	}
	leaseOwner := owner
	if until.IsZero() {
		leaseOwner = ""
	}
	tag, err := s.pool.Exec(ctx, s.jobSQL.save, id, owner, job.State, job.Step, job.Attempts, nullTime(job.NextAttempt),
		job.LastError, job.Updated, payload, encrypted, leaseOwner, nullTime(until))
	if err != nil {
		return fmt.Errorf("pgstore: saving job of resource %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: resource %s", herokupartner.ErrLeaseLost, id)
	}
	return nil
}

// CancelJob ends the resource's job as deprovisioned, or stores a
// deprovisioned one, in a transaction that holds the row.
func (s *Store) CancelJob(ctx context.Context, resource uuid.UUID, now time.Time) (herokupartner.Job, error) {
	if err := checkArgs(ctx, resource); err != nil {
		return herokupartner.Job{}, fmt.Errorf("pgstore: cancelling job: %w", err)
	}
	var out herokupartner.Job
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tomb := herokupartner.Job{Request: herokupartner.ProvisionRequest{UUID: resource}}
		payload, encrypted, err := s.sealPayload(tomb)
		if err != nil {
			return err
		}
		out, err = s.scanJob(tx.QueryRow(ctx, s.jobSQL.tombstone, resource, now, payload, encrypted))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err // stored a new record, or failed
		}
		if out, err = s.scanJob(tx.QueryRow(ctx, s.jobSQL.lock, resource)); err != nil {
			return err
		}
		if out.State == herokupartner.JobDeprovisioned {
			return nil
		}
		out.Request.OAuthGrant = nil
		out.State, out.Updated, out.NextAttempt = herokupartner.JobDeprovisioned, now, time.Time{}
		out.LeaseOwner, out.LeaseUntil = "", time.Time{}
		if payload, encrypted, err = s.sealPayload(out); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.jobSQL.cancel, resource, now, payload, encrypted)
		return err
	})
	if err != nil {
		return herokupartner.Job{}, fmt.Errorf("pgstore: cancelling job of resource %s: %w", resource, err)
	}
	return out, nil
}

// ListJobs returns a page of jobs in resource order, at most MaxPage.
func (s *Store) ListJobs(ctx context.Context, after uuid.UUID, limit int) ([]herokupartner.Job, error) {
	if err := checkPage(ctx, "listing jobs", limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.jobSQL.list, after, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (herokupartner.Job, error) { return s.scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing jobs: %w", err)
	}
	return jobs, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// scanJob reads one row of jobCols.
func (s *Store) scanJob(row pgx.Row) (herokupartner.Job, error) {
	var (
		j                    herokupartner.Job
		id                   uuid.UUID
		state, step, payload string
		next, leaseUntil     *time.Time
		encrypted            bool
	)
	if err := row.Scan(&id, &state, &step, &j.Attempts, &next, &j.LastError, &j.Received, &j.Updated,
		&j.LeaseOwner, &leaseUntil, &payload, &encrypted); err != nil {
		return herokupartner.Job{}, err
	}
	if err := s.openPayload(id, payload, encrypted, &j); err != nil {
		return herokupartner.Job{}, err
	}
	j.Request.UUID, j.State, j.Step = id, herokupartner.JobState(state), herokupartner.JobStep(step)
	if next != nil {
		j.NextAttempt = *next
	}
	if leaseUntil != nil {
		j.LeaseUntil = *leaseUntil
	}
	return j, nil
}

// jobPayload is a job's secret-bearing part as stored: the Secrets
// revealed, since json encoding of a Secret writes "[redacted]".
type jobPayload struct {
	Name        string                    `json:"name,omitempty"`
	Plan        string                    `json:"plan,omitempty"`
	Region      string                    `json:"region,omitempty"`
	CallbackURL string                    `json:"callback_url,omitempty"`
	Options     map[string]string         `json:"options,omitempty"`
	HerokuID    string                    `json:"heroku_id,omitempty"`
	LogInputURL string                    `json:"log_input_url,omitempty"`
	LogDrain    string                    `json:"log_drain_token,omitempty"`
	Grant       *jobGrant                 `json:"oauth_grant,omitempty"`
	Resolution  *herokupartner.Resolution `json:"resolution,omitempty"`
	Config      map[string]string         `json:"config,omitempty"`
	Message     string                    `json:"message,omitempty"`
}

type jobGrant struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Type      string    `json:"type"`
}
