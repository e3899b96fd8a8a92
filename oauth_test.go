package herokupartner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const oauthSecret = "HRKU-client-secret-0123456789"

// oauthServer plays id.heroku.com's token endpoint and the one Platform API
// route these tests need, with Heroku's error bodies and a request log.
type oauthServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	codes     map[string]time.Time // unused grant codes and their expiry
	refresh   map[string]bool      // valid refresh tokens
	access    map[string]bool      // valid access tokens
	issued    []string             // every access token handed out
	rotate    bool                 // answer refreshes with a new refresh token
	expiresIn int
	seq       int
	tokenLog  []url.Values // form of every token request
	badAuth   int          // token requests that carried client_id or an Authorization header
	apiTokens []string     // bearer of every API request
	// hold, when set, keeps refresh requests waiting until it is closed;
	// entered receives one value per refresh request that arrived.
	hold    chan struct{}
	entered chan struct{}
	// failStatus answers the next failTimes token requests with it.
	failStatus, failTimes int
	// echoSecrets makes 401 bodies repeat the request's secrets, as a
	// careless server might.
	echoSecrets bool
	// apiRejects makes the API refuse every token.
	apiRejects bool
}

func newOAuthServer(t *testing.T) *oauthServer {
	s := &oauthServer{
		codes: map[string]time.Time{}, refresh: map[string]bool{}, access: map[string]bool{},
		expiresIn: 28799, entered: make(chan struct{}, 1000),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("GET /addons/{id}", s.addon)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *oauthServer) herokuError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req-"+id)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%q,"message":%q}`, id, msg)
}

func (s *oauthServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.herokuError(w, 400, "bad_request", "bad form")
		return
	}
	s.mu.Lock()
	s.tokenLog = append(s.tokenLog, r.PostForm)
	if r.PostForm.Has("client_id") || r.Header.Get("Authorization") != "" {
		s.badAuth++
	}
	hold, rotate, echo := s.hold, s.rotate, s.echoSecrets
	fail := 0
	if s.failTimes > 0 {
		s.failTimes--
		fail = s.failStatus
	}
	s.mu.Unlock()
	if fail != 0 {
		s.herokuError(w, fail, "unavailable", "Could not complete the action. Please try again later.")
		return
	}
	f := r.PostForm
	if f.Get("client_secret") != oauthSecret {
		s.herokuError(w, 401, "unauthorized", "Invalid client secret.")
		return
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		s.entered <- struct{}{}
		if hold != nil {
			<-hold
		}
		s.mu.Lock()
		exp, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code")) // a code works once
		s.mu.Unlock()
		if !ok || time.Now().After(exp) {
			s.unauthorized(w, f, echo)
			return
		}
		s.issue(w, "")
	case "refresh_token":
		s.entered <- struct{}{}
		if hold != nil {
			<-hold
		}
		s.mu.Lock()
		ok := s.refresh[f.Get("refresh_token")]
		if ok && rotate {
			delete(s.refresh, f.Get("refresh_token"))
		}
		s.mu.Unlock()
		if !ok {
			s.unauthorized(w, f, echo)
			return
		}
		old := f.Get("refresh_token")
		if rotate {
			old = ""
		}
		s.issue(w, old)
	default:
		s.herokuError(w, 400, "bad_request", "unknown grant_type")
	}
}

func (s *oauthServer) unauthorized(w http.ResponseWriter, f url.Values, echo bool) {
	msg := "OAuth authorization invalid."
	if echo {
		msg += " code=" + f.Get("code") + " refresh_token=" + f.Get("refresh_token") + " secret=" + f.Get("client_secret")
	}
	s.herokuError(w, 401, "unauthorized", msg)
}

