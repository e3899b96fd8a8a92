package herokupartnertest

import (
	"encoding/base64"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

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
	case len(seg) == 3 && seg[0] == "addons" && seg[2] == "webhooks":
		return RouteWebhooks, seg[1]
	case len(seg) == 4 && seg[0] == "addons" && seg[2] == "webhooks":
		return RouteWebhook, seg[1]
	case (len(seg) == 3 || len(seg) == 4) && seg[0] == "addons" && seg[2] == "webhook-deliveries":
		return RouteWebhookDeliveries, seg[1]
	case (len(seg) == 3 || len(seg) == 4) && seg[0] == "addons" && seg[2] == "webhook-events":
		return RouteWebhookEvents, seg[1]
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
	case RouteWebhooks:
		return []string{http.MethodGet, http.MethodPost}
	case RouteWebhook:
		return []string{http.MethodGet, http.MethodPatch, http.MethodDelete}
	}
	return []string{http.MethodGet}
}

// acceptable reports whether the Accept header asks for version 3 of the
// API, the only version Heroku serves, or one of its variants
// ("version=3.pipelines", "version=3.sdk"), which Heroku's CLI sends and
// Heroku answers like version 3 on the routes the fake serves.
func acceptable(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != acceptVersion3 {
				continue
			}
			version := params["version"]
			if version == "3" || (strings.HasPrefix(version, "3.") && len(version) > len("3.")) {
				return true
			}
		}
	}
	return false
}

// credential returns the access token of the Authorization header:
// "Bearer TOKEN", or "Basic base64(USER:TOKEN)" as Heroku's Node client
// (with an empty user) and netrc-based tools (with the account's email)
// send it. Heroku reads the token from the password and ignores the user.
func credential(r *http.Request) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok {
		return ""
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return rest
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return ""
		}
		return password
	}
	return ""
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
	var hook *webhookInput
	var patchCode int
	var patchErr any
	switch {
	case route == RouteConfig && r.Method == http.MethodPatch:
		patch, patchCode, patchErr = readConfigPatch(r)
	case route == RouteWebhooks && r.Method == http.MethodPost, route == RouteWebhook && r.Method == http.MethodPatch:
		hook, patchCode, patchErr = readWebhookInput(r, r.Method == http.MethodPost)
	}

	tok := credential(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[keyOf(tok)]
	if tok == "" || at == nil || !s.cfg.now().Before(at.expires) {
		return errUnauthorized.answer()
	}
	switch route {
	case RouteAddon, RouteConfig, RouteProvision, RouteWebhooks, RouteWebhook, RouteWebhookDeliveries, RouteWebhookEvents:
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
		if route != RouteAddon && route != RouteConfig && route != RouteProvision {
			return s.serveWebhooks(r, h, route, a, hook)
		}
		return s.serveAddon(r, route, a, patch)
	case RouteCouplings:
		return s.serveCouplings(ident, at)
	case RoutePipeline:
		return s.servePipeline(ident, at)
	}
	return notFound("", "resource")
}

// serveCouplings answers GET /apps/{id}/pipeline-couplings for the app of
// the token's add-on; the caller holds s.mu.
func (s *Server) serveCouplings(ident string, at *accessToken) (int, any) {
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
}

// servePipeline answers GET /pipelines/{id} for the pipeline the token's
// add-on's app is coupled to; the caller holds s.mu.
func (s *Server) servePipeline(ident string, at *accessToken) (int, any) {
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
