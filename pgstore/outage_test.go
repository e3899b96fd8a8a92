package pgstore_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/internal/pgtest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeCalls runs every Store method once, each under its own context from
// newCtx, and returns their errors by name.
func storeCalls(s *pgstore.Store, id uuid.UUID, newCtx func() (context.Context, context.CancelFunc)) map[string]error {
	errs := map[string]error{}
	run := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := newCtx()
		defer cancel()
		errs[name] = f(ctx)
	}
	run("Load", func(ctx context.Context) error {
		tok, err := s.Load(ctx, id)
		if err == nil || tok != (herokupartner.Token{}) {
			return errors.New("Load returned a token during the outage")
		}
		return err
	})
	run("Save", func(ctx context.Context) error {
		return s.Save(ctx, id, herokupartner.Token{AccessToken: herokupartner.NewSecret("unsaved"), RefreshToken: herokupartner.NewSecret("unsaved")})
	})
	run("Update", func(ctx context.Context) error {
		_, err := s.Update(ctx, id, func(_ context.Context, cur herokupartner.Token) (herokupartner.Token, error) {
			return herokupartner.Token{}, errors.New("Update ran fn during the outage")
		})
		return err
	})
	run("Delete", func(ctx context.Context) error { return s.Delete(ctx, id) })
	run("ExpiringWithin", func(ctx context.Context) error {
		_, err := s.ExpiringWithin(ctx, time.Hour, uuid.Nil, 10)
		return err
	})
	run("Migrate", func(ctx context.Context) error { return s.Migrate(ctx) })
	return errs
}

// fromDriver says whether err wraps what pgx or the network reported, so
// that callers can inspect it with errors.As.
func fromDriver(err error) bool {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &pgErr) || errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err)
}

// TestServerOutage runs on a server of its own, since it freezes and then
// kills it.
func TestServerOutage(t *testing.T) {
	needServer(t)
	own, err := pgtest.Start()
	require.NoError(t, err)
	t.Cleanup(own.Stop)

	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	addon := fake.AddAddon(fake.AddApp("outage").ID, "metrics:basic")
	pool := newPool(t, own, nil)
	store := newStore(t, pool)
	m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), Store: store, TokenURL: fake.TokenURL(),
	})
	require.NoError(t, err)
	code, _ := fake.IssueGrant(addon.ID)
	_, err = m.Exchange(context.Background(), addon.ID.String(), herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code)})
	require.NoError(t, err)
	// Warm the pool so that calls meet open connections, not just refused
	// new ones.
	_, err = store.Load(context.Background(), addon.ID)
	require.NoError(t, err)

	t.Run("frozen server: calls end with their context", func(t *testing.T) {
		own.SignalAll(syscall.SIGSTOP)
		defer own.SignalAll(syscall.SIGCONT)
		short := func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 500*time.Millisecond)
		}
		for name, err := range storeCalls(store, addon.ID, short) {
			assert.ErrorIs(t, err, context.DeadlineExceeded, name)
		}
		ctx, cancel := short()
		defer cancel()
		tok, err := m.Token(ctx, addon.ID.String())
		assert.Error(t, err)
		assert.True(t, tok == herokupartner.Token{}, "TokenManager returned a token it could not load")
	})

	t.Run("killed server: calls fail with the driver's error", func(t *testing.T) {
		own.Kill()
		// Generous: a dead server refuses at once, so reaching this
		// deadline would itself be the failure.
		long := func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Second)
		}
		for name, err := range storeCalls(store, addon.ID, long) {
			require.Error(t, err, name)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, name)
			assert.True(t, fromDriver(err), "%s: error does not wrap the driver's: %v", name, err)
		}
		ctx, cancel := long()
		defer cancel()
		tok, err := m.Token(ctx, addon.ID.String())
		assert.Error(t, err)
		assert.True(t, tok == herokupartner.Token{}, "TokenManager returned a token it could not load")
		_, err = fake.Client("").WithTokenSource(m.TokenSource(addon.ID.String())).GetAddon(ctx, addon.ID.String())
		assert.ErrorContains(t, err, "loading token")
	})
}
