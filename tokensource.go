package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// Token returns a valid token for the resource, refreshing it first when it
// expires within RefreshBefore. Concurrent callers for one resource share a
// single refresh; with a LockingTokenStore the refresh runs under the
// store's lock and is skipped when another process already refreshed. A
// refreshed token is saved before it is returned. When the token endpoint
// fails transiently while the current access token has not yet expired,
// that token is returned and the failure logged. A grant Heroku no longer
// honours gives an error matching both ErrGrantRevoked and ErrUnauthorized.
func (m *TokenManager) Token(ctx context.Context, resourceUUID string) (Token, error) {
	id, err := parseResource(resourceUUID)
	if err != nil {
		return Token{}, err
	}
	return m.token(ctx, id)
}

func (m *TokenManager) token(ctx context.Context, id uuid.UUID) (Token, error) {
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

// ForResource returns a copy of c whose requests carry the resource's
// tokens from m, refreshed as needed. It is the way to call the Platform
// API for a resource: it checks resourceUUID at once, and the copy honours
// each request's context while refreshing and, when the API rejects an
// access token, forces one refresh before retrying.
func (c *Client) ForResource(m *TokenManager, resourceUUID string) (*Client, error) {
	if m == nil {
		return nil, errors.New("herokupartner: ForResource: nil TokenManager")
	}
	id, err := parseResource(resourceUUID)
	if err != nil {
		return nil, err
	}
	return c.WithTokenSource(&resourceTokens{m: m, id: id}), nil
}

// TokenSource returns the resource's access tokens as an
// oauth2.TokenSource, for code outside this package that wants them (an
// oauth2.Transport, say). To call the Platform API through a Client, use
// Client.ForResource, which reports a bad id before returning. The id is
// checked here too: when resourceUUID is not a UUID, the source fails at
// once and every call with an error matching ErrInvalidID that names the
// parameter, and nothing is loaded or sent.
func (m *TokenManager) TokenSource(resourceUUID string) oauth2.TokenSource {
	id, err := parseResource(resourceUUID)
	return &resourceTokens{m: m, id: id, err: err}
}

// resourceTokens is the TokenSource for one resource; it holds no token, so
// printing it reveals nothing.
type resourceTokens struct {
	m   *TokenManager
	id  uuid.UUID
	err error // why the resource id was refused; nothing is sent then
}

// Token returns a valid access token.
func (s *resourceTokens) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// TokenContext returns a valid access token, honouring ctx.
func (s *resourceTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if s.err != nil {
		return nil, s.err
	}
	t, err := s.m.token(ctx, s.id)
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
	if s.err != nil {
		return s.err
	}
	if rejected == "" {
		return nil
	}
	// A refresh already in flight may have been started by a caller that
	// did not know about the rejection and may decide none is needed; then
	// a second, forced one follows.
	for range 2 {
		t, err := s.m.refresh(ctx, s.id, rejected)
		if err != nil {
			return err
		}
		if t.AccessToken.Reveal() != rejected {
			return nil
		}
	}
	return nil
}
