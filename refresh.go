package herokupartner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

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
// one flight, which runs apart from any caller's context (bounded by
// flightTimeout) so that a refresh Heroku has answered always reaches the
// store; each caller waits only as long as its own context allows.
func (m *TokenManager) refresh(ctx context.Context, id uuid.UUID, rejected string) (Token, error) {
	ch := m.flights.DoChan(id.String(), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.flightTimeout)
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
	if m.locking != nil {
		return m.refreshUnderLock(ctx, id, rejected)
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

// refreshUnderLock refreshes inside the LockingTokenStore's Update, so that
// processes sharing the store refresh one at a time.
func (m *TokenManager) refreshUnderLock(ctx context.Context, id uuid.UUID, rejected string) (Token, error) {
	var fnErr error
	refreshed := false
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

// doRefresh asks the token endpoint for a new access token. A refusal about
// the grant matches both ErrGrantRevoked and ErrUnauthorized.
func (m *TokenManager) doRefresh(ctx context.Context, id uuid.UUID, cur Token) (Token, error) {
	if cur.RefreshToken.IsZero() {
		return Token{}, fmt.Errorf("herokupartner: resource %s: token needs refreshing but no refresh token is stored", id)
	}
	ot, err := m.conf.TokenSource(m.withHTTPClient(ctx), &oauth2.Token{RefreshToken: cur.RefreshToken.Reveal()}).Token()
	if err != nil {
		err = m.tokenEndpointError(err, cur.RefreshToken.Reveal(), cur.AccessToken.Reveal())
		if grantRefused(err) {
			err = &grantRevokedError{id: id, err: err}
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