// issue answers with a new access token and either the given refresh token
// or, when it is empty, a new one.
func (s *oauthServer) issue(w http.ResponseWriter, refresh string) {
	s.mu.Lock()
	s.seq++
	access := fmt.Sprintf("HRKU-access-%d", s.seq)
	if refresh == "" {
		refresh = fmt.Sprintf("HRKU-refresh-%d", s.seq)
	}
	s.access[access] = true
	s.refresh[refresh] = true
	s.issued = append(s.issued, access)
	expiresIn := s.expiresIn
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"refresh_token":%q,"token_type":"Bearer","user_id":"01234567-89ab-cdef-0123-456789abcdef","session_nonce":null}`,
		access, expiresIn, refresh)
}

func (s *oauthServer) addon(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	s.apiTokens = append(s.apiTokens, tok)
	ok := s.access[tok] && !s.apiRejects
	s.mu.Unlock()
	if !ok {
		s.herokuError(w, 401, "unauthorized", "Invalid credentials provided.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%q,"name":"acme","state":"provisioned","app":{"id":"a9a9a9a9-0000-4000-8000-000000000004"}}`, r.PathValue("id"))
}

func (s *oauthServer) grant(life time.Duration) OAuthGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	code := fmt.Sprintf("HRKU-code-%d", s.seq)
	s.codes[code] = time.Now().Add(life)
	return OAuthGrant{Code: NewSecret(code), ExpiresAt: time.Now().Add(life), Type: GrantTypeAuthorizationCode}
}

// seed stores a token pair the server accepts, expiring in expiresIn.
func (s *oauthServer) seed(t *testing.T, store TokenStore, id string, expiresIn time.Duration) Token {
	s.mu.Lock()
	s.seq++
	tok := Token{
		AccessToken:  NewSecret(fmt.Sprintf("HRKU-access-%d", s.seq)),
		RefreshToken: NewSecret(fmt.Sprintf("HRKU-refresh-%d", s.seq)),
		Expiry:       time.Now().Add(expiresIn),
	}
	s.access[tok.AccessToken.Reveal()] = true
	s.refresh[tok.RefreshToken.Reveal()] = true
	s.issued = append(s.issued, tok.AccessToken.Reveal())
	s.mu.Unlock()
	require.NoError(t, store.Save(context.Background(), uuid.MustParse(id), tok))
	return tok
}

func (s *oauthServer) refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.tokenLog {
		if f.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

func (s *oauthServer) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *oauthServer) locked(f func() int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

// forms, seen and issuedTokens copy the logs under the lock.
func (s *oauthServer) forms() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.tokenLog...)
}

func (s *oauthServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.apiTokens...)
}

func (s *oauthServer) issuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

func (s *oauthServer) revokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
	clear(s.refresh)
}

func (s *oauthServer) expireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

func (s *oauthServer) apiSaw(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.apiTokens {
		if t == token {
			return true
		}
	}
	return false
}

func (s *oauthServer) manager(t *testing.T, store TokenStore, logger *slog.Logger) *TokenManager {
	t.Helper()
	m, err := NewTokenManager(TokenManagerConfig{
		ClientSecret: NewSecret(oauthSecret), Store: store, TokenURL: s.srv.URL + "/oauth/token", Logger: logger,
	})
	require.NoError(t, err)
	return m
}

func (s *oauthServer) client(t *testing.T, m *TokenManager, id string) *Client {
	t.Helper()
	base, err := NewClient(WithBaseURL(s.srv.URL), WithRetry(fastRetry))
	require.NoError(t, err)
	c, err := base.ForResource(m, id)
	require.NoError(t, err)
	return c
}

// plainStore hides MemoryTokenStore's Update, so the manager takes the path
// for stores that cannot lock; saveErr, when set, makes Save fail.
type plainStore struct {
	mem     MemoryTokenStore
	saveErr atomic.Pointer[error]
}

func (p *plainStore) Load(ctx context.Context, id uuid.UUID) (Token, error) {
	return p.mem.Load(ctx, id)
}
func (p *plainStore) Delete(ctx context.Context, id uuid.UUID) error { return p.mem.Delete(ctx, id) }
func (p *plainStore) Save(ctx context.Context, id uuid.UUID, t Token) error {
	if e := p.saveErr.Load(); e != nil {
		return *e
	}
	return p.mem.Save(ctx, id, t)
}

// lockingFailStore is a LockingTokenStore whose Update runs fn and then
// fails to save, like a database whose commit fails.
type lockingFailStore struct{ MemoryTokenStore }

var errCommit = errors.New("commit failed: connection reset")

