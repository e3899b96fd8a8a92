// Package pgstore keeps herokupartner's shared state in PostgreSQL, so that
// every replica of an add-on service sees the same: OAuth tokens, of which
// only one replica refreshes a resource's at a time (Store); provisioning
// jobs (Store, as a herokupartner.JobStore); the Tracker's map of resources
// with its change feed (TrackerStore); and the Tracker's leadership
// (Leader).
//
// Store implements herokupartner.LockingTokenStore: its Update runs the
// refresh inside a transaction that holds the resource's row with SELECT …
// FOR UPDATE and saves the new token before committing. A replica that
// waited for the lock reads the token the winner saved, so Heroku sees one
// refresh request however many replicas race.
//
// The token table holds OAuth tokens, which are secrets: restrict who can read
// it, and consider WithEncryptionKey, which encrypts both token columns
// with AES-GCM under a key you keep outside the database.
package pgstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTable is the table a Store uses unless WithTable names another.
const DefaultTable = "herokupartner_tokens"

// MaxPage is the largest page ExpiringWithin, ListJobs and Due return.
const MaxPage = 10000

// checkPage is the one check of a paged read's arguments; what names the
// read in the error.
func checkPage(ctx context.Context, what string, limit int) error {
	if ctx == nil {
		return fmt.Errorf("pgstore: %s: nil context", what)
	}
	if limit < 1 || limit > MaxPage {
		return fmt.Errorf("pgstore: %s: limit %d is not between 1 and %d", what, limit, MaxPage)
	}
	return nil
}

// ErrDecrypt is matched by the error of a read whose stored tokens cannot be
// turned back into plaintext with the store's settings: a wrong key, an
// encrypted row read without a key (or the reverse), or a value that was
// altered or copied from another row.
var ErrDecrypt = errors.New("pgstore: stored token cannot be decrypted with this store's key")

// Store is a herokupartner.LockingTokenStore in a PostgreSQL table, and a
// herokupartner.JobStore in a second one (see jobs.go). It is safe for
// concurrent use, and any number of Stores in any number of processes may
// share the tables.
type Store struct {
	pool   *pgxpool.Pool
	table  string // validated, unquoted: schema.name or name
	aead   cipher.AEAD
	sql    statements
	jobSQL jobStatements
}

var _ herokupartner.LockingTokenStore = (*Store)(nil)

type config struct {
	table     string
	jobsTable string
	key       []byte
}

// Option configures a Store built by New.
type Option func(*config) error

// identPart is deliberately narrower than what PostgreSQL accepts: lower
// case only, so the quoted name in the SQL and the bare name a team types in
// psql are the same table, and short enough that the index name derived
// from it still fits PostgreSQL's 63-byte limit.
var identPart = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// WithTable stores tokens in the table name instead of DefaultTable. The
// name is a lower-case identifier (letters, digits, underscores, at most 48
// characters), optionally qualified by a schema: "tokens" or
// "partner.tokens".
func WithTable(name string) Option {
	return func(c *config) error {
		parts := strings.Split(name, ".")
		if len(parts) > 2 {
			return fmt.Errorf("pgstore: WithTable: %q: want table or schema.table", name)
		}
		for _, p := range parts {
			if !identPart.MatchString(p) {
				return fmt.Errorf("pgstore: WithTable: %q: want lower-case letters, digits and underscores, not starting with a digit, at most 48 characters per part", name)
			}
		}
		c.table = name
		return nil
	}
}

// WithEncryptionKey encrypts the access and refresh token columns with
// AES-GCM under key, which must be 16, 24 or 32 bytes (32 picks AES-256, the
// recommended choice). Each value gets a random nonce and is bound to its
// resource and column, so ciphertexts cannot be moved between rows. A Store
// with a key refuses to read rows written without one, and the reverse.
func WithEncryptionKey(key []byte) Option {
	return func(c *config) error {
		switch len(key) {
		case 16, 24, 32:
		default:
			return fmt.Errorf("pgstore: WithEncryptionKey: key is %d bytes; want 16, 24 or 32", len(key))
		}
		c.key = append([]byte(nil), key...)
		return nil
	}
}

