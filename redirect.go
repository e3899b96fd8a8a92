package herokupartner

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds a chain of same-origin redirects on a read.
const maxRedirects = 5

// RedirectError is a redirect the SDK refused to follow: to another origin
// (scheme, host or port), from https to plain http, or in answer to a write.
// Credentials and request bodies never leave the configured origin, and a
// write is never replayed elsewhere or turned into a GET. It names the
// target's host only, never a URL that could carry credentials.
type RedirectError struct {
	// StatusCode is the 3xx status of the answer that redirected.
	StatusCode int
	// Host is the host (and port) the answer pointed to.
	Host string
	// Reason says why the redirect was refused.
	Reason string
}

// Error names the status, the target host and the reason.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("herokupartner: refused %d redirect to host %q: %s", e.StatusCode, e.Host, e.Reason)
}

// secureHTTPClient returns a copy of hc (a new client when hc is nil)
// whose redirects follow the SDK's one redirect policy, ahead of any policy
// hc had. Every http.Client the SDK builds or copies goes through it.
func secureHTTPClient(hc *http.Client) *http.Client {
	cp := http.Client{}
	if hc != nil {
		cp = *hc
	}
	cp.CheckRedirect = redirectPolicy(cp.CheckRedirect)
	return &cp
}

// redirectPolicy refuses every redirect of a write, and any redirect of a
// read that leaves the first request's origin; then it defers to next.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0]
		refuse := func(reason string) error {
			status := 0
			if req.Response != nil {
				status = req.Response.StatusCode
			}
			return &RedirectError{StatusCode: status, Host: req.URL.Host, Reason: reason}
		}
		switch {
		case first.Method != http.MethodGet && first.Method != http.MethodHead:
			return refuse("a " + first.Method + " is never redirected, so a write cannot be replayed elsewhere or turned into a GET")
		case first.URL.Scheme == "https" && req.URL.Scheme != "https":
			return refuse("it would downgrade https to plain http")
		case origin(req.URL) != origin(first.URL):
			return refuse("credentials are only sent to the configured origin")
		case len(via) > maxRedirects:
			return refuse(fmt.Sprintf("more than %d redirects", maxRedirects))
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// origin is scheme://host:port with the scheme's default port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