func (s *lockingFailStore) Update(ctx context.Context, id uuid.UUID, fn func(context.Context, Token) (Token, error)) (Token, error) {
	cur, err := s.Load(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if _, err := fn(ctx, cur); err != nil {
		return Token{}, err
	}
	return Token{}, errCommit
}

func TestNewTokenManagerValidates(t *testing.T) {
	for _, cfg := range []TokenManagerConfig{
		{},
		{ClientSecret: NewSecret("  ")},
		{ClientSecret: NewSecret("s"), TokenURL: "http://id.example.com/oauth/token"},
		{ClientSecret: NewSecret("s"), TokenURL: "https://user:pw@id.example.com/oauth/token"},
		{ClientSecret: NewSecret("s"), TokenURL: "ftp://id.example.com/oauth/token"},
		{ClientSecret: NewSecret("s"), TokenURL: "://"},
		{ClientSecret: NewSecret("s"), RefreshBefore: -time.Second},
	} {
		_, err := NewTokenManager(cfg)
		assert.Error(t, err, "%v", cfg)
	}
	m, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret("s")})
	require.NoError(t, err)
	assert.Equal(t, DefaultTokenURL, m.conf.Endpoint.TokenURL)
	assert.Equal(t, DefaultRefreshBefore, m.refreshBefore)
	_, err = NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret("s"), TokenURL: "http://127.0.0.1:1/oauth/token"})
	assert.NoError(t, err, "plain http is fine on loopback")
}

func TestExchangeSendsOnlyCodeAndSecret(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	g := s.grant(5 * time.Minute)
	tok, err := m.Exchange(context.Background(), addonID, g)
	require.NoError(t, err)

	require.Len(t, s.forms(), 1)
	f := s.forms()[0]
	assert.Equal(t, "authorization_code", f.Get("grant_type"))
	assert.True(t, f.Get("code") == g.Code.Reveal(), "the grant code was not sent")
	assert.True(t, f.Get("client_secret") == oauthSecret, "the client secret was not sent")
	assert.ElementsMatch(t, []string{"grant_type", "code", "client_secret"}, keys(f), "nothing else is sent")
	assert.Zero(t, s.locked(func() int { return s.badAuth }), "no client id, no Authorization header")

	assert.True(t, strings.HasPrefix(tok.AccessToken.Reveal(), "HRKU-access-") && strings.HasPrefix(tok.RefreshToken.Reveal(), "HRKU-refresh-"))
	assert.WithinDuration(t, time.Now().Add(28799*time.Second), tok.Expiry, time.Minute, "expires_in is honoured")
	stored, err := store.Load(context.Background(), uuid.MustParse(addonID))
	require.NoError(t, err)
	assert.True(t, stored == tok, "the exchanged token is saved")
}

func keys(v url.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}

func TestExchangeExpiredCode(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	g := s.grant(-time.Second)
	_, err := m.Exchange(context.Background(), addonID, g)
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.NotErrorIs(t, err, ErrGrantRevoked, "a bad code is not a revoked grant")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.StatusCode)
	assert.Equal(t, "unauthorized", apiErr.ID)
	assert.Equal(t, "OAuth authorization invalid.", apiErr.Message)
	assert.Equal(t, "POST", apiErr.Method)
	assert.Equal(t, "/oauth/token", apiErr.Path)
	assert.Equal(t, "req-unauthorized", apiErr.RequestID)
	assert.Contains(t, err.Error(), "invalid, expired or already used")
	assert.Contains(t, err.Error(), g.ExpiresAt.Format(time.RFC3339), "the grant's own expiry helps tell which")
	assert.False(t, strings.Contains(err.Error(), g.Code.Reveal()), "the code leaked into the error")
	_, err = store.Load(context.Background(), uuid.MustParse(addonID))
	assert.ErrorIs(t, err, ErrTokenNotFound, "nothing is stored")
}

