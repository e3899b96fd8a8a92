package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unreachablePool is a pool whose every connection attempt fails, for tests
// that must show an error comes before any query is sent.
func unreachablePool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig("host=127.0.0.1 port=1 user=nobody dbname=none sslmode=disable connect_timeout=1")
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestNewRejectsBadOptions(t *testing.T) {
	pool := unreachablePool(t)

	_, err := pgstore.New(nil)
	assert.ErrorContains(t, err, "nil pool")

	for _, name := range []string{"", "Tokens", "a.b.c", ".tokens", "tokens.", "tokens; DROP TABLE x", "1tokens",
		`tok"ens`, "tokens-2", strings.Repeat("t", 49), "ünïcode"} {
		_, err := pgstore.New(pool, pgstore.WithTable(name))
		assert.Error(t, err, "table %q", name)
	}
	for _, name := range []string{"tokens", "_t", "partner.tokens_2", strings.Repeat("t", 48)} {
		_, err := pgstore.New(pool, pgstore.WithTable(name))
		assert.NoError(t, err, "table %q", name)
	}
	for _, n := range []int{0, 1, 15, 31, 33, 64} {
		_, err := pgstore.New(pool, pgstore.WithEncryptionKey(make([]byte, n)))
		assert.ErrorContains(t, err, "want 16, 24 or 32", "key of %d bytes", n)
	}
	for _, n := range []int{16, 24, 32} {
		_, err := pgstore.New(pool, pgstore.WithEncryptionKey(make([]byte, n)))
		assert.NoError(t, err, "key of %d bytes", n)
	}
}

func TestBadArgumentsFailBeforeAnyQuery(t *testing.T) {
	// Every call below would fail to connect; the errors must be about
	// the arguments instead.
	s, err := pgstore.New(unreachablePool(t))
	require.NoError(t, err)
	ctx := context.Background()
	id := uuid.New()

	_, err = s.Load(ctx, uuid.Nil)
	assert.ErrorContains(t, err, "nil resource uuid")
	assert.ErrorContains(t, s.Save(ctx, uuid.Nil, herokupartner.Token{AccessToken: herokupartner.NewSecret("a")}), "nil resource uuid")
	assert.ErrorContains(t, s.Delete(ctx, uuid.Nil), "nil resource uuid")
	//lint:ignore SA1012 a nil context is the bad input under test
	_, err = s.Load(nil, id)
	assert.ErrorContains(t, err, "nil context")
	_, err = s.Update(ctx, id, nil)
	assert.ErrorContains(t, err, "nil function")
	_, err = s.ExpiringWithin(ctx, time.Minute, uuid.Nil, 0)
	assert.ErrorContains(t, err, "limit 0")
	_, err = s.ExpiringWithin(ctx, time.Minute, uuid.Nil, pgstore.MaxPage+1)
	assert.ErrorContains(t, err, "limit")
	_, err = s.ExpiringWithin(ctx, -time.Minute, uuid.Nil, 10)
	assert.ErrorContains(t, err, "negative window")
}

func TestSchema(t *testing.T) {
	def, err := pgstore.Schema("")
	require.NoError(t, err)
	named, err := pgstore.Schema(pgstore.DefaultTable)
	require.NoError(t, err)
	assert.Equal(t, def, named)
	assert.Contains(t, def, `CREATE TABLE IF NOT EXISTS "herokupartner_tokens"`)
	assert.Contains(t, def, `CREATE INDEX IF NOT EXISTS "herokupartner_tokens_expires_at_idx"`)

	other, err := pgstore.Schema("partner.tokens")
	require.NoError(t, err)
	assert.Contains(t, other, `"partner"."tokens"`)
	assert.Contains(t, other, `INDEX IF NOT EXISTS "tokens_expires_at_idx" ON "partner"."tokens"`)

	_, err = pgstore.Schema(`x"; DROP TABLE y; --`)
	assert.Error(t, err)

	// The README shows the SQL for teams that run their own migrations;
	// it must be the SQL Migrate runs.
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), def, "README.md's SQL differs from Schema(\"\")")
}