// New returns a Store that keeps tokens in pool's database. It sends no
// query: call Migrate, or run Schema's SQL yourself, to create the table.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: nil pool")
	}
	c := config{table: DefaultTable, jobsTable: DefaultJobsTable}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	s := &Store{pool: pool, table: c.table, sql: buildStatements(c.table), jobSQL: buildJobStatements(c.jobsTable)}
	if c.key != nil {
		block, err := aes.NewCipher(c.key)
		if err != nil {
			return nil, fmt.Errorf("pgstore: WithEncryptionKey: %w", err)
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("pgstore: WithEncryptionKey: %w", err)
		}
	}
	return s, nil
}

// Migrate creates the store's tables (tokens and provisioning jobs) and
// their indexes if they do not exist. It is safe to call on every start,
// from every replica at once.
func (s *Store) Migrate(ctx context.Context) error {
	if ctx == nil {
		return errors.New("pgstore: Migrate: nil context")
	}
	err := migrate(ctx, s.pool, slices.Concat(s.sql.schema, s.jobSQL.schema))
	if err != nil {
		return fmt.Errorf("pgstore: migrating table %s: %w", s.table, err)
	}
	return nil
}

// Load returns the resource's token, or an error matching
// herokupartner.ErrTokenNotFound when none is stored. It sends one query.
func (s *Store) Load(ctx context.Context, resource uuid.UUID) (herokupartner.Token, error) {
	if err := checkArgs(ctx, resource); err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: loading token: %w", err)
	}
	t, err := s.scan(resource, s.pool.QueryRow(ctx, s.sql.load, resource))
	if err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: loading token of resource %s: %w", resource, err)
	}
	return t, nil
}

// Save stores the resource's token, replacing any earlier one.
func (s *Store) Save(ctx context.Context, resource uuid.UUID, t herokupartner.Token) error {
	if err := checkArgs(ctx, resource); err != nil {
		return fmt.Errorf("pgstore: saving token: %w", err)
	}
	args, err := s.row(resource, t)
	if err != nil {
		return fmt.Errorf("pgstore: saving token of resource %s: %w", resource, err)
	}
	if _, err := s.pool.Exec(ctx, s.sql.upsert, args...); err != nil {
		return fmt.Errorf("pgstore: saving token of resource %s: %w", resource, err)
	}
	return nil
}

// Delete forgets the resource's token, as when the add-on is deprovisioned.
// Deleting a token that is not stored is not an error.
func (s *Store) Delete(ctx context.Context, resource uuid.UUID) error {
	if err := checkArgs(ctx, resource); err != nil {
		return fmt.Errorf("pgstore: deleting token: %w", err)
	}
	if _, err := s.pool.Exec(ctx, s.sql.delete, resource); err != nil {
		return fmt.Errorf("pgstore: deleting token of resource %s: %w", resource, err)
	}
	return nil
}

// Update locks the resource's row in a transaction, passes the stored token
// to fn and saves what fn returns before committing; other Updates of the
// resource, in any process, wait meanwhile. It returns the saved token. An
// error from fn, or from saving or committing, rolls back and leaves the
// stored token as it was. When fn returns the token unchanged nothing is
// written. A missing row gives an error matching
// herokupartner.ErrTokenNotFound without calling fn.
//
// fn runs while a pooled connection is held, so keep it short: a call to
// the token endpoint, not a batch of work.
func (s *Store) Update(ctx context.Context, resource uuid.UUID, fn func(ctx context.Context, current herokupartner.Token) (herokupartner.Token, error)) (herokupartner.Token, error) {
	if err := checkArgs(ctx, resource); err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token: %w", err)
	}
	if fn == nil {
		return herokupartner.Token{}, errors.New("pgstore: updating token: nil function")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token of resource %s: beginning transaction: %w", resource, err)
	}
	// After a successful Commit this is a no-op; otherwise it ends the
	// transaction, and if even that fails pgx closes the connection, which
	// makes the server roll back.
	defer func() { _ = tx.Rollback(ctx) }()

	cur, err := s.scan(resource, tx.QueryRow(ctx, s.sql.lock, resource))
	if err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token of resource %s: locking: %w", resource, err)
	}
	next, err := fn(ctx, cur)
	if err != nil {
		return herokupartner.Token{}, err
	}
	if sameToken(cur, next) {
		return cur, nil
	}
	args, err := s.row(resource, next)
	if err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token of resource %s: %w", resource, err)
	}
	if _, err := tx.Exec(ctx, s.sql.update, args...); err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token of resource %s: saving: %w", resource, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return herokupartner.Token{}, fmt.Errorf("pgstore: updating token of resource %s: committing: %w", resource, err)
	}
	return next, nil
}

