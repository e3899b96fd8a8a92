package herokupartner

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors that errors.Is matches against the SDK's errors.
var (
	// ErrNotFound matches an *APIError with status 404.
	ErrNotFound = errors.New("herokupartner: not found")
	// ErrUnauthorized matches an *APIError with status 401: the token is
	// missing, invalid, expired or revoked.
	ErrUnauthorized = errors.New("herokupartner: unauthorized")
	// ErrForbidden matches an *APIError with status 403.
	ErrForbidden = errors.New("herokupartner: forbidden")
	// ErrRateLimited matches an *APIError with status 429.
	ErrRateLimited = errors.New("herokupartner: rate limited")
	// ErrInvalidID is wrapped by the error returned when an id argument is
	// not a UUID; no request is sent.
	ErrInvalidID = errors.New("herokupartner: invalid id")
	// ErrNoToken is returned, before anything is sent, by a request made
	// through a client that has no token.
	ErrNoToken = errors.New("herokupartner: client has no token")
)

// ErrGrantRevoked is matched, alongside ErrUnauthorized, by the error of a
// lookup whose token Heroku will not refresh, or refuses again right after a
// refresh: the add-on's grant was revoked or the add-on deprovisioned, and
// only a new provisioning brings a new grant.
var ErrGrantRevoked = errors.New("herokupartner: the add-on's OAuth grant is no longer valid")

// APIError is a non-2xx answer from the Platform API. It carries Heroku's
// error id and message when the body was Heroku's JSON error, and a short
// excerpt of the body when it was not (an HTML page from a proxy, say).
type APIError struct {
	StatusCode int
	// ID is Heroku's machine-readable error id, such as "not_found".
	ID      string
	Message string
	// URL is the documentation link Heroku sometimes includes.
	URL string
	// RequestID is the Request-Id header of the answer; it may hold several
	// comma-separated ids, and Heroku's support asks for it.
	RequestID string
	Method    string
	Path      string
	// Attempts is how many times the request was sent, retries included.
	Attempts int
	// Body is a bounded excerpt of a body that was not Heroku's JSON error.
	Body string
	// Header is the answer's header.
	Header http.Header
}

// Error names the method, path, status, Heroku's error id and message and
// the request id; it never contains the token.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "herokupartner: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.ID != "" {
		b.WriteString(" (" + e.ID + ")")
	}
	switch {
	case e.Message != "":
		b.WriteString(": " + e.Message)
	case e.Body != "":
		fmt.Fprintf(&b, ": body %q", e.Body)
	}
	if e.RequestID != "" {
		b.WriteString(" [request id " + e.RequestID + "]")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is reports whether the status of e is the one target stands for, so that
// errors.Is(err, ErrNotFound) works through any wrapping.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// ResolveError says which step of a resolution failed and wraps the cause.
// ResolvePipeline, ResolvePipelines and Resolver return it for every
// failure.
type ResolveError struct {
	// Step is StepAddon, StepCouplings or StepPipeline.
	Step string
	// ResourceID is the canonical uuid of the add-on resource being
	// resolved; it is empty when the id given was not a UUID, since that
	// value is never echoed.
	ResourceID string
	Err        error
}

// Error reads "herokupartner: resolving add-on ID: STEP step: CAUSE", with
// one "herokupartner: " prefix for the whole chain.
func (e *ResolveError) Error() string {
	var b strings.Builder
	b.WriteString("herokupartner: resolving add-on")
	if e.ResourceID != "" {
		b.WriteString(" " + e.ResourceID)
	}
	b.WriteString(": " + e.Step + " step")
	if e.Err != nil {
		b.WriteString(": " + strings.TrimPrefix(e.Err.Error(), "herokupartner: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ResolveError) Unwrap() error { return e.Err }

var errEmptyConfigName = errors.New("herokupartner: config var with an empty name")
