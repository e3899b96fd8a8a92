package herokupartnertest

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Route names one endpoint of the fake, for Fail and for the request log.
type Route string

// The fake's routes.
const (
	// RouteAddon is GET /addons/{id}.
	RouteAddon Route = "addon"
	// RouteCouplings is GET /apps/{id}/pipeline-couplings.
	RouteCouplings Route = "couplings"
	// RoutePipeline is GET /pipelines/{id}.
	RoutePipeline Route = "pipeline"
	// RouteConfig is GET and PATCH /addons/{id}/config.
	RouteConfig Route = "config"
	// RouteProvision is POST /addons/{id}/actions/provision.
	RouteProvision Route = "provision"
	// RouteToken is POST /oauth/token, Heroku's OAuth token endpoint.
	RouteToken Route = "token"
)

// FaultKind says how a scripted fault spoils an answer.
type FaultKind int

const (
	// FaultStatus answers Fault.Status with Heroku's error body for it
	// (and Fault.RetryAfter, if set). With Status 0 the answer is not
	// replaced: the fault only adds Fault.Latency.
	FaultStatus FaultKind = iota
	// FaultDisconnect closes the connection without answering.
	FaultDisconnect
	// FaultTruncated serves the real answer (the request takes effect)
	// but closes the connection halfway through its body.
	FaultTruncated
	// FaultNotJSON answers Fault.Status (default 200) with a body that is
	// not JSON although Content-Type says it is.
	FaultNotJSON
	// FaultHTML answers Fault.Status (default 503) with an HTML error page,
	// as a proxy in front of the API would.
	FaultHTML
)

// Fault is a scripted failure for the next Times requests on a route.
// Requests spoiled by a fault other than a latency-only one never reach
// the fake's API logic: they have no effect and draw no rate-limit token.
type Fault struct {
	// Times is how many requests the fault spoils; 0 counts as 1.
	Times int
	// Status is the answer's status; see FaultKind for defaults.
	Status int
	// RetryAfter, if set, is sent as the Retry-After header of a
	// FaultStatus answer.
	RetryAfter string
	// Latency delays the spoiled answers; the wait ends early if the
	// client goes away.
	Latency time.Duration
	Kind    FaultKind
}

// Fail scripts f for the next f.Times requests on route. Faults for one
// route queue up: the second applies once the first is used up.
func (s *Server) Fail(route Route, f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], f)
}

// nextFault takes one use of the first fault queued for route.
func (s *Server) nextFault(route Route) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[route]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	q[0].Times--
	if q[0].Times <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.faults, route)
	} else {
		s.faults[route] = q
	}
	return f, true
}

// Request is one request the server received, as the request log keeps it.
type Request struct {
	Method string
	Path   string
	// Route is empty for a path the fake does not serve.
	Route Route
	// Header is the request's header with the Authorization credentials
	// replaced by "[redacted]" (its scheme is kept).
	Header http.Header
	// Form is the token endpoint's form with code, client_secret and
	// refresh_token replaced by "[redacted]"; nil on other routes.
	Form url.Values
	// Status is the answer's status, or 0 when no answer was sent: the
	// connection was cut or the client went away.
	Status int
}

// Requests returns the requests received so far, oldest first, once they
// have been answered. The log keeps the latest 100000.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := make([]Request, len(s.requestLog))
	for i, r := range s.requestLog {
		r.Header = r.Header.Clone()
		if r.Form != nil {
			r.Form = cloneValues(r.Form)
		}
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.requestLog = nil
}

func (s *Server) logRequest(r Request) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.requestLog) >= s.cfg.requestLogLimit {
		s.requestLog = append(s.requestLog[:0], s.requestLog[len(s.requestLog)-s.cfg.requestLogLimit+1:]...)
	}
	s.requestLog = append(s.requestLog, r)
}

const redactedValue = "[redacted]"

func redactHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	if vs := out.Values("Authorization"); len(vs) > 0 {
		red := make([]string, len(vs))
		for i, v := range vs {
			red[i] = redactedValue
			if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				red[i] = scheme + " " + redactedValue
			}
		}
		out["Authorization"] = red
	}
	return out
}

var secretFormFields = []string{"code", "client_secret", "refresh_token"}

func redactForm(v url.Values) url.Values {
	out := cloneValues(v)
	for _, k := range secretFormFields {
		if vs, ok := out[k]; ok {
			red := make([]string, len(vs))
			for i := range red {
				red[i] = redactedValue
			}
			out[k] = red
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