func TestExchangeReplayedCode(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	g := s.grant(5 * time.Minute)
	first, err := m.Exchange(context.Background(), addonID, g)
	require.NoError(t, err)
	_, err = m.Exchange(context.Background(), addonID, g)
	require.ErrorIs(t, err, ErrUnauthorized, "Heroku accepts a code once")
	stored, err := store.Load(context.Background(), uuid.MustParse(addonID))
	require.NoError(t, err)
	assert.True(t, stored == first, "a failed replay leaves the stored token alone")
}

func TestExchangeRejectsBadInputBeforeSending(t *testing.T) {
	s := newOAuthServer(t)
	m := s.manager(t, nil, nil)
	ctx := context.Background()
	_, err := m.Exchange(ctx, "not-a-uuid", OAuthGrant{Code: NewSecret("c")})
	assert.ErrorIs(t, err, ErrInvalidID)
	_, err = m.Exchange(ctx, addonID, OAuthGrant{})
	assert.ErrorContains(t, err, "empty code")
	_, err = m.Exchange(ctx, addonID, OAuthGrant{Code: NewSecret("c"), Type: "password"})
	assert.ErrorContains(t, err, "not \"authorization_code\"")
	assert.Empty(t, s.forms(), "nothing was sent")
}

func TestExchangeSaveFailure(t *testing.T) {
	s := newOAuthServer(t)
	store := &plainStore{}
	boom := errors.New("disk full")
	store.saveErr.Store(&boom)
	m := s.manager(t, store, nil)
	tok, err := m.Exchange(context.Background(), addonID, s.grant(5*time.Minute))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "saving the exchanged token failed")
	assert.True(t, tok == Token{}, "an unsaved token is not handed out")
}

func TestTokenDoesNotRefreshAFreshToken(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	seeded := s.seed(t, &store, addonID, 8*time.Hour)
	got, err := m.Token(context.Background(), addonID)
	require.NoError(t, err)
	assert.True(t, got == seeded)
	assert.Zero(t, s.refreshes())

	_, err = m.Token(context.Background(), uuid.NewString())
	assert.ErrorIs(t, err, ErrTokenNotFound)
}

func TestTokenRefreshesBeforeExpiry(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotate=%v", rotate), func(t *testing.T) {
			s := newOAuthServer(t)
			s.set(func() { s.rotate = rotate })
			var store MemoryTokenStore
			m := s.manager(t, &store, nil)
			// Within RefreshBefore of expiry, but not yet expired.
			seeded := s.seed(t, &store, addonID, DefaultRefreshBefore-time.Minute)
			got, err := m.Token(context.Background(), addonID)
			require.NoError(t, err)
			require.Equal(t, 1, s.refreshes())
			f := s.forms()[0]
			assert.Equal(t, "refresh_token", f.Get("grant_type"))
			assert.True(t, f.Get("refresh_token") == seeded.RefreshToken.Reveal(), "the stored refresh token was not sent")
			assert.True(t, f.Get("client_secret") == oauthSecret)
			assert.ElementsMatch(t, []string{"grant_type", "refresh_token", "client_secret"}, keys(f))
			assert.Zero(t, s.locked(func() int { return s.badAuth }))

			assert.True(t, !got.AccessToken.Equal(seeded.AccessToken), "a new access token")
			assert.WithinDuration(t, time.Now().Add(28799*time.Second), got.Expiry, time.Minute)
			if rotate {
				assert.True(t, !got.RefreshToken.Equal(seeded.RefreshToken), "a rotated refresh token is kept")
			} else {
				assert.True(t, got.RefreshToken.Equal(seeded.RefreshToken), "the old refresh token is kept when none came back")
			}
			stored, err := store.Load(context.Background(), uuid.MustParse(addonID))
			require.NoError(t, err)
			assert.True(t, stored == got, "the refreshed token is saved")

			// The saved refresh token works for the next refresh.
			s.expireAccess()
			_, err = s.client(t, m, addonID).GetAddon(context.Background(), addonID)
			require.NoError(t, err)
			assert.Equal(t, 2, s.refreshes())
		})
	}
}

