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
	// flightTimeout bounds one exchange or refresh, whatever http.Client
	// sends it (one without Timeout, a slow-drip answer): the flight runs
	// apart from the callers' contexts, because once Heroku has answered,
	// the answer must reach the store even if the caller that started it
	// gave up, since Heroku may have spent the code or replaced the refresh
	// token. A caller still waits only as long as its own context allows.
	flightTimeout = 30 * time.Second
	// tokenRequestTimeout is the Timeout of the default token client.
	tokenRequestTimeout = 15 * time.Second
)

// TokenManagerConfig configures NewTokenManager. Printing, logging or
// encoding it redacts ClientSecret.
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
	// second timeout. The SDK uses a copy that never follows a redirect of
	// the token POST, and bounds each exchange or refresh to 30 seconds
	// whatever the client's Timeout.
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
	return fmt.Sprintf("herokupartner.TokenManagerConfig{ClientSecret:%q Store:%T TokenURL:%q RefreshBefore:%s}",
		c.ClientSecret, c.Store, c.TokenURL, c.RefreshBefore)
}

// GoString describes c without its client secret, for %#v.
func (c TokenManagerConfig) GoString() string { return c.String() }

// Format prints String under every verb, so that no verb walks the fields.
func (c TokenManagerConfig) Format(f fmt.State, verb rune) { formatAs(f, verb, c.String()) }

// LogValue makes slog log c without its client secret.
func (c TokenManagerConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the settings String shows, the client secret
// redacted: the default encoding would fail on HTTPClient's function fields
// and cannot describe Store or Logger.
func (c TokenManagerConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientSecret  Secret
		Store         string
		TokenURL      string
		RefreshBefore string
	}{c.ClientSecret, fmt.Sprintf("%T", c.Store), c.TokenURL, c.RefreshBefore.String()})
}

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
	flightTimeout time.Duration
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
	if _, err := checkEndpoint("NewTokenManager: TokenURL", tokenURL); err != nil {
		return nil, err
	}
	if cfg.RefreshBefore < 0 {
		return nil, fmt.Errorf("herokupartner: NewTokenManager: negative RefreshBefore %s", cfg.RefreshBefore)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: tokenRequestTimeout}
	}
	m := &TokenManager{
		conf: &oauth2.Config{
			// No ClientID: Heroku identifies the add-on by its secret
			// alone, and with AuthStyleInParams x/oauth2 then sends just
			// client_secret in the form, as Heroku expects.
			ClientSecret: cfg.ClientSecret.Reveal(),
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		store: cfg.Store,
		// The form carries the client secret and a code or refresh token:
		// it must never follow a redirect to another origin or to http.
		httpClient:    secureHTTPClient(hc),
		refreshBefore: cfg.RefreshBefore,
		flightTimeout: flightTimeout,
		logger:        cfg.Logger,
	}
	if m.store == nil {
		m.store = new(MemoryTokenStore)
	}
	m.locking, _ = m.store.(LockingTokenStore)
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

// Exchange trades a provisioning request's grant code for the resource's
// first token pair and saves it. The code works once and for about five
// minutes, so call Exchange while handling the provisioning request or soon
// after; an ExpiresAt already past is not refused locally, since clocks
// differ: Heroku's answer decides. Once the code is sent, the exchange and
// the save go on for up to 30 seconds even if ctx ends, because Heroku may
// already have spent the code; Exchange itself returns when ctx ends. If
// saving fails the error says so and the token is not returned. A code
// Heroku refuses gives an error matching ErrUnauthorized.
func (m *TokenManager) Exchange(ctx context.Context, resourceUUID string, grant OAuthGrant) (Token, error) {
	id, err := parseResource(resourceUUID)
	if err != nil {
		return Token{}, err
	}
	if strings.TrimSpace(grant.Code.Reveal()) == "" {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: empty code", id)
	}
	if grant.Type != "" && grant.Type != GrantTypeAuthorizationCode {
		return Token{}, fmt.Errorf("herokupartner: resource %s: exchanging grant: type is not %q", id, GrantTypeAuthorizationCode)
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
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.flightTimeout)
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
		if grantRefused(err) {
			what := "the code is invalid, expired or already used"
			if !grant.ExpiresAt.IsZero() {
				what += fmt.Sprintf("; it expires at %s", grant.ExpiresAt.Format(time.RFC3339))
			}
			err = &unauthorizedError{msg: what, err: err}
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

func parseResource(s string) (uuid.UUID, error) {
	canon, err := parseID("resourceUUID", s)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.MustParse(canon), nil
}
