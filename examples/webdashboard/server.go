package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/dashboard.js static/dashboard.css
var staticFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock": clock,
}).ParseFS(templateFS, "templates/*.html"))

// contentSecurityPolicy allows only this origin's script, style and
// connections, no inline script or style, no plugins, and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// sseWriteTimeout bounds each write to an event stream, so a reader that
// stopped reading is dropped; pingEvery keeps proxies from closing an idle
// stream.
const (
	sseWriteTimeout = 30 * time.Second
	pingEvery       = 25 * time.Second
)

// dashboard serves one customer's page at /c/{customer}/ and its live
// updates at /c/{customer}/events.
//
// The customer comes from the path and is checked against the partner's
// records: this example has no sign-in. A real dashboard takes the
// customer from Heroku SSO (the add-on's single sign-on), never from
// anything the browser can edit, and serves only that customer.
type dashboard struct{ src source }

func newDashboard(src source) http.Handler {
	d := &dashboard{src: src}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{customer}/{$}", d.page)
	mux.HandleFunc("GET /c/{customer}/events", d.events)
	for _, f := range []string{"dashboard.js", "dashboard.css"} {
		mux.HandleFunc("GET /static/"+f, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, staticFS, "static/"+f)
		})
	}
	return secureHeaders(mux)
}

// secureHeaders sets the headers every answer carries, errors included.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// rendered is a customer's board rendered for the page or an update.
type rendered struct {
	snap    snapshot
	board   []byte
	version string // digest of board: the page replaces its board only when it differs
}

func (d *dashboard) render(ctx context.Context, customer string) (rendered, error) {
	snap, err := d.src.Snapshot(ctx, customer)
	if err != nil {
		return rendered{}, err
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "board", buildBoard(snap)); err != nil {
		return rendered{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return rendered{snap: snap, board: buf.Bytes(), version: hex.EncodeToString(sum[:8])}, nil
}

// snapshotTimeout bounds one read of the map, whatever the store.
const snapshotTimeout = 5 * time.Second

func (d *dashboard) page(w http.ResponseWriter, r *http.Request) {
	customer := r.PathValue("customer")
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	rd, err := d.render(ctx, customer)
	switch {
	case errors.Is(err, errUnknownCustomer):
		http.NotFound(w, r) // the same answer as for any unknown address
		return
	case err != nil:
		// The cause stays on the server: it may name the store's host.
		http.Error(w, "The dashboard cannot read its data right now; try again shortly.", http.StatusServiceUnavailable)
		return
	}
	data := struct {
		Customer, EventsURL, Version, AsOfISO, AsOfText, BoundText string
		Board                                                      template.HTML
	}{
		Customer: customer, Version: rd.version,
		EventsURL: "/c/" + url.PathEscape(customer) + "/events",
		AsOfISO:   isoOrEmpty(rd.snap.AsOf), AsOfText: asOfText(rd.snap.AsOf), BoundText: boundText(rd.snap.Bound),
		// The board is the output of the "board" template, escaped there.
		Board: template.HTML(rd.board),
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "page", data); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // a customer's data: never kept by a shared cache
	_, _ = w.Write(buf.Bytes())
}

// update is the data of an "update" event; HTML is empty when the board
// did not change since the previous event on the stream.
type update struct {
	Version  string `json:"version"`
	HTML     string `json:"html,omitempty"`
	AsOf     string `json:"asOf"`
	AsOfText string `json:"asOfText"`
	Announce string `json:"announce,omitempty"`
}

// events streams a customer's updates as server-sent events: one at once,
// then one whenever the source wakes it.
func (d *dashboard) events(w http.ResponseWriter, r *http.Request) {
	customer := r.PathValue("customer")
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	_, err := d.src.Snapshot(ctx, customer)
	cancel()
	if errors.Is(err, errUnknownCustomer) {
		http.NotFound(w, r)
		return
	}
	wake, stop := d.src.Subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	var sent string // version of the board last sent
	var seen uint64 // newest change announced
	first := true
	write := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func() bool {
		ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
		defer cancel()
		rd, err := d.render(ctx, customer)
		switch {
		case errors.Is(err, errUnknownCustomer):
			return false
		case err != nil:
			return true // the map is unreadable for now: the next wake-up tries again
		}
		u := update{Version: rd.version, AsOf: isoOrEmpty(rd.snap.AsOf), AsOfText: asOfText(rd.snap.AsOf)}
		if rd.version != sent {
			u.HTML, sent = string(rd.board), rd.version
		}
		u.Announce, seen = announce(rd.snap.Changes, seen, first)
		first = false
		data, err := json.Marshal(u) // one line: JSON escapes newlines
		return err == nil && write("event: update\ndata: "+string(data)+"\n\n")
	}
	if !write("retry: 3000\n\n") || !send() {
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-wake:
			if !send() {
				return
			}
		case <-ping.C:
			if !write(": ping\n\n") {
				return
			}
		}
	}
}

// announce joins the changes newer than seen into one sentence for screen
// readers, and returns the newest seq. The first event of a stream
// announces nothing: the page was just loaded with those changes listed.
func announce(changes []change, seen uint64, first bool) (string, uint64) {
	var text string
	last := ""
	for _, c := range changes {
		if c.Seq <= seen {
			continue
		}
		seen = c.Seq
		if t := describe(c); !first && t != last {
			text += t + " "
			last = t
		}
	}
	if len(text) > 0 {
		text = text[:len(text)-1]
	}
	return text, seen
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05 UTC") }

func isoOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func asOfText(t time.Time) string {
	if t.IsZero() {
		return "not yet read"
	}
	return clock(t) + " on " + t.UTC().Format("2 Jan 2006")
}

func boundText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprintf("Each entry is read again at least every %s.", d)
}
