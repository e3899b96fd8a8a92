package pgstore_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replica is one process of a partner's service: its own pool, Store,
// TokenManager and Client.
type replica struct {
	store   *pgstore.Store
	manager *herokupartner.TokenManager
	client  *herokupartner.Client
}

func newReplica(t *testing.T, fake *herokupartnertest.Server, addonID uuid.UUID, httpClient *http.Client, opts ...pgstore.Option) replica {
	t.Helper()
	store := newStore(t, newPool(t, nil, nil), opts...)
	m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()),
		Store:        store,
		TokenURL:     fake.TokenURL(),
		HTTPClient:   httpClient,
	})
	require.NoError(t, err)
	c, err := fake.Client("").ForResource(m, addonID.String())
	require.NoError(t, err)
	return replica{store: store, manager: m, client: c}
}

// refreshRequests counts the refresh_token requests in the fake's log.
func refreshRequests(fake *herokupartnertest.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Route == herokupartnertest.RouteToken && r.Form.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

// provision exchanges a fresh grant through r, as the provisioning handler
// of one replica would, and returns the add-on's id and first token.
func provision(t *testing.T, fake *herokupartnertest.Server, r replica, addonID uuid.UUID) herokupartner.Token {
	t.Helper()
	code, exp := fake.IssueGrant(addonID)
	require.NotEmpty(t, code)
	tok, err := r.manager.Exchange(context.Background(), addonID.String(),
		herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: exp, Type: herokupartner.GrantTypeAuthorizationCode})
	require.NoError(t, err)
	return tok
}

func TestReplicasRefreshOnce(t *testing.T) {
	needServer(t)
	for _, tc := range []struct {
		name string
		// stale makes the stored token need a refresh.
		stale func(t *testing.T, fake *herokupartnertest.Server, r replica, id uuid.UUID, old herokupartner.Token)
	}{
		{
			// The stored expiry has passed: every caller sees it before
			// sending anything.
			name: "expired",
			stale: func(t *testing.T, fake *herokupartnertest.Server, r replica, id uuid.UUID, old herokupartner.Token) {
				fake.ExpireAccessTokens(id)
				old.Expiry = time.Now().Add(-time.Second)
				require.NoError(t, r.store.Save(context.Background(), id, old))
			},
		},
		{
			// Heroku rejects a token the store still thinks valid: every
			// caller gets a 401 and asks for a forced refresh.
			name: "rejected",
			stale: func(t *testing.T, fake *herokupartnertest.Server, _ replica, id uuid.UUID, _ herokupartner.Token) {
				fake.ExpireAccessTokens(id)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With rotation, a second refresh would spend a refresh token
			// the first already replaced, and fail.
			fake := herokupartnertest.NewServer(herokupartnertest.WithRefreshTokenRotation(true))
			t.Cleanup(fake.Close)
			app := fake.AddApp("replicated")
			addon := fake.AddAddon(app.ID, "metrics:basic")
			table := newTable()
			key := newKey(t)
			replicas := []replica{
				newReplica(t, fake, addon.ID, nil, pgstore.WithTable(table), pgstore.WithEncryptionKey(key)),
				newReplica(t, fake, addon.ID, nil, pgstore.WithTable(table), pgstore.WithEncryptionKey(key)),
			}
			old := provision(t, fake, replicas[0], addon.ID)
			tc.stale(t, fake, replicas[0], addon.ID, old)
			fake.ResetRequests()
			// A slow token endpoint keeps the winner's lock held while the
			// other replica arrives; the outcome must not depend on it.
			fake.Fail(herokupartnertest.RouteToken, herokupartnertest.Fault{Latency: 100 * time.Millisecond})

			const perReplica = 50
			start := make(chan struct{})
			var wg sync.WaitGroup
			var failures atomic.Int64
			errs := make(chan error, 2*perReplica)
			for _, r := range replicas {
				for range perReplica {
					wg.Go(func() {
						<-start
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						defer cancel()
						a, err := r.client.GetAddon(ctx, addon.ID.String())
						if err != nil || a.ID != addon.ID {
							failures.Add(1)
							errs <- err
						}
					})
				}
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				assert.NoError(t, err)
			}
			require.Zero(t, failures.Load(), "lookups failed")
			assert.Equal(t, 1, refreshRequests(fake), "refresh requests reaching the token endpoint")

			ctx := context.Background()
			t0, err := replicas[0].store.Load(ctx, addon.ID)
			require.NoError(t, err)
			t1, err := replicas[1].store.Load(ctx, addon.ID)
			require.NoError(t, err)
			assert.True(t, t0 == t1 || (t0.AccessToken.Equal(t1.AccessToken) && t0.RefreshToken.Equal(t1.RefreshToken) && t0.Expiry.Equal(t1.Expiry)),
				"the replicas see different tokens")
			assert.False(t, t0.AccessToken.Equal(old.AccessToken), "the token was not refreshed")
			assert.True(t, t0.Expiry.After(time.Now().Add(time.Hour)), "the refreshed token expires at %s", t0.Expiry)
			for i, r := range replicas {
				tok, err := r.manager.Token(ctx, addon.ID.String())
				require.NoError(t, err)
				assert.True(t, tok.AccessToken.Equal(t0.AccessToken), "replica %d uses another token", i)
				_, err = r.client.GetAddon(ctx, addon.ID.String())
				assert.NoError(t, err, "replica %d", i)
			}
			assert.Equal(t, 1, refreshRequests(fake), "refresh requests after the race")
		})
	}
}

