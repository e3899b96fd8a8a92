package herokupartnertest

import (
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
	// Kind says how the answer is spoiled; the zero value, FaultStatus,
	// answers Status (or only adds Latency when Status is 0).
	Kind FaultKind
	// Reached, if not nil, is closed when the first request this fault
	// spoils reaches the server, before any latency: a test can then
	// cancel a call or close the server at a known point instead of
	// guessing with a timer.
	Reached chan<- struct{}
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
	if q[0].Reached != nil {
		close(q[0].Reached)
		q[0].Reached = nil // closed once, by the first use
	}
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
