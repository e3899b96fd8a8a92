package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// BenchmarkLoad measures looking up a fresh token (no refresh) against a
// plain single-row SELECT through the same pool: the store's overhead is
// the difference, and queries/op says how many round trips a lookup costs.
func BenchmarkLoad(b *testing.B) {
	var qc queryCounter
	pool := newPool(b, nil, &qc)
	ctx := context.Background()
	table := newTable()
	plain := newStore(b, pool, pgstore.WithTable(table))
	encTable := newTable()
	enc := newStore(b, pool, pgstore.WithTable(encTable), pgstore.WithEncryptionKey(newKey(b)))
	id := uuid.New()
	tok := herokupartner.Token{AccessToken: herokupartner.NewSecret(uuid.NewString()), RefreshToken: herokupartner.NewSecret(uuid.NewString()), Expiry: time.Now().Add(8 * time.Hour)}
	require.NoError(b, plain.Save(ctx, id, tok))
	require.NoError(b, enc.Save(ctx, id, tok))

	run := func(b *testing.B, load func() error) {
		require.NoError(b, load()) // prepares the statement outside the timing
		qc.n.Store(0)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := load(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(qc.n.Load())/float64(b.N), "queries/op")
	}
	b.Run("baseline=plain-select", func(b *testing.B) {
		q := `SELECT access_token FROM ` + table + ` WHERE resource_uuid = $1`
		run(b, func() error {
			var s string
			return pool.QueryRow(ctx, q, id).Scan(&s)
		})
	})
	b.Run("store", func(b *testing.B) {
		run(b, func() error { _, err := plain.Load(ctx, id); return err })
	})
	b.Run("store-encrypted", func(b *testing.B) {
		run(b, func() error { _, err := enc.Load(ctx, id); return err })
	})
	b.Run("token-manager", func(b *testing.B) {
		// A fresh token never reaches the token endpoint, so none runs.
		m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
			ClientSecret: herokupartner.NewSecret("unused"), Store: plain, TokenURL: "http://127.0.0.1:1/oauth/token",
		})
		require.NoError(b, err)
		run(b, func() error { _, err := m.Token(ctx, id.String()); return err })
	})
}

// BenchmarkRefreshContention expires a token and lets two replicas with 8
// callers each race to use it; refreshes/expiry counts the requests that
// reached the token endpoint per expiry (the target is 1).
func BenchmarkRefreshContention(b *testing.B) {
	needServer(b)
	fake := herokupartnertest.NewServer(herokupartnertest.WithRefreshTokenRotation(true), herokupartnertest.WithRateLimit(1<<30, 1<<30))
	b.Cleanup(fake.Close)
	addon := fake.AddAddon(fake.AddApp("bench").ID, "metrics:basic")
	table := newTable()
	var managers []*herokupartner.TokenManager
	var stores []*pgstore.Store
	for range 2 {
		s := newStore(b, newPool(b, nil, nil), pgstore.WithTable(table))
		m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
			ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), Store: s, TokenURL: fake.TokenURL(),
		})
		require.NoError(b, err)
		managers, stores = append(managers, m), append(stores, s)
	}
	ctx := context.Background()
	code, _ := fake.IssueGrant(addon.ID)
	_, err := managers[0].Exchange(ctx, addon.ID.String(), herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code)})
	require.NoError(b, err)

	const callers = 8
	refreshes := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		cur, err := stores[0].Load(ctx, addon.ID)
		require.NoError(b, err)
		cur.Expiry = time.Now().Add(-time.Second)
		require.NoError(b, stores[0].Save(ctx, addon.ID, cur))
		fake.ResetRequests()
		b.StartTimer()

		var wg sync.WaitGroup
		for _, m := range managers {
			for range callers {
				wg.Go(func() {
					if _, err := m.Token(ctx, addon.ID.String()); err != nil {
						b.Error(err)
					}
				})
			}
		}
		wg.Wait()

		b.StopTimer()
		refreshes += refreshRequests(fake)
		b.StartTimer()
	}
	b.ReportMetric(float64(refreshes)/float64(b.N), "refreshes/expiry")
}
