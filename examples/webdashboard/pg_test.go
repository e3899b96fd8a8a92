package main

import (
	"context"
	"strings"
	"testing"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// newDatabase starts PostgreSQL (failing, not skipping, under CI=true when
// it cannot) and returns the URL of a new database and a pool on it for
// the test's own queries.
func newDatabase(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	pg := pgtest.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE webdashboard"); err != nil {
		t.Fatalf("creating the database: %v", err)
	}
	pool, err := pgxpool.New(ctx, pg.ConnString("webdashboard"))
	if err != nil {
		t.Fatalf("connecting to the database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pg.URL("webdashboard"), pool
}

// openMap opens the tracker's map in the database as a replica does.
func openMap(t *testing.T, url string) sourceConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := openSharedMap(ctx, url)
	if err != nil {
		t.Fatalf("opening the map: %v", err)
	}
	t.Cleanup(m.pool.Close)
	sc := testSource
	sc.Store, sc.Leader = m.store, m.leader
	return sc
}

// TestReplicasShareTheMapInPostgreSQL: two replicas of the dashboard keep
// the tracker's map in one database. Webhooks reach replica a only, and
// only the lease holder refreshes; b's page still shows every change,
// announced, because b follows the others' updates (LISTEN/NOTIFY).
func TestReplicasShareTheMapInPostgreSQL(t *testing.T) {
	url, pool := newDatabase(t)
	a := newEnvWith(t, world, openMap(t, url), nil)
	b := newEnvWith(t, world, openMap(t, url), a.fleet)

	var rows int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+demoTable).Scan(&rows); err != nil {
		t.Fatalf("reading the map: %v", err)
	}
	if want := len(b.fleet.reg.resources()) - len(revokedApps); rows != want {
		t.Errorf("the map holds %d resources, want %d", rows, want)
	}
	s := b.openStream(t, "acme")
	first, _ := s.until(t, func(_ update, board string) bool { return board != "" })
	if first.Announce != "" {
		t.Errorf("b announced the map filling up: %q", first.Announce)
	}

	b.fleet.rename("acme-shop-pr-1412", "acme-shop-pr-1413") // delivered to a's receiver
	b.delivered(t)
	s.until(t, func(u update, board string) bool {
		return u.Announce == "App acme-shop-pr-1412 was renamed acme-shop-pr-1413." && strings.Contains(board, `data-app="acme-shop-pr-1413"`)
	})
	b.fleet.couple("acme-shop-dev", "acme-shop", hp.StageStaging) // found by whichever replica leads
	s.until(t, func(u update, board string) bool {
		return u.Announce == "acme-shop-dev moved from development to staging in pipeline acme-shop."
	})
	if _, err := b.fleet.deprovision(context.Background(), "acme-shop"); err != nil {
		t.Fatal(err)
	}
	b.delivered(t)
	s.until(t, func(u update, _ string) bool { return strings.HasSuffix(u.Announce, "was removed from acme-shop.") })

	// The same changes reached a's own page, once each.
	_, texts, _ := kindsSince(t, a.src, "acme", 0)
	_, textsB, _ := kindsSince(t, b.src, "acme", 0)
	if strings.Join(texts, "|") != strings.Join(textsB, "|") || len(texts) != 3 {
		t.Errorf("a reported %q, b %q", texts, textsB)
	}
}

// TestRunKeepsTheMapInPostgreSQL is `DATABASE_URL=… go run .`, twice: each
// run's page is read from the map in PostgreSQL, and the second run
// removes the entries of the first, whose fake is gone.
func TestRunKeepsTheMapInPostgreSQL(t *testing.T) {
	url, pool := newDatabase(t)
	count := func() int {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+demoTable).Scan(&n); err != nil {
			t.Fatalf("reading the map: %v", err)
		}
		return n
	}
	for run := 1; run <= 2; run++ {
		r := startRun(t, runConfig{Addr: "127.0.0.1:0", Every: time.Hour, DatabaseURL: url})
		if !strings.Contains(r.out.String(), "in PostgreSQL (DATABASE_URL)") {
			t.Errorf("run %d does not say where the map is:\n%s", run, r.out.String())
		}
		r.waitPage(t, `data-app="acme-shop-pr-1412"`)
		if n := count(); n > len(world.Apps)+1 {
			t.Errorf("run %d: the map holds %d entries, more than one run's %d resources", run, n, len(world.Apps)+1)
		}
		r.stop(t)
	}
}

func TestBadDatabaseURLIsNotEchoed(t *testing.T) {
	const url = "postgres://user:s3cret-pass@[::1:5432/db" // not a valid URL
	_, err := openSharedMap(context.Background(), url)
	if err == nil {
		t.Fatal("a malformed DATABASE_URL was accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Error("the error repeats the password")
	}
}