// hookTransport runs before (when set) ahead of each token request.
type hookTransport struct {
	next   http.RoundTripper
	before atomic.Pointer[func()]
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f := h.before.Load(); f != nil && strings.HasSuffix(req.URL.Path, "/oauth/token") {
		(*f)()
	}
	return h.next.RoundTrip(req)
}

func TestRefreshWhoseSaveFailsKeepsOldToken(t *testing.T) {
	needServer(t)
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	app := fake.AddApp("unlucky")
	addon := fake.AddAddon(app.ID, "metrics:basic")
	table := newTable()
	hook := &hookTransport{next: http.DefaultTransport}
	r := newReplica(t, fake, addon.ID, &http.Client{Transport: hook, Timeout: 10 * time.Second}, pgstore.WithTable(table))
	ctx := context.Background()
	old := provision(t, fake, r, addon.ID)
	old.Expiry = time.Now().Add(-time.Second)
	require.NoError(t, r.store.Save(ctx, addon.ID, old))

	// The database connection dies while Heroku answers the refresh.
	admin := newPool(t, nil, nil)
	var killed atomic.Int64
	kill := func() {
		n, err := terminateLocker(ctx, admin, table)
		if err == nil {
			killed.Add(int64(n))
		}
	}
	hook.before.Store(&kill)
	tok, err := r.manager.Token(ctx, addon.ID.String())
	hook.before.Store(nil)
	require.EqualValues(t, 1, killed.Load(), "the locking transaction was not found")
	require.Error(t, err)
	assert.ErrorContains(t, err, "saving the refreshed token failed")
	assert.True(t, tok == herokupartner.Token{}, "a failed refresh returned a token")
	assert.Equal(t, 1, refreshRequests(fake))

	stored, err := r.store.Load(ctx, addon.ID)
	require.NoError(t, err)
	assert.True(t, stored.AccessToken.Equal(old.AccessToken) && stored.RefreshToken.Equal(old.RefreshToken), "the old token was not left in place")

	// Once the database is back the next lookup refreshes and works.
	_, err = r.client.GetAddon(ctx, addon.ID.String())
	require.NoError(t, err)
	stored, err = r.store.Load(ctx, addon.ID)
	require.NoError(t, err)
	assert.False(t, stored.AccessToken.Equal(old.AccessToken), "no refreshed token was saved")
}
