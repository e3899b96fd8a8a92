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

	"github.com/addonkit/herokupartner/herokupartnertest"
)

// testNow is the poller's clock in tests, so "as of" and change times,
// and with them the screenshot, are the same on every run.
var testNow = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

// env is a dashboard on a seeded fake, refreshed once.
type env struct {
	fake  *herokupartnertest.Server
	fleet *fleet
	src   *poller
	url   string
}

func newEnv(t *testing.T, w herokupartnertest.World) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	fake := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	t.Cleanup(fake.Close)
	f, err := newFleet(ctx, fake, w)
	if err != nil {
		t.Fatalf("seeding the fleet: %v", err)
	}
	p := newPoller(f, 2*time.Second)
	p.now = func() time.Time { return testNow }
	p.refresh(ctx)

	ts := httptest.NewUnstartedServer(newDashboard(p))
	streams, stop := context.WithCancel(context.Background())
	ts.Config.BaseContext = func(net.Listener) context.Context { return streams }
	ts.Start()
	t.Cleanup(func() { stop(); ts.Close() }) // end event streams first: Close waits for them
	return &env{fake: fake, fleet: f, src: p, url: ts.URL}
}

// refresh runs one pass of the poller, as its ticker would.
func (e *env) refresh(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.src.refresh(ctx)
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
