package herokupartnertest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

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

// requestLog is a ring of the latest limit requests and a count of all,
// so that logging costs the same at the millionth request as at the first:
// appending never copies what is already kept.
type requestLog struct {
	mu    sync.Mutex
	limit int
	buf   []Request // grows to limit, then wraps
	next  int       // where the next entry goes once buf is full
	total int
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	switch {
	case l.limit == 0:
	case len(l.buf) < l.limit:
		l.buf = append(l.buf, r)
	default:
		l.buf[l.next] = r
		l.next = (l.next + 1) % l.limit
	}
}

// Requests returns the requests the log keeps, oldest first, once they have
// been answered: the latest DefaultRequestLogCapacity unless
// WithRequestLogCapacity says otherwise. RequestCount counts those dropped
// too.
func (s *Server) Requests() []Request {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, 0, len(l.buf))
	for i := range l.buf {
		r := l.buf[(l.next+i)%len(l.buf)]
		r.Header = r.Header.Clone()
		if r.Form != nil {
			r.Form = cloneValues(r.Form)
		}
		out = append(out, r)
	}
	return out
}

// RequestCount returns how many requests have been answered (or cut) since
// the server started or ResetRequests last ran, including those the
// request log no longer keeps.
func (s *Server) RequestCount() int {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return s.log.total
}

// ResetRequests empties the request log and sets RequestCount to zero.
func (s *Server) ResetRequests() {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf, l.next, l.total = nil, 0, 0
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