// One hundred callers asking at once for a token that needs refreshing
// cause exactly one refresh, whether the store can lock or not, and two
// managers sharing a locking store (two processes) also refresh once.
func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	for _, tc := range []struct {
		name     string
		store    func() TokenStore
		managers int
	}{
		{"locking store", func() TokenStore { return new(MemoryTokenStore) }, 1},
		{"plain store", func() TokenStore { return new(plainStore) }, 1},
		{"two processes", func() TokenStore { return new(MemoryTokenStore) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOAuthServer(t)
			s.set(func() { s.rotate = true }) // a second refresh with the old token would fail
			store := tc.store()
			var ms []*TokenManager
			for range tc.managers {
				ms = append(ms, s.manager(t, store, nil))
			}
			seeded := s.seed(t, store, addonID, time.Minute)
			// Hold the refresh until every caller has asked, so that they
			// really overlap.
			s.set(func() { s.hold = make(chan struct{}) })
			var started, wg sync.WaitGroup
			started.Add(100)
			got := make([]Token, 100)
			errs := make([]error, 100)
			for i := range 100 {
				wg.Go(func() {
					started.Done()
					got[i], errs[i] = ms[i%len(ms)].Token(context.Background(), addonID)
				})
			}
			started.Wait()
			<-s.entered
			close(s.hold)
			wg.Wait()
			for i := range 100 {
				require.NoError(t, errs[i])
				require.True(t, got[i] == got[0], "callers got different tokens")
			}
			assert.True(t, !got[0].AccessToken.Equal(seeded.AccessToken))
			assert.Equal(t, 1, s.refreshes(), "exactly one refresh request")
		})
	}
}

func TestUnauthorizedLookupForcesOneRefreshAndRetry(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	seeded := s.seed(t, &store, addonID, 8*time.Hour)
	s.expireAccess() // Heroku stopped accepting it early
	a, err := s.client(t, m, addonID).GetAddon(context.Background(), addonID)
	require.NoError(t, err)
	assert.Equal(t, "acme", a.Name)
	assert.Equal(t, 1, s.refreshes())
	require.Len(t, s.seen(), 2, "one rejected request and one retry")
	assert.True(t, s.seen()[0] == seeded.AccessToken.Reveal() && s.seen()[1] != seeded.AccessToken.Reveal())

	// A stale rejection (the token was already replaced) refreshes nothing.
	require.NoError(t, m.TokenSource(addonID).(*resourceTokens).InvalidateToken(context.Background(), seeded.AccessToken.Reveal()))
	assert.Equal(t, 1, s.refreshes())
}

func TestRevokedGrant(t *testing.T) {
	t.Run("on a lookup", func(t *testing.T) {
		s := newOAuthServer(t)
		var store MemoryTokenStore
		m := s.manager(t, &store, nil)
		s.seed(t, &store, addonID, 8*time.Hour)
		s.revokeAll() // the add-on was deprovisioned
		_, err := s.client(t, m, addonID).GetAddon(context.Background(), addonID)
		require.ErrorIs(t, err, ErrUnauthorized)
		assert.ErrorIs(t, err, ErrGrantRevoked)
		assert.Contains(t, err.Error(), "no longer valid")
		assert.Equal(t, 1, s.refreshes(), "one forced refresh, no more")
		assert.Len(t, s.seen(), 1, "no retry with a token that could not be refreshed")
	})
	t.Run("mid-flight", func(t *testing.T) {
		s := newOAuthServer(t)
		var store MemoryTokenStore
		m := s.manager(t, &store, nil)
		s.seed(t, &store, addonID, time.Minute)
		s.set(func() { s.hold = make(chan struct{}) })
		errc := make(chan error, 1)
		go func() {
			_, err := m.Token(context.Background(), addonID)
			errc <- err
		}()
		<-s.entered // the refresh is on its way
		s.revokeAll()
		close(s.hold)
		err := <-errc
		require.ErrorIs(t, err, ErrGrantRevoked)
		assert.ErrorIs(t, err, ErrUnauthorized)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "OAuth authorization invalid.", apiErr.Message)
	})
	t.Run("API rejects even a fresh token", func(t *testing.T) {
		s := newOAuthServer(t)
		var store MemoryTokenStore
		m := s.manager(t, &store, nil)
		s.seed(t, &store, addonID, 8*time.Hour)
		// Refreshing works but every access token is refused.
		s.set(func() { s.apiRejects = true })
		_, err := s.client(t, m, addonID).GetAddon(context.Background(), addonID)
		require.ErrorIs(t, err, ErrUnauthorized)
		assert.Equal(t, 1, s.refreshes(), "a second 401 does not refresh again")
		assert.Len(t, s.seen(), 2)
	})
}

