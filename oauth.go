package herokupartner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// DefaultTokenURL is Heroku's OAuth token endpoint, where grant codes are
// exchanged and access tokens refreshed.
const DefaultTokenURL = "https://id.heroku.com/oauth/token"

// DefaultRefreshBefore is how long before its expiry an access token is
// refreshed. Heroku's access tokens live 8 hours; Heroku's own example
// add-on refreshes 90 seconds ahead, and the extra margin here absorbs
// clock skew and a slow token endpoint without any request meeting an
// expired token.
const DefaultRefreshBefore = 5 * time.Minute

const (
	tokenPath = "/oauth/token"
	// flightTimeout bounds one exchange or refresh, which runs apart from
	// the callers' contexts: once Heroku has answered, the answer must
	// reach the store even if the caller that started it gave up, since
	// Heroku may have spent the code or replaced the refresh token.
	flightTimeout = 30 * time.Second
)

// TokenManagerConfig configures NewTokenManager. Printing it redacts
// ClientSecret.
type TokenManagerConfig struct {
	// ClientSecret is the add-on's OAuth client secret from the Partner
	// Portal. Required.
	ClientSecret Secret
	// Store keeps the tokens; nil means a new MemoryTokenStore, which loses
	// them when the process exits. Use a LockingTokenStore when several
	// processes share the store.
	Store TokenStore
	// TokenURL defaults to DefaultTokenURL. It must be https, or http on a
	// loopback host.
	TokenURL string
	// HTTPClient sends the token requests; nil means a client with a 15
	// second timeout.
	HTTPClient *http.Client
	// RefreshBefore is how long before expiry a token is refreshed; zero
	// means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// Logger receives a line per exchange and refresh, never a token; nil
	// logs nothing.
	Logger *slog.Logger
}

// String describes c without its client secret.
func (c TokenManagerConfig) String() string {
	return fmt.Sprintf("herokupartner.TokenManagerConfig{ClientSecret:%s Store:%T TokenURL:%q RefreshBefore:%s}",
		redacted(c.ClientSecret.Reveal()), c.Store, c.TokenURL, c.RefreshBefore)
}

// GoString describes c without its client secret, for %#v.
func (c TokenManagerConfig) GoString() string { return c.String() }

