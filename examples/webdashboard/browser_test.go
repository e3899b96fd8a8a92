package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (CHROMIUM overrides the path). The
// browser tests fail without it when CI=true, and skip otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if found, err := exec.LookPath(path); err == nil {
		return found
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium not found at %s: install Debian's chromium package (apt-get install -y chromium)", path)
	}
	t.Skipf("chromium not found at %s; install Debian's chromium package to run the browser tests", path)
	return ""
}

// browser starts headless Chromium with an empty profile and returns a
// tab's context, and the console errors the pages write.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first action starts the browser; no timeout on it, as a
	// timeout there would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}

	var mu sync.Mutex
	var errs []string
	listen, stopListening := context.WithCancel(ctx)
	messages := chromedp.Console(listen)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			// A Content-Security-Policy violation, a failed load or an
			// uncaught exception; the favicon the page does not have is fine.
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.HasSuffix(m.URL, "/favicon.ico") {
				mu.Lock()
				errs = append(errs, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { stopListening(); <-done })
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// within runs a against the tab with a generous time limit.
func within[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// column is one stage column as the browser shows it.
type column struct {
	Stage string   `json:"stage"`
	Apps  []string `json:"apps"`
}

type row struct {
	Pipeline string   `json:"pipeline"`
	Heading  string   `json:"heading"`
	Stages   []column `json:"stages"`
}

// readBoard reads the pipeline rows from the DOM.
const readBoard = `Array.from(document.querySelectorAll("section.pipeline")).map(p => ({
	pipeline: p.dataset.pipeline,
	heading: p.querySelector("h2").textContent,
	stages: Array.from(p.querySelectorAll("li.stage")).map(s => ({
		stage: s.querySelector("h3").textContent,
		apps: Array.from(s.querySelectorAll("li.app h4")).map(h => h.textContent),
	})),
}))`

func TestBrowserShowsTheLivePipelineView(t *testing.T) {
	ctx, consoleErrors := browser(t)
	e := newEnv(t, world)
	within(t, ctx, "loading acme's page", chromedp.Steps(
		chromedp.Navigate(e.url+"/c/acme/"),
		chromedp.WaitVisible("#board li.app"),
	))
	// Set at load; a reload would lose it.
	within(t, ctx, "marking the page", chromedp.Evaluate[bool](`window.loadMarker = "loaded once"; true`))

	rows := within(t, ctx, "reading the board", chromedp.Evaluate[[]row](readBoard))
	want := []row{
		{Pipeline: "acme-api", Heading: "Pipeline acme-api", Stages: []column{
			{"test", []string{"acme-api-ci"}}, {"staging", []string{}}, {"production", []string{"acme-api"}}}},
		{Pipeline: "acme-shop", Heading: "Pipeline acme-shop", Stages: []column{
			{"development", []string{"acme-shop-dev"}}, {"review", []string{"acme-shop-pr-1412"}},
			{"staging", []string{"acme-shop-staging"}}, {"production", []string{"acme-shop"}}}},
	}
	if !sameRows(rows, want) {
		t.Fatalf("the browser shows\n%+v\nwant\n%+v", rows, want)
	}
	loose := within(t, ctx, "reading apps in no pipeline",
		chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section.loose li.app h3")).map(h => h.textContent)`))
	if !slices.Equal(loose, []string{"acme-scratch"}) {
		t.Errorf("apps in no pipeline: %v", loose)
	}
	legacy := e.fleet.addons["acme-legacy"][0].ID.String()
	off := within(t, ctx, "reading failures",
		chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section.failures li.failure")).map(c => c.dataset.resource)`))
	if !slices.Equal(off, []string{legacy}) {
		t.Errorf("failures %v, want acme-legacy's resource %s (its grant was revoked)", off, legacy)
	}

	// Heroku renames an app and destroys an add-on (both by webhook, on the
	// map when the delivery is answered), and a customer promotes an app
	// (no webhook: the tracker's refresher finds it). The page follows
	// without a reload.
	e.fleet.rename("acme-shop-pr-1412", "acme-shop-pr-1413")
	within(t, ctx, "waiting for the rename", chromedp.WaitVisible(
		`section[data-pipeline="acme-shop"] li[data-stage="review"] li[data-app="acme-shop-pr-1413"]`))
	e.fleet.couple("acme-shop-dev", "acme-shop", hp.StageStaging)
	if _, err := e.fleet.deprovision(context.Background(), "acme-shop"); err != nil {
		t.Fatal(err)
	}
	within(t, ctx, "waiting for the move", chromedp.WaitVisible(
		`section[data-pipeline="acme-shop"] li[data-stage="staging"] li[data-app="acme-shop-dev"]`))
	within(t, ctx, "waiting for the removal", chromedp.Poll[bool](
		`document.querySelectorAll('li[data-app="acme-shop"] .resources li').length === 1`))
	if m := within(t, ctx, "reading the marker", chromedp.Evaluate[string](`window.loadMarker || ""`)); m != "loaded once" {
		t.Fatal("the page was reloaded instead of updated in place")
	}
	if n := within(t, ctx, "counting the old name", chromedp.Evaluate[int](`document.querySelectorAll('li[data-app="acme-shop-pr-1412"]').length`)); n != 0 {
		t.Errorf("the old name is still on the page %d times", n)
	}
	recent := within(t, ctx, "reading recent changes", chromedp.Text("section.changes"))
	for _, want := range []string{"App acme-shop-pr-1412 was renamed acme-shop-pr-1413.",
		"acme-shop-dev moved from development to staging in pipeline acme-shop.", "was removed from acme-shop."} {
		if !strings.Contains(recent, want) {
			t.Errorf("recent changes lack %q: %q", want, recent)
		}
	}
	if live := within(t, ctx, "reading the announcement", chromedp.Text("#live")); live == "" {
		t.Error("the last change was not announced")
	}
	shot := within(t, ctx, "taking the screenshot", chromedp.FullScreenshot(100))
	writeScreenshot(t, "screenshot.png", shot)

	// 360 px wide: the columns stack and nothing scrolls sideways.
	within(t, ctx, "narrowing the window", chromedp.EmulateViewport(360, 740))
	wide := within(t, ctx, "measuring overflow", chromedp.Evaluate[[]string](`(() => {
		const w = document.documentElement.clientWidth;
		const over = Array.from(document.querySelectorAll("body *"))
			.filter(el => el.getBoundingClientRect().right > w + 0.5)
			.map(el => el.tagName + "." + el.className);
		if (document.documentElement.scrollWidth > w) over.push("document " + document.documentElement.scrollWidth + " > " + w);
		return over;
	})()`))
	if len(wide) > 0 {
		t.Errorf("at 360 px these overflow: %v", wide)
	}
	writeScreenshot(t, "screenshot-360.png", within(t, ctx, "taking the narrow screenshot", chromedp.FullScreenshot(100)))

	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser reported errors (a CSP violation shows here): %v", errs)
	}
}

// TestBrowserKeepsHostileNamesInert: a name carrying markup stays text on
// load and after a live update, which goes through innerHTML.
func TestBrowserKeepsHostileNamesInert(t *testing.T) {
	ctx, consoleErrors := browser(t)
	e := newEnv(t, hostile)
	within(t, ctx, "loading the page", chromedp.Steps(
		chromedp.Navigate(e.url+"/c/acme/"),
		chromedp.WaitVisible("#board li.app"),
	))
	e.fleet.couple("acme-shop", `"><img src=x onerror=window.pwned=2>`, hp.StageProduction)
	within(t, ctx, "waiting for the update", chromedp.WaitVisible(`li[data-stage="production"] li[data-app="acme-shop"]`))
	got := within(t, ctx, "inspecting the page", chromedp.Evaluate[[]any](
		`[window.pwned === undefined, document.querySelectorAll("#board img, #board script, #board b").length,
		  Array.from(document.querySelectorAll("li.app h4")).map(h => h.textContent).includes("<script>window.pwned=1</script>"),
		  document.getElementById("live").textContent]`))
	if got[0] != true || got[1] != float64(0) || got[2] != true {
		t.Errorf("hostile names were not kept as text: pwned undefined %v, elements from names %v, name shown as text %v", got[0], got[1], got[2])
	}
	if live, _ := got[3].(string); !strings.Contains(live, `<img src=x onerror=window.pwned=2>`) {
		t.Errorf("the announcement should show the name as text, got %q", live)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser reported errors: %v", errs)
	}
}

func sameRows(got, want []row) bool {
	return slices.EqualFunc(got, want, func(a, b row) bool {
		return a.Pipeline == b.Pipeline && a.Heading == b.Heading && slices.EqualFunc(a.Stages, b.Stages, func(x, y column) bool {
			return x.Stage == y.Stage && slices.Equal(x.Apps, y.Apps)
		})
	})
}

// writeScreenshot saves a screenshot in the test's temporary directory, or
// in testdata (the README's picture) when UPDATE_SCREENSHOTS is set: the
// page shows random ids, so a plain test run must not leave the checkout
// changed.
func writeScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	if len(png) == 0 {
		t.Fatalf("empty screenshot %s", name)
	}
	dir := t.TempDir()
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		dir = "testdata"
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatalf("saving %s: %v", name, err)
	}
}
