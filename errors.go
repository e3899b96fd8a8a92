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
	// StatusCode is the answer's HTTP status, such as 404.
	StatusCode int
	// ID is Heroku's machine-readable error id, such as "not_found".
	ID string
	// Message is Heroku's human-readable explanation, when the body was
	// Heroku's JSON error.
	Message string
	// URL is the documentation link Heroku sometimes includes.
	URL string
	// RequestID is the Request-Id header of the answer; it may hold several
	// comma-separated ids, and Heroku's support asks for it.
	RequestID string
	// Method is the HTTP method of the request, such as "GET".
	Method string
	// Path is the request's path below the base URL, such as
	// "/addons/01234567-89ab-cdef-0123-456789abcdef"; it holds ids only.
	Path string
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
	b.WriteString(errPrefix + "resolving add-on")
	if e.ResourceID != "" {
		b.WriteString(" " + e.ResourceID)
	}
	b.WriteString(": " + e.Step + " step")
	if e.Err != nil {
		b.WriteString(": " + strings.TrimPrefix(e.Err.Error(), errPrefix))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ResolveError) Unwrap() error { return e.Err }

var errEmptyConfigName = errors.New("herokupartner: config var with an empty name")

// errPrefix starts every error text of the SDK, once.
const errPrefix = "herokupartner: "

// callError is a failed call that is not simply an answer from the API: a
// request not sent, a refused redirect, a broken connection, a timeout, an
// undecodable answer. Its text is "herokupartner: METHOD PATH: what: cause",
// with the cause's own "herokupartner: METHOD PATH: " left out so that the
// prefix appears once; errors.Is and errors.As see every cause.
type callError struct {
	method, path string
	what         string
	causes       []error
}

func newCallError(method, path, what string, causes ...error) *callError {
	return &callError{method: method, path: path, what: what, causes: causes}
}

func (e *callError) Error() string {
	var b strings.Builder
	b.WriteString(errPrefix + e.method + " " + e.path)
	if e.what != "" {
		b.WriteString(": " + e.what)
	}
	for _, c := range e.causes {
		if c == nil {
			continue
		}
		b.WriteString(": " + chainText(c, e.method, e.path))
	}
	return b.String()
}

func (e *callError) Unwrap() []error { return e.causes }

// chainText is err's text without the prefix and the "METHOD PATH: " that
// the error wrapping it already wrote.
func chainText(err error, method, path string) string {
	s := strings.TrimPrefix(err.Error(), errPrefix)
	return strings.TrimPrefix(s, method+" "+path+": ")
}
