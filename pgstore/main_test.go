package pgstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/addonkit/herokupartner/internal/pgtest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// srv is the throwaway server every database test shares; nil when the
// machine has no PostgreSQL and the database tests skip.
var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	s, err := pgtest.Start()
	switch {
	case errors.Is(err, pgtest.ErrNoBinaries) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "pgstore: skipping the tests that need PostgreSQL: "+pgtest.InstallHint)
	case err != nil:
		// CI must not pass by skipping everything that matters.
		fmt.Fprintln(os.Stderr, "pgstore: cannot start a throwaway PostgreSQL server:", err)
		return 1
	default:
		srv = s
		defer s.Stop()
	}
	return m.Run()
}

// needServer skips tb when there is no PostgreSQL to test against.
func needServer(tb testing.TB) {
	tb.Helper()
	if srv == nil {
		tb.Skip(pgtest.InstallHint)
	}
}

// queryCounter counts the queries sent through a pool, to measure round
// trips per lookup.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// newPool connects a pool to s (the shared server when nil), closed when
// tb ends; tracer may be nil.
func newPool(tb testing.TB, s *pgtest.Server, tracer pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	if s == nil {
		needServer(tb)
		s = srv
	}
	cfg, err := pgxpool.ParseConfig(s.ConnString("postgres"))
	require.NoError(tb, err)
	cfg.MaxConns = 8
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

var tableSeq atomic.Int64

// newTable names a table no other test uses, so tests (and -count reruns)
// cannot see each other's rows.
func newTable() string { return fmt.Sprintf("tokens_%d", tableSeq.Add(1)) }

// newStore returns a migrated Store on pool.
func newStore(tb testing.TB, pool *pgxpool.Pool, opts ...pgstore.Option) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.New(pool, opts...)
	require.NoError(tb, err)
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

func newKey(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(tb, err)
	return k
}
