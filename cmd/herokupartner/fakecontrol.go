package main

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
)

// Control routes let a script in another process do what a Go test does
// with the fake's methods: read the request log, issue a grant as a
// provisioning request would carry it, script a fault and read an
// add-on's state. They live under /_fake/, a prefix Heroku's API never
// uses, and answer only on the fake's own address.

// addControl adds the control routes to mux.
func addControl(mux *http.ServeMux, fake *herokupartnertest.Server) {
	mux.HandleFunc("GET /_fake/requests", func(w http.ResponseWriter, _ *http.Request) {
		type logged struct {
			Method string `json:"method"`
			Path   string `json:"path"`
			Route  string `json:"route"`
			Status int    `json:"status"`
		}
		reqs := fake.Requests()
		out := make([]logged, 0, len(reqs))
		for _, q := range reqs {
			out = append(out, logged{q.Method, q.Path, string(q.Route), q.Status})
		}
		controlJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_fake/addons/{id}/grant", func(w http.ResponseWriter, r *http.Request) {
		id, ok := controlAddon(w, r, fake)
		if !ok {
			return
		}
		code, expires := fake.IssueGrant(id)
		controlJSON(w, http.StatusOK, map[string]string{
			"code": code, "expires_at": expires.Format(time.RFC3339), "type": "authorization_code",
		})
	})
	mux.HandleFunc("GET /_fake/addons/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := controlAddon(w, r, fake)
		if !ok {
			return
		}
		a, _ := fake.Addon(id)
		// Config values are the backend's; the operator asked for them.
		controlJSON(w, http.StatusOK, map[string]any{"id": a.ID, "state": a.State, "plan": a.Plan.Name, "config": fake.AddonConfig(id)})
	})
	mux.HandleFunc("POST /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Route      string `json:"route"`
			Times      int    `json:"times"`
			Status     int    `json:"status"`
			LatencyMS  int    `json:"latency_ms"`
			RetryAfter string `json:"retry_after"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil || !knownRoute(f.Route) || f.Times < 0 || f.LatencyMS < 0 {
			controlJSON(w, http.StatusBadRequest, map[string]string{"message": `want {"route": "addon|couplings|pipeline|config|provision|token", "times": N, "status": S, "latency_ms": L, "retry_after": "..."}`})
			return
		}
		fake.Fail(herokupartnertest.Route(f.Route), herokupartnertest.Fault{
			Times: f.Times, Status: f.Status, RetryAfter: f.RetryAfter, Latency: time.Duration(f.LatencyMS) * time.Millisecond,
		})
		w.WriteHeader(http.StatusNoContent)
	})
}

func knownRoute(r string) bool {
	switch herokupartnertest.Route(r) {
	case herokupartnertest.RouteAddon, herokupartnertest.RouteCouplings, herokupartnertest.RoutePipeline,
		herokupartnertest.RouteConfig, herokupartnertest.RouteProvision, herokupartnertest.RouteToken:
		return true
	}
	return false
}

// controlAddon reads the {id} of a control route; on failure it has
// answered.
func controlAddon(w http.ResponseWriter, r *http.Request, fake *herokupartnertest.Server) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err == nil {
		if _, ok := fake.Addon(id); ok {
			return id, true
		}
	}
	controlJSON(w, http.StatusNotFound, map[string]string{"message": "no such add-on"})
	return uuid.Nil, false
}

func controlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