func TestRefreshSaveFailureUsesNoUnsavedToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func() TokenStore
	}{
		{"plain store", func() TokenStore {
			p := new(plainStore)
			return p
		}},
		{"locking store", func() TokenStore { return new(lockingFailStore) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOAuthServer(t)
			store := tc.store()
			seeded := s.seed(t, store, addonID, time.Minute) // still valid, but due for refresh
			if p, ok := store.(*plainStore); ok {
				p.saveErr.Store(&errCommit)
			}
			var logs bytes.Buffer
			m := s.manager(t, store, slog.New(slog.NewJSONHandler(&logs, nil)))

			_, err := m.Token(context.Background(), addonID)
			require.ErrorIs(t, err, errCommit)
			assert.Contains(t, err.Error(), "saving the refreshed token failed, so it was not used")

			_, err = s.client(t, m, addonID).GetAddon(context.Background(), addonID)
			require.ErrorIs(t, err, errCommit, "the lookup fails clearly")
			assert.Equal(t, 2, s.refreshes())
			assert.Empty(t, s.seen(), "the API saw no request at all")
			for _, issued := range s.issuedTokens()[1:] {
				assert.False(t, s.apiSaw(issued), "an unsaved token was used")
			}
			stored, err := store.Load(context.Background(), uuid.MustParse(addonID))
			require.NoError(t, err)
			assert.True(t, stored == seeded, "the store still holds the old token")
			assert.Contains(t, logs.String(), "token refresh not saved")
		})
	}
}

func TestTransientRefreshFailureKeepsAValidToken(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	var logs bytes.Buffer
	m := s.manager(t, &store, slog.New(slog.NewJSONHandler(&logs, nil)))
	seeded := s.seed(t, &store, addonID, time.Minute)
	s.set(func() { s.failStatus, s.failTimes = 503, 1 })
	got, err := m.Token(context.Background(), addonID)
	require.NoError(t, err, "a still-valid token outlives a token endpoint outage")
	assert.True(t, got == seeded)
	assert.Contains(t, logs.String(), "using the current token until it expires")
	assert.Contains(t, logs.String(), "503")

	// Once the endpoint recovers, the next lookup refreshes.
	got, err = m.Token(context.Background(), addonID)
	require.NoError(t, err)
	assert.True(t, !got.AccessToken.Equal(seeded.AccessToken))

	// An expired token cannot be kept.
	require.NoError(t, store.Save(context.Background(), uuid.MustParse(addonID), Token{AccessToken: NewSecret("old"), RefreshToken: got.RefreshToken, Expiry: time.Now().Add(-time.Second)}))
	s.set(func() { s.failStatus, s.failTimes = 503, 1 })
	_, err = m.Token(context.Background(), addonID)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "unavailable", apiErr.ID)
}

// A caller that gives up while its refresh is in flight does not lose the
// answer: it is saved, and with rotation the new refresh token is the one
// kept.
func TestCanceledCallerDoesNotLoseTheRefresh(t *testing.T) {
	s := newOAuthServer(t)
	s.set(func() { s.rotate = true })
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	seeded := s.seed(t, &store, addonID, time.Minute)
	s.set(func() { s.hold = make(chan struct{}) })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Token(ctx, addonID)
		errc <- err
	}()
	<-s.entered
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(s.hold)

	got, err := m.Token(context.Background(), addonID)
	require.NoError(t, err)
	assert.True(t, !got.RefreshToken.Equal(seeded.RefreshToken), "the rotated refresh token was kept")
	assert.Equal(t, 1, s.refreshes(), "the later caller used the saved answer")
}