// ExpiringWithin returns, in uuid order, up to limit resources stored after
// the resource after whose access tokens expire within d from now (or have
// expired), for a background refresher. Start with uuid.Nil and pass the
// last uuid of each page to get the next; a page shorter than limit is the
// last. Tokens stored without an expiry are never listed.
func (s *Store) ExpiringWithin(ctx context.Context, d time.Duration, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	if err := checkPage(ctx, "listing expiring tokens", limit); err != nil {
		return nil, err
	}
	if d < 0 {
		return nil, fmt.Errorf("pgstore: listing expiring tokens: negative window %s", d)
	}
	// The application's clock, not the database's, since the TokenManager
	// decides on refreshes by it.
	rows, err := s.pool.Query(ctx, s.sql.expiring, time.Now().Add(d), after, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing expiring tokens: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("pgstore: listing expiring tokens: %w", err)
	}
	return ids, nil
}

func checkArgs(ctx context.Context, resource uuid.UUID) error {
	if ctx == nil {
		return errors.New("nil context")
	}
	if resource == uuid.Nil {
		return errors.New("nil resource uuid")
	}
	return nil
}

func sameToken(a, b herokupartner.Token) bool {
	return a.AccessToken.Equal(b.AccessToken) && a.RefreshToken.Equal(b.RefreshToken) && a.Expiry.Equal(b.Expiry)
}

// scan reads one token row; a missing row becomes ErrTokenNotFound.
func (s *Store) scan(resource uuid.UUID, row pgx.Row) (herokupartner.Token, error) {
	var (
		access, refresh string
		expiry          *time.Time
		encrypted       bool
	)
	if err := row.Scan(&access, &refresh, &expiry, &encrypted); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return herokupartner.Token{}, herokupartner.ErrTokenNotFound
		}
		return herokupartner.Token{}, err
	}
	var t herokupartner.Token
	if expiry != nil {
		t.Expiry = *expiry
	}
	switch {
	case encrypted && s.aead == nil:
		return herokupartner.Token{}, fmt.Errorf("%w: the row is encrypted and this store has no key (WithEncryptionKey)", ErrDecrypt)
	case !encrypted && s.aead != nil:
		return herokupartner.Token{}, fmt.Errorf("%w: the row is not encrypted but this store has a key; see the README on enabling encryption", ErrDecrypt)
	case !encrypted:
		t.AccessToken, t.RefreshToken = herokupartner.NewSecret(access), herokupartner.NewSecret(refresh)
		return t, nil
	}
	access, err := s.open(resource, colAccess, access)
	if err != nil {
		return herokupartner.Token{}, err
	}
	if refresh, err = s.open(resource, colRefresh, refresh); err != nil {
		return herokupartner.Token{}, err
	}
	t.AccessToken, t.RefreshToken = herokupartner.NewSecret(access), herokupartner.NewSecret(refresh)
	return t, nil
}

// row returns the query arguments that store t: resource, access, refresh,
// expiry (NULL when zero) and whether the tokens are encrypted.
func (s *Store) row(resource uuid.UUID, t herokupartner.Token) ([]any, error) {
	var expiry *time.Time
	if !t.Expiry.IsZero() {
		expiry = &t.Expiry
	}
	if s.aead == nil {
		return []any{resource, t.AccessToken.Reveal(), t.RefreshToken.Reveal(), expiry, false}, nil
	}
	access, err := s.seal(resource, colAccess, t.AccessToken.Reveal())
	if err != nil {
		return nil, err
	}
	refresh, err := s.seal(resource, colRefresh, t.RefreshToken.Reveal())
	if err != nil {
		return nil, err
	}
	return []any{resource, access, refresh, expiry, true}, nil
}