func TestMigrateIsIdempotent(t *testing.T) {
	pool := newPool(t, nil, nil)
	ctx := context.Background()
	table := newTable()
	s, err := pgstore.New(pool, pgstore.WithTable(table))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx))

	// Replicas starting together all migrate at once.
	fresh, err := pgstore.New(pool, pgstore.WithTable(newTable()))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = fresh.Migrate(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}

	// A schema-qualified table works too.
	_, err = pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS partner")
	require.NoError(t, err)
	q := newStore(t, pool, pgstore.WithTable("partner."+newTable()))
	id := uuid.New()
	require.NoError(t, q.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r")}))
	_, err = q.Load(ctx, id)
	assert.NoError(t, err)

	var cols []string
	rows, err := pool.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, table)
	require.NoError(t, err)
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		cols = append(cols, c)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"resource_uuid", "access_token", "refresh_token", "expires_at", "encrypted", "version", "updated_at"}, cols)
}

// rawRow reads a row as stored, bypassing the Store.
type rawRow struct {
	access, refresh string
	encrypted       bool
	version         int64
}

func readRaw(t *testing.T, pool *pgxpool.Pool, table string, id uuid.UUID) rawRow {
	t.Helper()
	var r rawRow
	err := pool.QueryRow(context.Background(),
		`SELECT access_token, refresh_token, encrypted, version FROM `+table+` WHERE resource_uuid = $1`, id).
		Scan(&r.access, &r.refresh, &r.encrypted, &r.version)
	require.NoError(t, err)
	return r
}

func TestSaveLoadRoundTrip(t *testing.T) {
	pool := newPool(t, nil, nil)
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		t.Run("encrypted="+strconv.FormatBool(encrypted), func(t *testing.T) {
			table := newTable()
			opts := []pgstore.Option{pgstore.WithTable(table)}
			if encrypted {
				opts = append(opts, pgstore.WithEncryptionKey(newKey(t)))
			}
			s := newStore(t, pool, opts...)
			id := uuid.New()
			want := herokupartner.Token{
				AccessToken:  herokupartner.NewSecret("access-" + uuid.NewString()),
				RefreshToken: herokupartner.NewSecret("refresh-" + uuid.NewString()),
				Expiry:       time.Now().Add(8 * time.Hour),
			}
			require.NoError(t, s.Save(ctx, id, want))
			got, err := s.Load(ctx, id)
			require.NoError(t, err)
			assert.True(t, got.AccessToken.Equal(want.AccessToken), "access token differs after the round trip")
			assert.True(t, got.RefreshToken.Equal(want.RefreshToken), "refresh token differs after the round trip")
			// PostgreSQL keeps microseconds.
			assert.True(t, got.Expiry.Equal(want.Expiry.Truncate(time.Microsecond)), "expiry %s, want %s", got.Expiry, want.Expiry)

			raw := readRaw(t, pool, table, id)
			assert.Equal(t, encrypted, raw.encrypted)
			assert.EqualValues(t, 1, raw.version)
			if encrypted {
				for _, secret := range []string{want.AccessToken.Reveal(), want.RefreshToken.Reveal()} {
					assert.False(t, strings.Contains(raw.access, secret) || strings.Contains(raw.refresh, secret),
						"a token is stored in plaintext")
				}
				// A random nonce per value: saving the same token twice
				// stores different ciphertexts.
				require.NoError(t, s.Save(ctx, id, want))
				again := readRaw(t, pool, table, id)
				assert.False(t, again.access == raw.access, "same ciphertext for the same token")
			} else {
				assert.True(t, raw.access == want.AccessToken.Reveal() && raw.refresh == want.RefreshToken.Reveal(), "unencrypted columns are not the tokens")
				require.NoError(t, s.Save(ctx, id, want))
			}

			// Saving replaces the token and bumps the version.
			next := herokupartner.Token{AccessToken: herokupartner.NewSecret("next-" + uuid.NewString()), RefreshToken: want.RefreshToken}
			require.NoError(t, s.Save(ctx, id, next))
			got, err = s.Load(ctx, id)
			require.NoError(t, err)
			assert.True(t, got.AccessToken.Equal(next.AccessToken), "Save did not replace the token")
			assert.True(t, got.Expiry.IsZero(), "a token saved without expiry loads with one: %s", got.Expiry)
			assert.EqualValues(t, 3, readRaw(t, pool, table, id).version)
		})
	}
}

func TestLoadMissing(t *testing.T) {
	s := newStore(t, newPool(t, nil, nil), pgstore.WithTable(newTable()))
	ctx := context.Background()
	_, err := s.Load(ctx, uuid.New())
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)

	called := false
	_, err = s.Update(ctx, uuid.New(), func(context.Context, herokupartner.Token) (herokupartner.Token, error) {
		called = true
		return herokupartner.Token{AccessToken: herokupartner.NewSecret("x")}, nil
	})
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)
	assert.False(t, called, "Update called fn for a missing token")
}

