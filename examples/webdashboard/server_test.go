package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// hostile names an app and a pipeline with markup that would run if it
// reached the page unescaped.
var hostile = herokupartnertest.World{Apps: []herokupartnertest.WorldApp{
	{Customer: "acme", Name: `<script>window.pwned=1</script>`, Pipeline: `"><img src=x onerror=window.pwned=2>`, Stage: hp.StageStaging},
	{Customer: "acme", Name: `x" onmouseover="window.pwned=3`, Pipeline: `"><img src=x onerror=window.pwned=2>`, Stage: "<b>canary</b>"},
	{Customer: "acme", Name: "acme-shop", Pipeline: "acme-shop", Stage: hp.StageDevelopment},
}}

// markup finds anything a hostile name could have turned into live markup.
// Escaped text may still read "onerror=", inertly; a tag may not appear.
var markup = regexp.MustCompile(`(?i)<script>window|<img|<b>|onmouseover="window`)

func TestHostileNamesRenderInert(t *testing.T) {
	e := newEnv(t, hostile)
	res, body := e.get(t, "/c/acme/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if m := markup.FindString(body); m != "" {
		t.Fatalf("the page carries live markup from a name: %q", m)
	}
	for _, want := range []string{"&lt;script&gt;window.pwned=1&lt;/script&gt;", "&lt;b&gt;canary&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks the escaped name %q", want)
		}
	}

	// The live update goes through innerHTML: it must be as inert.
	s := e.openStream(t, "acme")
	_, before := s.until(t, func(_ update, board string) bool { return board != "" })
	e.fleet.couple("acme-shop", `"><img src=x onerror=window.pwned=2>`, hp.StageProduction)
	u, _ := s.until(t, func(u update, _ string) bool { return u.HTML != "" && u.HTML != before })
	if m := markup.FindString(u.HTML); m != "" {
		t.Fatalf("an update carries live markup from a name: %q", m)
	}
}

