package herokupartnertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// apiError is Heroku's error body.
type apiError struct {
	Status   int    `json:"-"`
	ID       string `json:"id"`
	Message  string `json:"message"`
	Resource string `json:"resource,omitempty"`
}

func (e apiError) answer() (int, any) { return e.Status, e }

func badRequest(msg string) (int, any) {
	return apiError{Status: http.StatusBadRequest, ID: "bad_request", Message: msg}.answer()
}

var errUnauthorized = apiError{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "Invalid credentials provided."}

func notFound(resource, what string) (int, any) {
	return apiError{Status: http.StatusNotFound, ID: "not_found", Message: "Couldn't find that " + what + ".", Resource: resource}.answer()
}

func forbidden(what, ident string) (int, any) {
	return apiError{Status: http.StatusForbidden, ID: "forbidden",
		Message: fmt.Sprintf("You do not have access to the %s %s.", what, ident)}.answer()
}

// errorFor is Heroku's error body for a status the fake was told to answer.
func errorFor(status int) apiError {
	e := apiError{Status: status}
	switch status {
	case http.StatusBadRequest:
		e.ID, e.Message = "bad_request", "Invalid request."
	case http.StatusUnauthorized:
		return errUnauthorized
	case http.StatusForbidden:
		e.ID, e.Message = "forbidden", "You do not have access to this resource."
	case http.StatusNotFound:
		e.ID, e.Message = "not_found", "Couldn't find that resource."
	case http.StatusConflict:
		e.ID, e.Message = "conflict", "The request conflicts with the resource's current state."
	case http.StatusUnprocessableEntity:
		e.ID, e.Message = "invalid_params", "The parameters are invalid."
	case http.StatusTooManyRequests:
		e.ID, e.Message = "rate_limit", "Your account reached the API rate limit. Please wait a few minutes before making new requests."
	case http.StatusInternalServerError:
		e.ID, e.Message = "internal_server_error", "Internal server error. Heroku has been notified."
	case http.StatusBadGateway:
		e.ID, e.Message = "bad_gateway", "The API could not reach a backend service."
	case http.StatusServiceUnavailable:
		e.ID, e.Message = "unavailable", "Could not complete the action. Please try again later."
	case http.StatusGatewayTimeout:
		e.ID, e.Message = "gateway_timeout", "The API timed out waiting for a backend service."
	default:
		e.ID = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
		e.Message = http.StatusText(status) + "."
		if e.ID == "" {
			e.ID, e.Message = "error", "Error."
		}
	}
	return e
}

const acceptVersion3 = "application/vnd.heroku+json"

// match maps a path to a route and the identity in it.
func match(path string) (Route, string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return "", ""
		}
	}
	switch {
	case len(seg) == 2 && seg[0] == "addons":
		return RouteAddon, seg[1]
	case len(seg) == 3 && seg[0] == "addons" && seg[2] == "config":
		return RouteConfig, seg[1]
	case len(seg) == 4 && seg[0] == "addons" && seg[2] == "actions" && seg[3] == "provision":
		return RouteProvision, seg[1]
	case len(seg) == 3 && seg[0] == "apps" && seg[2] == "pipeline-couplings":
		return RouteCouplings, seg[1]
	case len(seg) == 2 && seg[0] == "pipelines":
		return RoutePipeline, seg[1]
	case len(seg) == 2 && seg[0] == "oauth" && seg[1] == "token":
		return RouteToken, ""
	}
	return "", ""
}

func allowed(route Route) []string {
	switch route {
	case RouteConfig:
		return []string{http.MethodGet, http.MethodPatch}
	case RouteProvision, RouteToken:
		return []string{http.MethodPost}
	}
	return []string{http.MethodGet}
}

// maxBody bounds what the fake reads of a request body.
const maxBody = 1 << 20

// maxEchoedRequestID bounds how much of a client's Request-Id is echoed.
const maxEchoedRequestID = 200