func TestDelete(t *testing.T) {
	s := newStore(t, newPool(t, nil, nil), pgstore.WithTable(newTable()))
	ctx := context.Background()
	id, other := uuid.New(), uuid.New()
	tok := herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r"), Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, s.Save(ctx, id, tok))
	require.NoError(t, s.Save(ctx, other, tok))

	require.NoError(t, s.Delete(ctx, id))
	_, err := s.Load(ctx, id)
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)
	assert.NoError(t, s.Delete(ctx, id), "deleting a missing token is not an error")
	_, err = s.Load(ctx, other)
	assert.NoError(t, err, "Delete removed another resource's token")
}

func TestEncryptionMismatchIsAClearError(t *testing.T) {
	pool := newPool(t, nil, nil)
	ctx := context.Background()
	table := newTable()
	keyed := newStore(t, pool, pgstore.WithTable(table), pgstore.WithEncryptionKey(newKey(t)))
	otherKey := newStore(t, pool, pgstore.WithTable(table), pgstore.WithEncryptionKey(newKey(t)))
	plain := newStore(t, pool, pgstore.WithTable(table))

	a, b, p := uuid.New(), uuid.New(), uuid.New()
	ta := herokupartner.Token{AccessToken: herokupartner.NewSecret("access-a-" + uuid.NewString()), RefreshToken: herokupartner.NewSecret("refresh-a-" + uuid.NewString())}
	tb := herokupartner.Token{AccessToken: herokupartner.NewSecret("access-b-" + uuid.NewString()), RefreshToken: herokupartner.NewSecret("refresh-b-" + uuid.NewString())}
	require.NoError(t, keyed.Save(ctx, a, ta))
	require.NoError(t, keyed.Save(ctx, b, tb))
	require.NoError(t, plain.Save(ctx, p, ta))

	noSecrets := func(t *testing.T, err error) {
		t.Helper()
		for _, s := range []string{ta.AccessToken.Reveal(), ta.RefreshToken.Reveal(), tb.AccessToken.Reveal(), tb.RefreshToken.Reveal()} {
			assert.False(t, strings.Contains(err.Error(), s), "error reveals a token")
		}
	}
	check := func(t *testing.T, s *pgstore.Store, id uuid.UUID, want string) {
		t.Helper()
		got, err := s.Load(ctx, id)
		require.ErrorIs(t, err, pgstore.ErrDecrypt)
		assert.ErrorContains(t, err, want)
		assert.True(t, got == herokupartner.Token{}, "a failed Load returned a token")
		noSecrets(t, err)
		called := false
		_, err = s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
			called = true
			return cur, nil
		})
		assert.ErrorIs(t, err, pgstore.ErrDecrypt)
		assert.False(t, called, "Update passed fn a token it could not decrypt")
	}

	t.Run("wrong key", func(t *testing.T) { check(t, otherKey, a, "wrong key") })
	t.Run("encrypted row, no key", func(t *testing.T) { check(t, plain, a, "has no key") })
	t.Run("plain row, key", func(t *testing.T) { check(t, keyed, p, "not encrypted") })
	t.Run("value copied from another row", func(t *testing.T) {
		_, err := pool.Exec(ctx, `UPDATE `+table+` SET access_token = (SELECT access_token FROM `+table+` WHERE resource_uuid = $1) WHERE resource_uuid = $2`, a, b)
		require.NoError(t, err)
		check(t, keyed, b, "copied from another row")
	})
	t.Run("columns swapped", func(t *testing.T) {
		_, err := pool.Exec(ctx, `UPDATE `+table+` SET access_token = refresh_token, refresh_token = access_token WHERE resource_uuid = $1`, a)
		require.NoError(t, err)
		check(t, keyed, a, "wrong key")
	})
	t.Run("not base64", func(t *testing.T) {
		_, err := pool.Exec(ctx, `UPDATE `+table+` SET access_token = 'not ciphertext!' WHERE resource_uuid = $1`, a)
		require.NoError(t, err)
		check(t, keyed, a, "not a value this package encrypted")
	})
}