// LogValue makes slog log c without its client secret.
func (c TokenManagerConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// TokenManager exchanges each add-on resource's grant code for tokens, keeps
// them in a TokenStore and refreshes them before they expire. It is safe for
// concurrent use; one TokenManager serves every resource.
type TokenManager struct {
	// conf is behind a pointer so that printing a TokenManager shows an
	// address, not the client secret.
	conf          *oauth2.Config
	store         TokenStore
	locking       LockingTokenStore // store, when it can lock; else nil
	httpClient    *http.Client
	refreshBefore time.Duration
	logger        *slog.Logger
	flights       singleflight.Group
}

// NewTokenManager checks cfg and returns a TokenManager.
func NewTokenManager(cfg TokenManagerConfig) (*TokenManager, error) {
	if strings.TrimSpace(cfg.ClientSecret.Reveal()) == "" {
		return nil, errors.New("herokupartner: NewTokenManager: empty ClientSecret")
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	if err := checkTokenURL(tokenURL); err != nil {
		return nil, err
	}
	if cfg.RefreshBefore < 0 {
		return nil, fmt.Errorf("herokupartner: NewTokenManager: negative RefreshBefore %s", cfg.RefreshBefore)
	}
	m := &TokenManager{
		conf: &oauth2.Config{
			// No ClientID: Heroku identifies the add-on by its secret
			// alone, and with AuthStyleInParams x/oauth2 then sends just
			// client_secret in the form, as Heroku expects.
			ClientSecret: cfg.ClientSecret.Reveal(),
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		store:         cfg.Store,
		httpClient:    cfg.HTTPClient,
		refreshBefore: cfg.RefreshBefore,
		logger:        cfg.Logger,
	}
	if m.store == nil {
		m.store = new(MemoryTokenStore)
	}
	m.locking, _ = m.store.(LockingTokenStore)
	if m.httpClient == nil {
		m.httpClient = &http.Client{Timeout: defaultAttemptTimeout}
	}
	if m.refreshBefore == 0 {
		m.refreshBefore = DefaultRefreshBefore
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// String describes m by its settings; it never shows the client secret.
func (m *TokenManager) String() string {
	return fmt.Sprintf("herokupartner.TokenManager{TokenURL:%q Store:%T RefreshBefore:%s}",
		m.conf.Endpoint.TokenURL, m.store, m.refreshBefore)
}

// GoString describes m like String, for %#v.
func (m *TokenManager) GoString() string { return m.String() }

func checkTokenURL(raw string) error {
	_, err := checkEndpoint("NewTokenManager: TokenURL", raw)
	return err
}

// Exchange trades a provisioning request's grant code for the resource's
// first token pair and saves it. The code works once and for about five
// minutes, so call Exchange while handling the provisioning request or soon
// after; an ExpiresAt already past is not refused locally, since clocks
// differ: Heroku's answer decides. Once the code is sent, the exchange and
// the save go on even if ctx ends, because Heroku may already have spent the
// code. If saving fails the error says so and the token is not returned.
func (m *TokenManager) Exchange(ctx context.Context, resourceUUID string, grant OAuthGrant) (Token, error) {
	id, err := parseResource(resourceUUID)
	if err != nil {
		return Token{}, err
	}
	if strings.TrimSpace(grant.Code.Reveal()) == "" {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: empty code", id)
	}
	if grant.Type != "" && grant.Type != GrantTypeAuthorizationCode {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: type %.40q is not %q", id, grant.Type, GrantTypeAuthorizationCode)
	}
	if ctx == nil {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: nil context", id)
	}
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: %w", id, err)
	}
	type result struct {
		tok Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		defer cancel()
		tok, err := m.exchange(dctx, id, grant)
		done <- result{tok, err}
	}()
	select {
	case <-ctx.Done():
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: %w (the exchange goes on, and a token it gets is saved)", id, ctx.Err())
	case r := <-done:
		return r.tok, r.err
	}
}

func (m *TokenManager) exchange(ctx context.Context, id uuid.UUID, grant OAuthGrant) (Token, error) {
	ot, err := m.conf.Exchange(m.withHTTPClient(ctx), grant.Code.Reveal())
	if err != nil {
		err = m.tokenEndpointError(err, grant.Code.Reveal())
		if errors.Is(err, ErrUnauthorized) {
			what := "the code is invalid, expired or already used"
			if !grant.ExpiresAt.IsZero() {
				what += fmt.Sprintf("; it expires at %s", grant.ExpiresAt.Format(time.RFC3339))
			}
			err = fmt.Errorf("%s: %w", what, err)
		}
		err = fmt.Errorf("herokupartner: resource %s: exchanging grant: %w", id, err)
		m.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner grant exchange failed",
			slog.String("resource", id.String()), slog.String("error", err.Error()))
		return Token{}, err
	}
	tok := fromOAuth2(ot, Secret{})
	if err := m.store.Save(ctx, id, tok); err != nil {
		err = fmt.Errorf("herokupartner: resource %s: saving the exchanged token failed, so it was not used: %w", id, err)
		m.logger.LogAttrs(ctx, slog.LevelError, "herokupartner exchanged token not saved",
			slog.String("resource", id.String()), slog.String("error", err.Error()))
		return Token{}, err
	}
	m.logger.LogAttrs(ctx, slog.LevelInfo, "herokupartner grant exchanged",
		slog.String("resource", id.String()), slog.Time("expiry", tok.Expiry))
	return tok, nil
}

// Token returns a valid token for the resource, refreshing it first when it
// expires within RefreshBefore. Concurrent callers for one resource share a
// single refresh; with a LockingTokenStore the refresh runs under the
// store's lock and is skipped when another process already refreshed. A
// refreshed token is saved before it is returned. When the token endpoint
// fails transiently while the current access token has not yet expired,
// that token is returned and the failure logged.
func (m *TokenManager) Token(ctx context.Context, resourceUUID string) (Token, error) {
	id, err := parseResource(resourceUUID)
	if err != nil {
		return Token{}, err
	}
	if ctx == nil {
		return Token{}, fmt.Errorf("herokupartner: resource %s: nil context", id)
	}
	cur, err := m.store.Load(ctx, id)
	if err != nil {
		return Token{}, fmt.Errorf("herokupartner: resource %s: loading token: %w", id, err)
	}
	if !m.needsRefresh(cur, "") {
		return cur, nil
	}
	tok, err := m.refresh(ctx, id, "")
	if err == nil {
		return tok, nil
	}
	var te *tokenEndpointFailure
	if errors.As(err, &te) && te.transient && !cur.AccessToken.IsZero() && time.Now().Before(cur.Expiry) {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner token refresh failed; using the current token until it expires",
			slog.String("resource", id.String()), slog.Time("expiry", cur.Expiry), slog.String("error", err.Error()))
		return cur, nil
	}
	return Token{}, err
}

// Forget deletes the resource's token from the store, as when the add-on
// is deprovisioned.
func (m *TokenManager) Forget(ctx context.Context, resourceUUID string) error {
	id, err := parseResource(resourceUUID)
	if err != nil {
		return err
	}
	if err := m.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("herokupartner: resource %s: deleting token: %w", id, err)
	}
	return nil
}

// TokenSource returns the resource's tokens as an oauth2.TokenSource for
// Client.WithTokenSource. It also lets the Client honour the request's
// context and, when the API rejects an access token, force one refresh
// before retrying. An invalid resourceUUID makes every call fail with
// ErrInvalidID.
func (m *TokenManager) TokenSource(resourceUUID string) oauth2.TokenSource {
	return &resourceTokens{m: m, resource: resourceUUID}
}

// ForResource returns a copy of c whose requests carry the resource's
// tokens from m, refreshed as needed.
func (c *Client) ForResource(m *TokenManager, resourceUUID string) (*Client, error) {
	if m == nil {
		return nil, errors.New("herokupartner: ForResource: nil TokenManager")
	}
	id, err := parseResource(resourceUUID)
	if err != nil {
		return nil, err
	}
	return c.WithTokenSource(m.TokenSource(id.String())), nil
}

// resourceTokens is the TokenSource for one resource; it holds no token, so
// printing it reveals nothing.
type resourceTokens struct {
	m        *TokenManager
	resource string
}

// Token returns a valid access token.
func (s *resourceTokens) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// TokenContext returns a valid access token, honouring ctx.
func (s *resourceTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	t, err := s.m.Token(ctx, s.resource)
	if err != nil {
		return nil, err
	}
	// The refresh token stays in the store: whoever consumes this source
	// only needs the access token.
	return &oauth2.Token{AccessToken: t.AccessToken.Reveal(), TokenType: "Bearer", Expiry: t.Expiry}, nil
}

// InvalidateToken forces one refresh because the API rejected the access
// token rejected, unless the stored token already differs from it (another
// caller or process refreshed meanwhile).
func (s *resourceTokens) InvalidateToken(ctx context.Context, rejected string) error {
	id, err := parseResource(s.resource)
	if err != nil {
		return err
	}
	if rejected == "" {
		return nil
	}
	// A refresh already in flight may have been started by a caller that
	// did not know about the rejection and may decide none is needed; then
	// a second, forced one follows.
	for range 2 {
		t, err := s.m.refresh(ctx, id, rejected)
		if err != nil {
			return err
		}
		if t.AccessToken.Reveal() != rejected {
			return nil
		}
	}
	return nil
}

func parseResource(s string) (uuid.UUID, error) {
	canon, err := parseID("resourceUUID", s)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.MustParse(canon), nil
}

// needsRefresh says whether cur must be replaced: when forced because the
// API rejected the access token rejected, only if cur still holds it;
// otherwise when it expires within refreshBefore. A token without an expiry
// is taken to be valid until the API rejects it.
func (m *TokenManager) needsRefresh(cur Token, rejected string) bool {
	if cur.AccessToken.IsZero() {
		return true
	}
	if rejected != "" {
		return cur.AccessToken.Reveal() == rejected
	}
	return !cur.Expiry.IsZero() && !time.Now().Add(m.refreshBefore).Before(cur.Expiry)
}

// refresh makes sure the resource's stored token is fresh (or no longer
// the rejected one) and returns it. Concurrent calls for one resource share
// one flight, which runs apart from any caller's context so that a refresh
// Heroku has answered always reaches the store; each caller waits only as
// long as its own context allows.
func (m *TokenManager) refresh(ctx context.Context, id uuid.UUID, rejected string) (Token, error) {
	ch := m.flights.DoChan(id.String(), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		defer cancel()
		return m.refreshLocked(fctx, id, rejected)
	})
	select {
	case <-ctx.Done():
		return Token{}, fmt.Errorf("herokupartner: resource %s: waiting for token refresh: %w", id, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(Token), nil
	}
}

// refreshLocked refreshes under the store's lock when it has one; without
// one, the flight is the only in-process guard.
func (m *TokenManager) refreshLocked(ctx context.Context, id uuid.UUID, rejected string) (Token, error) {
	var fnErr error
	refreshed := false
	if m.locking != nil {
		tok, err := m.locking.Update(ctx, id, func(ctx context.Context, cur Token) (Token, error) {
			if !m.needsRefresh(cur, rejected) {
				// Another process refreshed while we waited for the lock.
				return cur, nil
			}
			t, err := m.doRefresh(ctx, id, cur)
			if err != nil {
				fnErr = err
				return Token{}, err
			}
			refreshed = true
			return t, nil
		})
		switch {
		case fnErr != nil:
			return Token{}, fnErr
		case err != nil && refreshed:
			return Token{}, m.saveFailed(ctx, id, err)
		case err != nil:
			return Token{}, fmt.Errorf("herokupartner: resource %s: updating token: %w", id, err)
		}
		m.logRefresh(ctx, id, tok, refreshed)
		return tok, nil
	}

	cur, err := m.store.Load(ctx, id)
	if err != nil {
		return Token{}, fmt.Errorf("herokupartner: resource %s: loading token: %w", id, err)
	}
	if !m.needsRefresh(cur, rejected) {
		m.logRefresh(ctx, id, cur, false)
		return cur, nil
	}
	tok, err := m.doRefresh(ctx, id, cur)
	if err != nil {
		return Token{}, err
	}
	if err := m.store.Save(ctx, id, tok); err != nil {
		return Token{}, m.saveFailed(ctx, id, err)
	}
	m.logRefresh(ctx, id, tok, true)
	return tok, nil
}

func (m *TokenManager) saveFailed(ctx context.Context, id uuid.UUID, err error) error {
	err = fmt.Errorf("herokupartner: resource %s: saving the refreshed token failed, so it was not used: %w", id, err)
	m.logger.LogAttrs(ctx, slog.LevelError, "herokupartner token refresh not saved",
		slog.String("resource", id.String()), slog.String("error", err.Error()))
	return err
}

func (m *TokenManager) logRefresh(ctx context.Context, id uuid.UUID, t Token, refreshed bool) {
	if refreshed {
		m.logger.LogAttrs(ctx, slog.LevelInfo, "herokupartner token refreshed",
			slog.String("resource", id.String()), slog.Time("expiry", t.Expiry))
		return
	}
	m.logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner token already fresh",
		slog.String("resource", id.String()), slog.Time("expiry", t.Expiry))
}

