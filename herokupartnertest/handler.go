package herokupartnertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxBody bounds what the fake reads of a request body.
const maxBody = 1 << 20

// readBody reads a request body of at most maxBody bytes. On failure it
// returns Heroku's answer for it (status and body); status is 0 on success.
func readBody(r *http.Request) ([]byte, int, any) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		code, body := badRequest("The request body could not be read.")
		return nil, code, body
	}
	if len(raw) > maxBody {
		code, body := apiError{Status: http.StatusRequestEntityTooLarge, ID: "request_too_large", Message: "The request body is too large."}.answer()
		return nil, code, body
	}
	return raw, 0, nil
}

// maxEchoedRequestID bounds how much of a client's Request-Id is echoed.
const maxEchoedRequestID = 200

// responder answers one request. It logs the request exactly once:
// before a connection is cut, so that a client seeing the cut already finds
// the request in the log; before an answer is written, so that a client that
// has read the whole answer finds it too; otherwise when the handler
// returns (the client went away).
type responder struct {
	s      *Server
	w      http.ResponseWriter
	rec    Request
	logged bool
}

func (a *responder) log(status int) {
	if !a.logged {
		a.logged = true
		a.rec.Status = status
		a.s.log.add(a.rec)
	}
}

// reply logs, then writes body as JSON.
func (a *responder) reply(code int, body any) {
	a.log(code)
	writeJSON(a.w, code, body)
}

// abort logs the request as unanswered and ends the handler.
func (a *responder) abort() {
	a.log(0)
	abort()
}

// serve is the server's handler: Heroku's headers, routing, faults, the
// rate limit and the Accept check, then the route's logic.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	a := &responder{s: s, w: w, rec: Request{Method: r.Method, Path: r.URL.Path, Header: redactHeader(r.Header)}}
	defer a.log(0)

	h := w.Header()
	id := uuid.NewString()
	if in := strings.TrimSpace(r.Header.Get("Request-Id")); in != "" && len(in) <= maxEchoedRequestID {
		// Heroku's answers can carry several ids; the client's comes first.
		id = in + "," + id
	}
	h.Set("Request-Id", id)
	h.Set("Content-Type", "application/json")

	route, ident := match(r.URL.Path)
	a.rec.Route = route
	var formErr error
	if route == RouteToken && r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		formErr = r.ParseForm()
		// Form, not PostForm: Heroku's example add-on sends the
		// parameters in the query string.
		a.rec.Form = redactForm(r.Form)
	}
	methods := allowed(route)
	served := route != "" && contains(methods, r.Method)
	// A fault is taken as the request arrives, before any latency, so
	// that faults apply in arrival order and Fault.Reached fires then.
	var f Fault
	faulted := false
	if served {
		f, faulted = s.nextFault(route)
	}
	if !s.wait(r.Context(), s.cfg.latency) {
		a.abort()
	}
	switch {
	case route == "":
		a.reply(apiError{Status: http.StatusNotFound, ID: "not_found",
			Message: "The requested API endpoint was not found. Check the HTTP method and the path."}.answer())
		return
	case !served:
		h.Set("Allow", strings.Join(methods, ", "))
		a.reply(apiError{Status: http.StatusMethodNotAllowed, ID: "method_not_allowed",
			Message: r.Method + " is not allowed on this endpoint."}.answer())
		return
	}
	if faulted {
		if !s.wait(r.Context(), f.Latency) {
			a.abort()
		}
		if a.spoil(f) {
			return
		}
	}

	var code int
	var body any
	if route == RouteToken {
		// id.heroku.com is another service: no API rate limit, no
		// version header.
		h.Set("Cache-Control", "no-store")
		code, body = s.serveToken(r, formErr)
	} else {
		code, body = s.serveAPI(r, h, route, ident)
	}
	if faulted && f.Kind == FaultTruncated {
		a.truncated(code, body)
	}
	a.reply(code, body)
}

// spoil answers in place of the API as fault f says, and reports whether
// it did; a latency-only or truncating fault leaves the answer to the API.
func (a *responder) spoil(f Fault) bool {
	h := a.w.Header()
	switch f.Kind {
	case FaultStatus:
		if f.Status == 0 {
			return false
		}
		if f.RetryAfter != "" {
			h.Set("Retry-After", f.RetryAfter)
		}
		if f.Status == http.StatusTooManyRequests && a.s.rate != nil {
			h.Set("RateLimit-Remaining", "0")
		}
		a.reply(errorFor(f.Status).answer())
	case FaultDisconnect:
		a.log(0)
		cut(a.w)
	case FaultNotJSON:
		status := orDefault(f.Status, http.StatusOK)
		a.log(status)
		a.w.WriteHeader(status)
		_, _ = io.WriteString(a.w, "this answer is not JSON, on purpose\n")
	case FaultHTML:
		status := orDefault(f.Status, http.StatusServiceUnavailable)
		a.log(status)
		h.Set("Content-Type", "text/html; charset=utf-8")
		a.w.WriteHeader(status)
		_, _ = fmt.Fprintf(a.w, htmlErrorPage, status, http.StatusText(status), status, http.StatusText(status))
	default: // FaultTruncated
		return false
	}
	return true
}

// truncated sends half of the answer and cuts the connection.
func (a *responder) truncated(code int, body any) {
	b := marshal(body)
	a.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	a.log(code)
	a.w.WriteHeader(code)
	_, _ = a.w.Write(b[:len(b)/2])
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
	// Aborting after a flush closes the connection short of the promised
	// Content-Length, which is what a client sees when a proxy dies mid-body.
	abort()
}

// cut closes the connection without answering.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// abort ends the handler without an answer: returning normally would
// send an empty 200.
func abort() { panic(http.ErrAbortHandler) }

// wait sleeps for d unless the client goes away or the server closes;
// it reports whether to go on answering.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

func marshal(body any) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		// Unreachable: every body is one of the fake's own types.
		b, _ = json.Marshal(errorFor(http.StatusInternalServerError))
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b := marshal(body)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