func TestExpiringWithinPages(t *testing.T) {
	s := newStore(t, newPool(t, nil, nil), pgstore.WithTable(newTable()))
	ctx := context.Background()
	now := time.Now()
	var want []uuid.UUID
	save := func(n int, expiry time.Time, listed bool) {
		for range n {
			id := uuid.New()
			require.NoError(t, s.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r"), Expiry: expiry}))
			if listed {
				want = append(want, id)
			}
		}
	}
	save(10, now.Add(time.Minute), true)   // expiring soon
	save(5, now.Add(-time.Hour), true)     // already expired
	save(7, now.Add(2*time.Hour), false)   // fresh
	save(3, time.Time{}, false)            // no expiry known
	save(2, now.Add(6*time.Minute), false) // just outside the window
	slices.SortFunc(want, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })

	var got []uuid.UUID
	var sizes []int
	after := uuid.Nil
	for {
		page, err := s.ExpiringWithin(ctx, 5*time.Minute, after, 4)
		require.NoError(t, err)
		sizes = append(sizes, len(page))
		got = append(got, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1]
	}
	assert.Equal(t, want, got, "pages are not the expiring tokens in uuid order")
	assert.Equal(t, []int{4, 4, 4, 3}, sizes)

	// A token refreshed meanwhile drops out of the list.
	require.NoError(t, s.Save(ctx, want[0], herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r"), Expiry: now.Add(8 * time.Hour)}))
	page, err := s.ExpiringWithin(ctx, 5*time.Minute, uuid.Nil, pgstore.MaxPage)
	require.NoError(t, err)
	assert.Equal(t, want[1:], page)
}

func TestUpdateSerialisesAcrossStores(t *testing.T) {
	// Two stores on two pools stand for two replicas. Each Update adds
	// one to a counter kept in the token; without a lock spanning the read
	// and the write, increments would be lost.
	table := newTable()
	ctx := context.Background()
	stores := []*pgstore.Store{
		newStore(t, newPool(t, nil, nil), pgstore.WithTable(table)),
		newStore(t, newPool(t, nil, nil), pgstore.WithTable(table)),
	}
	id := uuid.New()
	require.NoError(t, stores[0].Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("0"), RefreshToken: herokupartner.NewSecret("r")}))

	const perStore = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				_, err := s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
					n, err := strconv.Atoi(cur.AccessToken.Reveal())
					if err != nil {
						return herokupartner.Token{}, err
					}
					cur.AccessToken = herokupartner.NewSecret(strconv.Itoa(n + 1))
					return cur, nil
				})
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := stores[1].Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(2*perStore), got.AccessToken.Reveal(), "lost updates: the lock did not serialise Update")
	assert.EqualValues(t, 2*perStore+1, readRaw(t, newPool(t, nil, nil), table, id).version)
}

func TestUpdateSavesAndReturnsResult(t *testing.T) {
	pool := newPool(t, nil, nil)
	table := newTable()
	s := newStore(t, pool, pgstore.WithTable(table), pgstore.WithEncryptionKey(newKey(t)))
	ctx := context.Background()
	id := uuid.New()
	old := herokupartner.Token{AccessToken: herokupartner.NewSecret("old"), RefreshToken: herokupartner.NewSecret("r"), Expiry: time.Now().Add(time.Minute)}
	require.NoError(t, s.Save(ctx, id, old))

	// fn sees the stored token and its result is saved.
	next := herokupartner.Token{AccessToken: herokupartner.NewSecret("new"), RefreshToken: herokupartner.NewSecret("r2"), Expiry: time.Now().Add(8 * time.Hour)}
	got, err := s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
		assert.True(t, cur.AccessToken.Equal(old.AccessToken), "fn did not get the stored token")
		return next, nil
	})
	require.NoError(t, err)
	assert.True(t, got == next, "Update did not return fn's token")
	loaded, err := s.Load(ctx, id)
	require.NoError(t, err)
	assert.True(t, loaded.AccessToken.Equal(next.AccessToken) && loaded.RefreshToken.Equal(next.RefreshToken), "Update did not save fn's token")
	assert.EqualValues(t, 2, readRaw(t, pool, table, id).version)

	// Returning the token unchanged (a peer already refreshed) writes
	// nothing.
	_, err = s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) { return cur, nil })
	require.NoError(t, err)
	assert.EqualValues(t, 2, readRaw(t, pool, table, id).version)

	// An error from fn comes back as is and leaves the token alone.
	boom := errors.New("token endpoint said no")
	_, err = s.Update(ctx, id, func(context.Context, herokupartner.Token) (herokupartner.Token, error) {
		return herokupartner.Token{AccessToken: herokupartner.NewSecret("never saved")}, boom
	})
	assert.ErrorIs(t, err, boom)
	loaded, err = s.Load(ctx, id)
	require.NoError(t, err)
	assert.True(t, loaded.AccessToken.Equal(next.AccessToken), "a failed fn changed the stored token")
	assert.EqualValues(t, 2, readRaw(t, pool, table, id).version)
}

