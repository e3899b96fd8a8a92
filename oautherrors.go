package herokupartner

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// tokenEndpointFailure marks an error from the token endpoint that was not
// an answer about the grant itself (a 5xx, a 429, a network error), so that
// Token can keep using a still-valid access token.
type tokenEndpointFailure struct {
	err       error
	transient bool
}

func (e *tokenEndpointFailure) Error() string { return e.err.Error() }
func (e *tokenEndpointFailure) Unwrap() error { return e.err }

// tokenEndpointError turns what x/oauth2 returns into the SDK's errors. An
// answer becomes an *APIError through newAPIError, the one decoding of
// Heroku's {"id","message"} error bodies, with the client secret and the
// given secrets scrubbed from whatever of the body it keeps; an RFC 6749
// body, which x/oauth2 has already decoded, fills ID and Message instead.
// Anything else (network errors, refused redirects, unreadable answers) is
// scrubbed too, although it should never carry the form.
func (m *TokenManager) tokenEndpointError(err error, secrets ...string) error {
	secrets = append(secrets, m.conf.ClientSecret)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		var redirect *RedirectError
		return &tokenEndpointFailure{
			err:       &scrubbedError{msg: scrub(fmt.Sprintf("herokupartner: POST %s: %v", tokenPath, err), secrets...), err: err},
			transient: !errors.As(err, &redirect),
		}
	}
	status, header := 0, http.Header{}
	if re.Response != nil {
		status, header = re.Response.StatusCode, re.Response.Header
	}
	e := newAPIError(http.MethodPost, tokenPath, 1, status, header, re.Body, secrets...)
	if e.ID == "" && e.Message == "" && re.ErrorCode != "" {
		e.ID, e.Message, e.URL = scrub(re.ErrorCode, secrets...), scrub(re.ErrorDescription, secrets...), scrub(re.ErrorURI, secrets...)
		e.Body = ""
	}
	return &tokenEndpointFailure{err: e, transient: status == 0 || status == http.StatusTooManyRequests || status >= 500}
}

// grantRefused reports whether err is the token endpoint's answer that the
// grant (code or refresh token) is no good: a 401, or any other 4xx but a
// timeout or rate limit that names invalid_grant, RFC 6749's error for it.
func grantRefused(err error) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		return true
	case e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests:
		return false
	}
	return e.StatusCode >= 400 && e.StatusCode < 500 && e.ID == "invalid_grant"
}

// grantRevokedError is a refresh Heroku refused: it matches ErrGrantRevoked
// and, whatever the status Heroku chose (400 invalid_grant included),
// ErrUnauthorized, so that one errors.Is(err, ErrUnauthorized) check covers
// every lost authorisation.
type grantRevokedError struct {
	id  uuid.UUID
	err error
}

func (e *grantRevokedError) Error() string {
	return fmt.Sprintf("%v (revoked, or the add-on was deprovisioned): refreshing the token of resource %s: %v", ErrGrantRevoked, e.id, e.err)
}
func (e *grantRevokedError) Unwrap() error { return e.err }
func (e *grantRevokedError) Is(target error) bool {
	return target == ErrGrantRevoked || target == ErrUnauthorized
}

// unauthorizedError is a grant code Heroku refused: it matches
// ErrUnauthorized whatever the status, but not ErrGrantRevoked.
type unauthorizedError struct {
	msg string
	err error
}

func (e *unauthorizedError) Error() string        { return e.msg + ": " + e.err.Error() }
func (e *unauthorizedError) Unwrap() error        { return e.err }
func (e *unauthorizedError) Is(target error) bool { return target == ErrUnauthorized }

// scrubbedError prints a scrubbed message while keeping the cause for
// errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