// doRefresh asks the token endpoint for a new access token.
func (m *TokenManager) doRefresh(ctx context.Context, id uuid.UUID, cur Token) (Token, error) {
	if cur.RefreshToken.IsZero() {
		return Token{}, fmt.Errorf("herokupartner: resource %s: token needs refreshing but no refresh token is stored", id)
	}
	ot, err := m.conf.TokenSource(m.withHTTPClient(ctx), &oauth2.Token{RefreshToken: cur.RefreshToken.Reveal()}).Token()
	if err != nil {
		err = m.tokenEndpointError(err, cur.RefreshToken.Reveal(), cur.AccessToken.Reveal())
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized ||
			apiErr.StatusCode == http.StatusBadRequest && apiErr.ID == "invalid_grant") {
			err = fmt.Errorf("%w (revoked, or the add-on was deprovisioned): refreshing the token of resource %s: %w", ErrGrantRevoked, id, err)
		} else {
			err = fmt.Errorf("herokupartner: resource %s: refreshing the token: %w", id, err)
		}
		m.logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner token refresh failed",
			slog.String("resource", id.String()), slog.String("error", err.Error()))
		return Token{}, err
	}
	return fromOAuth2(ot, cur.RefreshToken), nil
}

func (m *TokenManager) withHTTPClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, m.httpClient)
}