// terminateLocker ends the backend whose transaction holds a row of table
// with SELECT … FOR UPDATE, and waits until it is gone.
func terminateLocker(ctx context.Context, pool *pgxpool.Pool, table string) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM (
    SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND state = 'idle in transaction'
      AND query LIKE '%FOR UPDATE%' AND query LIKE '%"' || $1 || '"%') t`, table).Scan(&n)
	return n, err
}

func TestUpdateWhoseSaveFailsKeepsOldToken(t *testing.T) {
	pool := newPool(t, nil, nil)
	admin := newPool(t, nil, nil)
	table := newTable()
	s := newStore(t, pool, pgstore.WithTable(table))
	ctx := context.Background()
	id := uuid.New()
	old := herokupartner.Token{AccessToken: herokupartner.NewSecret("old-" + uuid.NewString()), RefreshToken: herokupartner.NewSecret("r"), Expiry: time.Now().Add(-time.Minute)}
	require.NoError(t, s.Save(ctx, id, old))

	next := herokupartner.Token{AccessToken: herokupartner.NewSecret("new-" + uuid.NewString()), RefreshToken: herokupartner.NewSecret("r"), Expiry: time.Now().Add(8 * time.Hour)}
	got, err := s.Update(ctx, id, func(ctx context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
		// The connection dies while the refresh is under way.
		n, err := terminateLocker(ctx, admin, table)
		require.NoError(t, err)
		require.Equal(t, 1, n, "expected to find the locking transaction")
		return next, nil
	})
	require.Error(t, err)
	assert.ErrorContains(t, err, "saving")
	assert.False(t, strings.Contains(err.Error(), next.AccessToken.Reveal()), "error reveals the token")
	assert.True(t, got == herokupartner.Token{}, "a failed Update returned a token")

	loaded, err := s.Load(ctx, id)
	require.NoError(t, err, "the pool should recover from a lost connection")
	assert.True(t, loaded.AccessToken.Equal(old.AccessToken) && loaded.RefreshToken.Equal(old.RefreshToken) &&
		loaded.Expiry.Equal(old.Expiry.Truncate(time.Microsecond)), "the old token was not left in place")
	assert.EqualValues(t, 1, readRaw(t, admin, table, id).version)
}

func TestClosedPoolGivesErrors(t *testing.T) {
	pool := newPool(t, nil, nil)
	s := newStore(t, pool, pgstore.WithTable(newTable()))
	ctx := context.Background()
	id := uuid.New()
	require.NoError(t, s.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r")}))
	pool.Close()

	_, err := s.Load(ctx, id)
	assert.ErrorContains(t, err, "loading token of resource "+id.String())
	assert.Error(t, s.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("b")}))
	assert.Error(t, s.Delete(ctx, id))
	called := false
	_, err = s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
		called = true
		return cur, nil
	})
	assert.Error(t, err)
	assert.False(t, called, "Update ran fn without a lock")
	_, err = s.ExpiringWithin(ctx, time.Hour, uuid.Nil, 10)
	assert.Error(t, err)
	assert.Error(t, s.Migrate(ctx))
}

func TestLoadIsOneQuery(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run("encrypted="+strconv.FormatBool(encrypted), func(t *testing.T) {
			var qc queryCounter
			opts := []pgstore.Option{pgstore.WithTable(newTable())}
			if encrypted {
				opts = append(opts, pgstore.WithEncryptionKey(newKey(t)))
			}
			s := newStore(t, newPool(t, nil, &qc), opts...)
			ctx := context.Background()
			id := uuid.New()
			require.NoError(t, s.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("a"), RefreshToken: herokupartner.NewSecret("r"), Expiry: time.Now().Add(time.Hour)}))
			before := qc.n.Load()
			for range 5 {
				_, err := s.Load(ctx, id)
				require.NoError(t, err)
			}
			assert.EqualValues(t, 5, qc.n.Load()-before, "queries for 5 loads")
		})
	}
}