// serve is the server's handler: Heroku's headers, routing, faults, the
// rate limit and the Accept check, then the route's logic.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: redactHeader(r.Header)}
	status := 0
	logged := false
	// logOnce runs before a connection is cut, so that a client seeing the
	// cut already finds the request in the log; otherwise when the handler
	// returns, which is before the answer's last bytes leave.
	logOnce := func() {
		if !logged {
			logged = true
			rec.Status = status
			s.logRequest(rec)
		}
	}
	defer logOnce()
	// reply logs before writing: a client that has read the whole answer
	// then always finds the request in the log.
	reply := func(code int, body any) {
		status = code
		logOnce()
		writeJSON(w, code, body)
	}
	replyError := func(e apiError) { reply(e.Status, e) }

	h := w.Header()
	id := uuid.NewString()
	if in := strings.TrimSpace(r.Header.Get("Request-Id")); in != "" && len(in) <= maxEchoedRequestID {
		// Heroku's answers can carry several ids; the client's comes first.
		id = in + "," + id
	}
	h.Set("Request-Id", id)
	h.Set("Content-Type", "application/json")

	route, ident := match(r.URL.Path)
	rec.Route = route
	var formErr error
	if route == RouteToken && r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		formErr = r.ParseForm()
		// Form, not PostForm: Heroku's example add-on sends the
		// parameters in the query string.
		rec.Form = redactForm(r.Form)
	}
	if !s.wait(r.Context(), s.cfg.latency) {
		logOnce()
		abort()
	}
	if route == "" {
		replyError(apiError{Status: http.StatusNotFound, ID: "not_found",
			Message: "The requested API endpoint was not found. Check the HTTP method and the path."})
		return
	}
	methods := allowed(route)
	if !contains(methods, r.Method) {
		h.Set("Allow", strings.Join(methods, ", "))
		replyError(apiError{Status: http.StatusMethodNotAllowed, ID: "method_not_allowed",
			Message: r.Method + " is not allowed on this endpoint."})
		return
	}

	truncate := false
	if f, ok := s.nextFault(route); ok {
		if !s.wait(r.Context(), f.Latency) {
			logOnce()
			abort()
		}
		switch f.Kind {
		case FaultStatus:
			if f.Status != 0 {
				if f.RetryAfter != "" {
					h.Set("Retry-After", f.RetryAfter)
				}
				if f.Status == http.StatusTooManyRequests && s.rate != nil {
					h.Set("RateLimit-Remaining", "0")
				}
				replyError(errorFor(f.Status))
				return
			}
		case FaultDisconnect:
			logOnce()
			cut(w)
			return
		case FaultNotJSON:
			status = orDefault(f.Status, http.StatusOK)
			logOnce()
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "this answer is not JSON, on purpose\n")
			return
		case FaultHTML:
			status = orDefault(f.Status, http.StatusServiceUnavailable)
			logOnce()
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, htmlErrorPage, status, http.StatusText(status), status, http.StatusText(status))
			return
		case FaultTruncated:
			truncate = true
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
	if !truncate {
		reply(code, body)
		return
	}
	b := marshal(body)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	status = code
	logOnce()
	w.WriteHeader(code)
	_, _ = w.Write(b[:len(b)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// Aborting after a flush closes the connection short of the promised
	// Content-Length, which is what a client sees when a proxy dies mid-body.
	panic(http.ErrAbortHandler)
}

const htmlErrorPage = `<!DOCTYPE html>
<html>
<head><title>%d %s</title></head>
<body>
<h1>%d %s</h1>
<p>The server is temporarily unable to service your request. Please try again later.</p>
</body>
</html>
`

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

// acceptable reports whether the Accept header asks for version 3 of the
// API, the only version Heroku serves.
func acceptable(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == acceptVersion3 && params["version"] == "3" {
				return true
			}
		}
	}
	return false
}