// fromOAuth2 keeps the refresh token the answer carried, or the old one
// when it carried none: Heroku does not document rotation, so both must
// work.
func fromOAuth2(t *oauth2.Token, oldRefresh Secret) Token {
	rt := NewSecret(t.RefreshToken)
	if rt.IsZero() {
		rt = oldRefresh
	}
	return Token{AccessToken: NewSecret(t.AccessToken), RefreshToken: rt, Expiry: t.Expiry}
}

// tokenEndpointFailure marks an error from the token endpoint that was not
// an answer about the grant itself (a 5xx, a 429, a network error), so that
// Token can keep using a still-valid access token.
type tokenEndpointFailure struct {
	err       error
	transient bool
}

func (e *tokenEndpointFailure) Error() string { return e.err.Error() }
func (e *tokenEndpointFailure) Unwrap() error { return e.err }

// tokenEndpointError turns what x/oauth2 returns into the SDK's errors:
// Heroku answers failures with its own {"id","message"} bodies rather than
// RFC 6749 ones, which become an *APIError so that errors.Is(err,
// ErrUnauthorized) works. Any of secrets found in the body is redacted.
func (m *TokenManager) tokenEndpointError(err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Network errors and unparseable answers: neither carries the
		// request's form, where the secrets travel.
		return &tokenEndpointFailure{err: fmt.Errorf("herokupartner: POST %s: %w", tokenPath, err), transient: true}
	}
	secrets = append(secrets, m.conf.ClientSecret)
	e := &APIError{Method: http.MethodPost, Path: tokenPath, Attempts: 1}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
		e.RequestID = re.Response.Header.Get("Request-Id")
		e.Header = re.Response.Header
	}
	var body struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
	}
	switch {
	case json.Unmarshal(re.Body, &body) == nil && (body.ID != "" || body.Message != ""):
		e.ID, e.Message, e.URL = body.ID, body.Message, body.URL
	case re.ErrorCode != "":
		e.ID, e.Message, e.URL = re.ErrorCode, re.ErrorDescription, re.ErrorURI
	default:
		// Scrubbing before cutting the excerpt, so a secret cut in half
		// cannot slip through.
		e.Body = excerpt([]byte(scrub(string(re.Body), secrets...)))
	}
	e.ID = scrub(e.ID, secrets...)
	e.Message = scrub(e.Message, secrets...)
	e.URL = scrub(e.URL, secrets...)
	return &tokenEndpointFailure{err: e, transient: e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500}
}