// A caller that gives up while its exchange is in flight does not lose the
// token: the code may be spent already, so the answer is saved anyway.
func TestCanceledCallerDoesNotLoseTheExchange(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	s.set(func() { s.hold = make(chan struct{}) })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Exchange(ctx, addonID, s.grant(5*time.Minute))
		errc <- err
	}()
	<-s.entered
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "the exchange goes on")
	close(s.hold)

	// The save happens in the background: poll the store, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := store.Load(context.Background(), uuid.MustParse(addonID)); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the exchanged token was never saved")
		time.Sleep(time.Millisecond)
	}
	_, err = m.Exchange(ctx, addonID, OAuthGrant{Code: NewSecret("c")})
	assert.ErrorIs(t, err, context.Canceled, "a canceled context sends nothing")
	assert.Len(t, s.forms(), 1)
}

func TestForgetAndBadResourceIDs(t *testing.T) {
	s := newOAuthServer(t)
	var store MemoryTokenStore
	m := s.manager(t, &store, nil)
	s.seed(t, &store, addonID, 8*time.Hour)
	require.NoError(t, m.Forget(context.Background(), addonID))
	_, err := m.Token(context.Background(), addonID)
	assert.ErrorIs(t, err, ErrTokenNotFound)

	assert.ErrorIs(t, m.Forget(context.Background(), "x"), ErrInvalidID)
	_, err = m.Token(context.Background(), "x")
	assert.ErrorIs(t, err, ErrInvalidID)
	_, err = m.TokenSource("x").Token()
	assert.ErrorIs(t, err, ErrInvalidID)
	c, err := NewClient()
	require.NoError(t, err)
	_, err = c.ForResource(m, "x")
	assert.ErrorIs(t, err, ErrInvalidID)
	_, err = c.ForResource(nil, addonID)
	assert.Error(t, err)
}

// Secrets stay out of errors, logs and printed values along every path,
// even when the token endpoint echoes them back.
func TestSecretsNeverLeak(t *testing.T) {
	s := newOAuthServer(t)
	s.set(func() { s.echoSecrets = true })
	var store MemoryTokenStore
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), Store: &store, TokenURL: s.srv.URL + "/oauth/token", Logger: logger}
	m, err := NewTokenManager(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	var texts []string
	note := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
		}
	}

	g := s.grant(5 * time.Minute)
	tok, err := m.Exchange(ctx, addonID, g)
	require.NoError(t, err)
	_, err = m.Exchange(ctx, addonID, g) // replay: the body echoes the code and secret
	require.Error(t, err)
	note(err)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "[redacted]", "echoed secrets are scrubbed")

	s.expireAccess()
	c := s.client(t, m, addonID)
	_, err = c.GetAddon(ctx, addonID)
	require.NoError(t, err)
	s.revokeAll()
	_, err = c.GetAddon(ctx, addonID)
	require.Error(t, err)
	note(err)
	// A token endpoint that cannot be reached: the error names the URL,
	// never the form.
	down, err := NewTokenManager(TokenManagerConfig{ClientSecret: NewSecret(oauthSecret), TokenURL: "http://127.0.0.1:1/oauth/token", Logger: logger})
	require.NoError(t, err)
	_, err = down.Exchange(ctx, addonID, g)
	require.Error(t, err)
	note(err)

	ts := m.TokenSource(addonID)
	texts = append(texts, logs.String(),
		fmt.Sprintf("%v %+v %#v", m, m, m), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg),
		fmt.Sprintf("%v %+v %#v", ts, ts, ts), fmt.Sprintf("%v %+v %#v", c, c, c),
		fmt.Sprintf("%v %+v %#v", tok, tok, tok))
	var cfgLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&cfgLog, nil)).Info("config", "cfg", cfg)
	texts = append(texts, cfgLog.String())

	secrets := append([]string{oauthSecret, g.Code.Reveal()}, s.issuedTokens()...)
	for i := 1; i <= s.locked(func() int { return s.seq }); i++ {
		secrets = append(secrets, fmt.Sprintf("HRKU-refresh-%d", i))
	}
	for _, text := range texts {
		for _, secret := range secrets {
			assert.False(t, strings.Contains(text, secret), "a secret leaked into an error, a log line or printed value")
		}
	}
	assert.Contains(t, logs.String(), "herokupartner token refresh failed", "the logs do say what happened")
}
