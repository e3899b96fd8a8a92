package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// testNow is where the tracker's clock starts in tests, so "as of" and
// change times, and with them the screenshot, read about the same on
// every run.
var testNow = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

// testSource is the tracker in tests: a request slot every 10 ms and
// entries read again after 200 ms, so the refresher finds a move within
// a fraction of a second; tests wait for the change, never for a time.
var testSource = sourceConfig{Budget: 6000, MinAge: 200 * time.Millisecond, Every: time.Second}

// env is a dashboard on a seeded fake whose map is complete.
type env struct {
	fake  *herokupartnertest.Server
	fleet *fleet
	src   *trackerSource
	url   string
}

func newEnv(t *testing.T, w herokupartnertest.World) *env {
	t.Helper()
	return newEnvWith(t, w, testSource, nil)
}

// newEnvWith starts a tracker configured by sc on a new fake seeded with
// w (or, when f is given, on f's fake and fleet, w unused: another
// replica, whose webhooks go to the first), waits
// until every resource has been read, and serves the dashboard.
func newEnvWith(t *testing.T, w herokupartnertest.World, sc sourceConfig, f *fleet) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := time.Now()
	sc.Now = func() time.Time { return testNow.Add(time.Since(start)) }
	var src *trackerSource
	if f == nil {
		fake := herokupartnertest.NewServer()
		t.Cleanup(fake.Close)
		var err error
		if f, err = newFleet(fake); err != nil {
			t.Fatal(err)
		}
		if src, err = startSource(ctx, f, sc, w); err != nil {
			t.Fatalf("seeding the fleet: %v", err)
		}
	} else {
		var err error
		if src, err = newTrackerSource(f, sc); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range f.reg.resources() {
			ids = append(ids, r.ID)
		}
		src.quietStart(ids) // the other replica filled the map
	}
	src.start(ctx)
	t.Cleanup(func() { cancel(); src.wait() }) // before the fake and the store close
	e := &env{fake: f.srv, fleet: f, src: src}
	e.waitMap(t, "every resource read", func(entries []hp.TrackedResource) bool {
		for _, r := range entries {
			if r.Resolution == nil && r.LastError == "" {
				return false
			}
		}
		return true
	})

	ts := httptest.NewUnstartedServer(newDashboard(src))
	streams, stop := context.WithCancel(context.Background())
	ts.Config.BaseContext = func(net.Listener) context.Context { return streams }
	ts.Start()
	t.Cleanup(func() { stop(); ts.Close() }) // end event streams first: Close waits for them
	e.url = ts.URL
	return e
}

// waitMap waits until cond holds for the tracker's entries, checking on
// every wake-up of the source (each change, and every second).
func (e *env) waitMap(t *testing.T, what string, cond func([]hp.TrackedResource) bool) {
	t.Helper()
	e.wait(t, what, func(ctx context.Context) (bool, error) {
		entries, err := e.src.tracker.Resources(ctx)
		return err == nil && cond(entries), err
	})
}

// waitSnapshot waits until cond holds for the customer's snapshot.
func (e *env) waitSnapshot(t *testing.T, customer, what string, cond func(snapshot) bool) snapshot {
	t.Helper()
	var s snapshot
	e.wait(t, what, func(ctx context.Context) (bool, error) {
		var err error
		s, err = e.src.Snapshot(ctx, customer)
		return err == nil && cond(s), err
	})
	return s
}

func (e *env) wait(t *testing.T, what string, check func(context.Context) (bool, error)) {
	t.Helper()
	wake, stop := e.src.Subscribe()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // generous: a loaded machine
	defer cancel()
	for {
		ok, err := check(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// delivered waits until the fake's webhook deliveries so far are
// answered: what they say is on the map by then.
func (e *env) delivered(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.fake.WaitForDeliveries(ctx); err != nil {
		t.Fatalf("waiting for webhook deliveries: %v", err)
	}
}

// get fetches path and returns the answer with its body read.
func (e *env) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(e.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return res, string(body)
}

// stream is an open event stream.
type stream struct {
	res *http.Response
	r   *bufio.Reader
}

func (e *env) openStream(t *testing.T, customer string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/c/"+customer+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("opening the event stream: %v", err)
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		t.Fatalf("event stream of %s: status %d", customer, res.StatusCode)
	}
	return &stream{res: res, r: bufio.NewReader(res.Body)}
}

// next returns the next "update" event, skipping comments and the retry
// field. A stream that ends fails the test; a stuck one hits the test's
// deadline.
func (s *stream) next(t *testing.T) update {
	t.Helper()
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && event != "":
			if event != "update" {
				t.Fatalf("unexpected event %q", event)
			}
			var u update
			if err := json.Unmarshal([]byte(data), &u); err != nil {
				t.Fatalf("event data is not JSON: %v", err)
			}
			return u
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// until returns the first update for which ok holds, and the board the
// stream showed by then (an update carries the board only when it changed).
// The source wakes the stream every second, so a minute without ok fails.
func (s *stream) until(t *testing.T, ok func(u update, board string) bool) (update, string) {
	t.Helper()
	var board string
	deadline := time.Now().Add(time.Minute) // generous: a loaded machine
	for {
		if time.Now().After(deadline) {
			t.Fatal("the event stream did not show the change within a minute")
		}
		u := s.next(t)
		if u.HTML != "" {
			board = u.HTML
		}
		if ok(u, board) {
			return u, board
		}
	}
}
