package herokupartner_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

func ExampleParseProvisionRequest() {
	body := `{
	  "uuid": "01234567-89ab-cdef-0123-456789abcdef",
	  "name": "acme-inc-primary-database",
	  "plan": "basic",
	  "region": "amazon-web-services::us-east-1",
	  "callback_url": "https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef",
	  "options": {"replicas": 2},
	  "oauth_grant": {"code": "c0de", "expires_at": "2016-03-03T18:01:31-0800", "type": "authorization_code"}
	}`
	req, err := herokupartner.ParseProvisionRequest(strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.UUID, req.Plan, req.Options["replicas"])
	fmt.Println("grant expires", req.OAuthGrant.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Println(req.OAuthGrant) // the code is redacted

	_, err = herokupartner.ParseProvisionRequest(strings.NewReader(`{"uuid":"01234567-89ab-cdef-0123-456789abcdef","oauth_grant":{}}`))
	fmt.Println(err)
	// Output:
	// 01234567-89ab-cdef-0123-456789abcdef basic 2
	// grant expires 2016-03-04T02:01:31Z
	// herokupartner.OAuthGrant{Code:"[redacted]" ExpiresAt:2016-03-03T18:01:31-08:00 Type:"authorization_code"}
	// herokupartner: invalid provisioning request: oauth_grant.code: missing
}

// fakeManager returns a TokenManager that talks to fake's OAuth endpoint and
// keeps its tokens in store.
func fakeManager(t testing.TB, fake *herokupartnertest.Server, store herokupartner.TokenStore) *herokupartner.TokenManager {
	t.Helper()
	m, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL(), Store: store,
	})
	require.NoError(t, err)
	return m
}

// fakeWorld is one add-on on an app coupled to a pipeline.
func fakeWorld(fake *herokupartnertest.Server) (addon *herokupartner.Addon, pipeline *herokupartner.Pipeline) {
	app := fake.AddApp("acme-web")
	pipeline = fake.AddPipeline("acme")
	fake.Couple(app.ID, pipeline.ID, herokupartner.StageStaging)
	return fake.AddAddon(app.ID, "basic"), pipeline
}

func tokenRequests(fake *herokupartnertest.Server, grantType string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Route == herokupartnertest.RouteToken && r.Form.Get("grant_type") == grantType {
			n++
		}
	}
	return n
}

func TestTokenLifecycleAgainstFake(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon, pipeline := fakeWorld(fake)
	id := addon.ID.String()
	var store herokupartner.MemoryTokenStore
	m := fakeManager(t, fake, &store)
	ctx := context.Background()

	code, expiresAt := fake.IssueGrant(addon.ID)
	grant := herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expiresAt, Type: herokupartner.GrantTypeAuthorizationCode}
	tok, err := m.Exchange(ctx, id, grant)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(8*time.Hour), tok.Expiry, 2*time.Minute)

	_, err = m.Exchange(ctx, id, grant)
	require.ErrorIs(t, err, herokupartner.ErrUnauthorized, "a replayed code is refused")

	base, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL),
		herokupartner.WithRetry(herokupartner.RetryPolicy{MaxRetries: 1, BaseDelay: time.Millisecond}))
	require.NoError(t, err)
	c, err := base.ForResource(m, id)
	require.NoError(t, err)
	res, err := c.ResolvePipeline(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, pipeline.Name, res.Pipeline.Name)
	assert.Equal(t, herokupartner.StageStaging, res.Stage)
	assert.Equal(t, 0, tokenRequests(fake, "refresh_token"))

	// Heroku stops accepting the access token: one refresh, one retry.
	fake.ExpireAccessTokens(addon.ID)
	_, err = c.GetAddon(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 1, tokenRequests(fake, "refresh_token"))

	// The grant is revoked: the forced refresh is refused and says why.
	fake.RevokeGrant(addon.ID)
	_, err = c.GetAddon(ctx, id)
	require.ErrorIs(t, err, herokupartner.ErrUnauthorized)
	assert.ErrorIs(t, err, herokupartner.ErrGrantRevoked)
	assert.Contains(t, err.Error(), "no longer valid")
	assert.False(t, strings.Contains(err.Error(), tok.AccessToken.Reveal()) || strings.Contains(err.Error(), tok.RefreshToken.Reveal()) ||
		strings.Contains(err.Error(), fake.ClientSecret()), "a secret leaked into the error")
}

func TestExpiredGrantAgainstFake(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon, _ := fakeWorld(fake)
	m := fakeManager(t, fake, nil)
	_, err := m.Exchange(context.Background(), addon.ID.String(), herokupartner.OAuthGrant{Code: herokupartner.NewSecret("never-issued")})
	require.ErrorIs(t, err, herokupartner.ErrUnauthorized)
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/oauth/token", apiErr.Path)
}

// One hundred goroutines need the same resource's token just as it is due
// for refresh: the fake's log shows one refresh request.
func TestHundredCallersOneRefreshAgainstFake(t *testing.T) {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	addon, _ := fakeWorld(fake)
	id := addon.ID.String()
	var store herokupartner.MemoryTokenStore
	m := fakeManager(t, fake, &store)
	ctx := context.Background()
	code, _ := fake.IssueGrant(addon.ID)
	tok, err := m.Exchange(ctx, id, herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code)})
	require.NoError(t, err)
	tok.Expiry = time.Now().Add(time.Minute) // due for refresh, still valid
	require.NoError(t, store.Save(ctx, addon.ID, tok))
	fake.ResetRequests()

	base, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL))
	require.NoError(t, err)
	c, err := base.ForResource(m, id)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			_, err := c.GetAddon(ctx, id)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, tokenRequests(fake, "refresh_token"), "exactly one refresh request")
}

func ExampleTokenManager() {
	fake := herokupartnertest.NewServer()
	defer fake.Close()
	app := fake.AddApp("acme-web")
	pipeline := fake.AddPipeline("acme")
	fake.Couple(app.ID, pipeline.ID, herokupartner.StageProduction)
	addon := fake.AddAddon(app.ID, "basic")
	code, expiresAt := fake.IssueGrant(addon.ID) // what the provisioning request carries

	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()),
		TokenURL:     fake.TokenURL(), // omit for Heroku's own
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	resource := addon.ID.String()
	if _, err := tokens.Exchange(ctx, resource, herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: expiresAt}); err != nil {
		fmt.Println(err)
		return
	}

	api, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := api.ForResource(tokens, resource)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := client.ResolvePipeline(ctx, resource)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.App.Name, "is in", res.Pipeline.Name, "at", res.Stage)
	// Output: acme-web is in acme at production
}