// noInline finds inline script, inline event handlers and inline style,
// which the Content-Security-Policy forbids.
var noInline = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<script>|\son[a-z]+=|\sstyle=|<style`)

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t, world)
	for _, path := range []string{"/c/acme/", "/static/dashboard.js", "/static/dashboard.css", "/", "/c/nobody/", "/c/nobody/events", "/static/"} {
		res, body := e.get(t, path)
		h := res.Header
		if got := h.Get("Content-Security-Policy"); got != contentSecurityPolicy {
			t.Errorf("%s: Content-Security-Policy %q", path, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
		if strings.HasPrefix(path, "/c/acme") && noInline.MatchString(body) {
			t.Errorf("%s: inline script or style: %q", path, noInline.FindString(body))
		}
	}
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(contentSecurityPolicy, part) {
			t.Errorf("the policy lacks %q", part)
		}
	}
	if strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Error("the policy allows something unsafe")
	}
	res, _ := e.get(t, "/c/acme/")
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("a customer's page may be cached: Cache-Control %q", got)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", got)
	}
	if res, _ := e.get(t, "/static/dashboard.js"); !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("script Content-Type %q", res.Header.Get("Content-Type"))
	}
}

func TestCustomerSeesOnlyTheirResources(t *testing.T) {
	e := newEnv(t, world)
	names := map[string][]string{} // customer -> its app and add-on names
	for _, r := range world.Apps {
		names[r.Customer] = append(names[r.Customer], r.Name)
	}
	e.fleet.mu.Lock()
	for app, addons := range e.fleet.addons {
		for _, a := range addons {
			names[e.fleet.owner[app]] = append(names[e.fleet.owner[app]], a.Name, a.ID.String())
		}
	}
	e.fleet.mu.Unlock()

	for customer := range names {
		_, page := e.get(t, "/c/"+customer+"/")
		u := e.openStream(t, customer).next(t)
		for other, theirs := range names {
			if other == customer {
				continue
			}
			for _, n := range theirs {
				if strings.Contains(page, ">"+n+"<") || strings.Contains(page, n+"</code>") || strings.Contains(page, `"`+n+`"`) {
					t.Errorf("%s's page shows %s's %q", customer, other, n)
				}
				if strings.Contains(u.HTML, n) {
					t.Errorf("%s's event stream shows %s's %q", customer, other, n)
				}
			}
		}
		if !strings.Contains(page, ">"+names[customer][0]+"<") {
			t.Errorf("%s's page lacks its own app %q", customer, names[customer][0])
		}
	}

	// Anything but a known customer's exact name is not found, and says
	// nothing about who exists.
	for _, path := range []string{"/", "/c/", "/c/nobody/", "/c/ACME/", "/c/acme%2F..%2Fglobex/", "/c/../c/globex/x", "/c/nobody/events", "/c/acme/events/x"} {
		res, body := e.get(t, path)
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMovedPermanently {
			t.Errorf("%s: status %d, want 404", path, res.StatusCode)
		}
		for c := range names {
			if strings.Contains(body, c) && res.StatusCode == http.StatusNotFound {
				t.Errorf("%s: the 404 names customer %q", path, c)
			}
		}
	}
}

func TestNoTokenReachesThePage(t *testing.T) {
	e := newEnv(t, world)
	ctx := context.Background()
	var secrets []string
	for _, r := range e.fleet.reg.resources() {
		tok, err := e.fleet.tokens.Token(ctx, r.ID)
		if err != nil {
			continue // a revoked grant has no token to leak
		}
		secrets = append(secrets, tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
	}
	secrets = append(secrets, e.fake.ClientSecret(), e.fleet.hooks.secret.Reveal(), e.fleet.hooks.auth.Reveal())
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets to look for: the fleet was not provisioned", len(secrets))
	}
	var bodies []string
	for _, c := range e.fleet.reg.customerList() {
		_, page := e.get(t, "/c/"+c+"/")
		u := e.openStream(t, c).next(t)
		bodies = append(bodies, page, u.HTML, u.Announce)
	}
	for _, path := range []string{"/static/dashboard.js", "/static/dashboard.css"} {
		_, b := e.get(t, path)
		bodies = append(bodies, b)
	}
	for i, b := range bodies {
		for j, s := range secrets {
			if s != "" && strings.Contains(b, s) {
				// Say which, never what: the failure message must not leak it either.
				t.Errorf("answer %d holds secret %d", i, j)
			}
		}
	}
}

func TestEventStreamShowsAChangeAndAnnouncesIt(t *testing.T) {
	e := newEnv(t, world)
	s := e.openStream(t, "acme")
	first := s.next(t)
	if first.HTML == "" || first.Announce != "" || !strings.HasPrefix(first.AsOf, "2026-11-28T09:") {
		t.Fatalf("first event: html %d bytes, announce %q, asOf %q", len(first.HTML), first.Announce, first.AsOf)
	}

	// Nothing changed: the next wake-up sends "as of" only.
	if u := s.next(t); u.HTML != "" || u.Version != first.Version {
		t.Fatalf("an unchanged board was sent again (version %s -> %s)", first.Version, u.Version)
	}

	// A promotion sends no webhook: the refresher finds it. The board and
	// the announcement may come in one event or two.
	e.fleet.couple("acme-shop-dev", "acme-shop", hp.StageStaging)
	want := "acme-shop-dev moved from development to staging in pipeline acme-shop."
	var announced bool
	_, board := s.until(t, func(u update, board string) bool {
		if u.Announce != "" && u.Announce != want {
			t.Errorf("announce %q, want %q", u.Announce, want)
		}
		announced = announced || u.Announce == want
		return announced && board != first.HTML
	})
	shop := board[strings.Index(board, `data-pipeline="acme-shop"`):]
	stagingAt := strings.Index(shop, `data-stage="staging"`)
	devAt := strings.Index(shop, `data-app="acme-shop-dev"`)
	prodAt := strings.Index(shop, `data-stage="production"`)
	if stagingAt < 0 || devAt < stagingAt || devAt > prodAt {
		t.Errorf("acme-shop-dev is not in the staging column of the update")
	}

	// A rename arrives by webhook and is on the stream by the time the
	// delivery is answered.
	e.fleet.rename("acme-shop-dev", "acme-shop-devel")
	e.delivered(t)
	s.until(t, func(u update, board string) bool {
		return u.Announce == "App acme-shop-dev was renamed acme-shop-devel." && strings.Contains(board, `data-app="acme-shop-devel"`)
	})
}

// unreadable is a source whose store is down.
type unreadable struct{}

func (unreadable) Snapshot(context.Context, string) (snapshot, error) {
	return snapshot{}, errors.New("dial tcp db.internal.example:5432: connection refused")
}

func (unreadable) Subscribe() (<-chan struct{}, func()) { return make(chan struct{}), func() {} }

func TestUnreadableMapAnswers503WithoutDetails(t *testing.T) {
	ts := httptest.NewServer(newDashboard(unreadable{}))
	defer ts.Close()
	res, err := http.Get(ts.URL + "/c/acme/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", res.StatusCode)
	}
	if strings.Contains(string(body), "db.internal") || strings.Contains(string(body), "5432") {
		t.Errorf("the answer names the store: %q", body)
	}
}
