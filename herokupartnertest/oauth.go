package herokupartnertest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// grantLifetime is how long a grant code from a provisioning request can
// be exchanged: five minutes, per the sources that mention it.
const grantLifetime = 5 * time.Minute

type accessToken struct {
	addonID uuid.UUID
	expires time.Time
}

type refreshToken struct {
	addonID uuid.UUID
}

type grant struct {
	addonID uuid.UUID
	expires time.Time
	used    bool
}

// tokenKey files a token, grant code or refresh token by its digest, so
// that no printed form of the server's state, under any fmt verb, holds
// one.
type tokenKey [sha256.Size]byte

func keyOf(s string) tokenKey { return sha256.Sum256([]byte(s)) }

// randomToken returns prefix followed by n random bytes in hex.
func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return prefix + hex.EncodeToString(b)
}

// IssueToken returns a new access token for the add-on, as the OAuth
// exchange would: it is accepted only for that add-on, its app's couplings
// and the pipeline the app is coupled to, and it expires after the access
// token lifetime. It panics, naming the id, if the add-on is unknown.
func (s *Server) IssueToken(addonID uuid.UUID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("IssueToken", addonID)
	return s.issueAccessLocked(addonID)
}

func (s *Server) issueAccessLocked(addonID uuid.UUID) string {
	tok := randomToken("HRKU-", 24)
	s.access[keyOf(tok)] = &accessToken{addonID: addonID, expires: s.cfg.now().Add(s.cfg.accessLifetime)}
	return tok
}

// TokenURL returns the address of the server's OAuth token endpoint, for
// a TokenManager's TokenURL.
func (s *Server) TokenURL() string { return s.URL + "/oauth/token" }

// ClientSecret returns the add-on's OAuth client secret that the token
// endpoint expects, as the Partner Portal would show it.
func (s *Server) ClientSecret() string { return s.secret() }

// IssueGrant returns a one-time grant code for the add-on, like the
// oauth_grant of a provisioning request, and when it expires: five minutes
// from now. It panics, naming the id, if the add-on is unknown.
func (s *Server) IssueGrant(addonID uuid.UUID) (code string, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("IssueGrant", addonID)
	code = uuid.NewString()
	expiresAt = s.cfg.now().Add(grantLifetime)
	s.grants[keyOf(code)] = &grant{addonID: addonID, expires: expiresAt}
	return code, expiresAt
}

// RevokeGrant withdraws the add-on's authorization, as deprovisioning or
// a customer's revocation does: its access tokens, refresh tokens and
// unused grant codes all stop working. Grants issued later work again.
// It panics, naming the id, if the add-on is unknown.
func (s *Server) RevokeGrant(addonID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("RevokeGrant", addonID)
	s.revokeLocked(addonID)
}

// revokeLocked drops every credential for the add-on; the caller holds s.mu.
func (s *Server) revokeLocked(addonID uuid.UUID) {
	for k, t := range s.access {
		if t.addonID == addonID {
			delete(s.access, k)
		}
	}
	for k, t := range s.refresh {
		if t.addonID == addonID {
			delete(s.refresh, k)
		}
	}
	for k, g := range s.grants {
		if g.addonID == addonID {
			delete(s.grants, k)
		}
	}
}

// ExpireAccessTokens makes the add-on's current access tokens expired, so
// that the next request with one gets 401 and a refresh is needed. Its
// refresh tokens keep working. It panics, naming the id, if the add-on is
// unknown.
func (s *Server) ExpireAccessTokens(addonID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAddon("ExpireAccessTokens", addonID)
	now := s.cfg.now()
	for _, t := range s.access {
		if t.addonID == addonID && t.expires.After(now) {
			t.expires = now
		}
	}
}

// tokenAnswer is the token endpoint's success body, as id.heroku.com
// sends it.
type tokenAnswer struct {
	AccessToken  string  `json:"access_token"`
	ExpiresIn    int     `json:"expires_in"`
	RefreshToken string  `json:"refresh_token"`
	TokenType    string  `json:"token_type"`
	UserID       string  `json:"user_id"`
	SessionNonce *string `json:"session_nonce"`
}

var errOAuthInvalid = apiError{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "OAuth authorization invalid."}

// serveToken answers POST /oauth/token. Like Heroku's, it needs no
// client_id: the secret alone identifies the add-on.
func (s *Server) serveToken(r *http.Request, formErr error) (int, any) {
	if formErr != nil {
		return badRequest("The request body could not be parsed as a form.")
	}
	form := r.Form
	grantType := form.Get("grant_type")
	if grantType != "authorization_code" && grantType != "refresh_token" {
		return badRequest("grant_type must be authorization_code or refresh_token.")
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(s.secret())) != 1 {
		return errOAuthInvalid.answer()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	var addonID uuid.UUID
	var refresh string
	switch grantType {
	case "authorization_code":
		g := s.grants[keyOf(form.Get("code"))]
		if g == nil || g.used || !now.Before(g.expires) {
			return errOAuthInvalid.answer()
		}
		g.used = true
		addonID = g.addonID
		refresh = randomToken("", 24)
		s.refresh[keyOf(refresh)] = &refreshToken{addonID: addonID}
	case "refresh_token":
		old := form.Get("refresh_token")
		rt := s.refresh[keyOf(old)]
		if rt == nil {
			return errOAuthInvalid.answer()
		}
		addonID = rt.addonID
		refresh = old
		if s.cfg.rotateRefresh {
			delete(s.refresh, keyOf(old))
			refresh = randomToken("", 24)
			s.refresh[keyOf(refresh)] = &refreshToken{addonID: addonID}
		}
	}
	access := s.issueAccessLocked(addonID)
	return http.StatusOK, tokenAnswer{
		AccessToken: access,
		// Heroku answers one second short of the lifetime (28799 for
		// 8 hours), presumably counting from just after issue.
		ExpiresIn:    max(int(s.cfg.accessLifetime/time.Second)-1, 1),
		RefreshToken: refresh,
		TokenType:    "Bearer",
		UserID:       s.addons[addonID].userID.String(),
	}
}