// bearer returns the access token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// serveAPI answers a Platform API route: rate limit, Accept, token, then
// the resource with the token's scope.
func (s *Server) serveAPI(r *http.Request, h http.Header, route Route, ident string) (int, any) {
	if s.rate != nil {
		left, ok := s.rate.take(s.cfg.now())
		h.Set("RateLimit-Remaining", strconv.Itoa(left))
		if !ok {
			return errorFor(http.StatusTooManyRequests).answer()
		}
	}
	if !acceptable(r.Header.Values("Accept")) {
		return apiError{Status: http.StatusNotAcceptable, ID: "not_acceptable",
			Message: "Please specify a version with the Accept header, e.g. Accept: application/vnd.heroku+json; version=3."}.answer()
	}
	// The body is read before the lock is taken, but a bad one is
	// reported only to a caller allowed to send it.
	var patch *configPatch
	var patchCode int
	var patchErr any
	if route == RouteConfig && r.Method == http.MethodPatch {
		patch, patchCode, patchErr = readConfigPatch(r)
	}

	tok := bearer(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[tok]
	if tok == "" || at == nil || !s.cfg.now().Before(at.expires) {
		return errUnauthorized.answer()
	}
	switch route {
	case RouteAddon, RouteConfig, RouteProvision:
		a := findByIdent(s.addons, ident, func(a *addon) string { return a.name })
		if a == nil {
			return notFound("addon", "add-on")
		}
		if a.id != at.addonID {
			return forbidden("add-on", ident)
		}
		if patchErr != nil {
			return patchCode, patchErr
		}
		return s.serveAddon(r, route, a, patch)
	case RouteCouplings:
		ap := findByIdent(s.apps, ident, func(a *app) string { return a.name })
		if ap == nil {
			return notFound("app", "app")
		}
		if ap.id != s.addons[at.addonID].appID {
			return forbidden("app", ident)
		}
		c := s.couplings[ap.id]
		if s.cfg.shape == CouplingsArray {
			list := []wireCoupling{}
			if c != nil {
				list = append(list, s.couplingJSON(c))
			}
			return http.StatusOK, list
		}
		if c == nil {
			return notFound("pipeline_coupling", "pipeline coupling")
		}
		return http.StatusOK, s.couplingJSON(c)
	case RoutePipeline:
		p := findByIdent(s.pipelines, ident, func(p *pipeline) string { return p.name })
		if p == nil {
			return notFound("pipeline", "pipeline")
		}
		c := s.couplings[s.addons[at.addonID].appID]
		if c == nil || c.pipelineID != p.id {
			return forbidden("pipeline", ident)
		}
		return http.StatusOK, s.pipelineJSON(p)
	}
	return notFound("", "resource")
}

type configPatch struct {
	Config []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"config"`
}

// readConfigPatch reads and checks a PATCH /addons/{id}/config body before
// any lock is taken.
func readConfigPatch(r *http.Request) (*configPatch, int, any) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		code, body := badRequest("The request body could not be read.")
		return nil, code, body
	}
	if len(raw) > maxBody {
		code, body := apiError{Status: http.StatusRequestEntityTooLarge, ID: "request_too_large", Message: "The request body is too large."}.answer()
		return nil, code, body
	}
	var p struct {
		Config *json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		code, body := badRequest("The request body is not valid JSON.")
		return nil, code, body
	}
	invalid := func(msg string) (*configPatch, int, any) {
		code, body := apiError{Status: http.StatusUnprocessableEntity, ID: "invalid_params", Message: msg}.answer()
		return nil, code, body
	}
	if p.Config == nil {
		return invalid("Missing required param: config.")
	}
	var out configPatch
	if err := json.Unmarshal(raw, &out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid("config must be an array of {name, value} with string or null values.")
		}
		return invalid("config is invalid.")
	}
	for _, v := range out.Config {
		if strings.TrimSpace(v.Name) == "" {
			return invalid("Every config var needs a name.")
		}
	}
	return &out, 0, nil
}

// serveAddon answers the add-on routes; the caller holds s.mu.
func (s *Server) serveAddon(r *http.Request, route Route, a *addon, patch *configPatch) (int, any) {
	switch {
	case route == RouteAddon:
		return http.StatusOK, s.addonJSON(a)
	case route == RouteConfig && r.Method == http.MethodGet:
		return http.StatusOK, configJSON(a)
	case route == RouteConfig:
		for _, v := range patch.Config {
			if v.Value == nil {
				delete(a.config, v.Name)
			} else {
				a.config[v.Name] = *v.Value
			}
		}
		a.updated = s.now()
		return http.StatusOK, configJSON(a)
	default: // RouteProvision
		a.state = "provisioned"
		a.updated = s.now()
		return http.StatusOK, s.addonJSON(a)
	}
}

// findByIdent looks a record up by id or, as Heroku's paths also allow, by
// name; the caller holds s.mu.
func findByIdent[T any](records map[uuid.UUID]*T, ident string, name func(*T) string) *T {
	if id, err := uuid.Parse(ident); err == nil {
		return records[id]
	}
	for _, r := range records {
		if name(r) == ident {
			return r
		}
	}
	return nil
}
