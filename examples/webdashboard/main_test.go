package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for run's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var acmeURL = regexp.MustCompile(`acme +(http://127\.0\.0\.1:\d+/c/acme/)\n`)

// started is run in the background.
type started struct {
	url    string // acme's page
	out    *syncBuffer
	done   chan error
	cancel context.CancelFunc
}

// startRun runs the program as `go run .` does and returns once it has
// printed acme's address.
func startRun(t *testing.T, cfg runConfig) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &started{out: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- run(ctx, cfg, r.out) }()
	deadline := time.Now().Add(time.Minute) // generous: a loaded machine
	for r.url == "" && time.Now().Before(deadline) {
		if m := acmeURL.FindStringSubmatch(r.out.String()); m != nil {
			r.url = m[1]
		}
		select {
		case err := <-r.done:
			t.Fatalf("run returned before serving: %v\n%s", err, r.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r.url == "" {
		t.Fatalf("no address printed:\n%s", r.out.String())
	}
	return r
}

// waitPage fetches the page until it shows want: the tracker reads the
// demo's resources within its budget, a few a second.
func (r *started) waitPage(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get(r.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", r.url, res.StatusCode)
		}
		if bytes.Contains(body, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %q", want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop cancels run and waits for it to return.
func (r *started) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestRunServesUntilCancelled is what `go run .` does: it prints each
// customer's address, serves the page as the tracker fills the map, and
// stops when asked.
func TestRunServesUntilCancelled(t *testing.T) {
	r := startRun(t, runConfig{Addr: "127.0.0.1:0", Every: time.Hour})
	r.waitPage(t, `data-app="acme-shop-pr-1412"`)

	// An open event stream must not keep run from returning.
	stream, err := http.Get(r.url + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	r.stop(t)
}
