package herokupartner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests need a real socket: connection reuse, resets and bodies that
// never finish cannot be seen through a mock transport.

func newSocketClient(t *testing.T, h http.Handler, connState func(net.Conn, http.ConnState), opts ...Option) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if connState != nil {
		srv.Config.ConnState = connState
	}
	srv.Start()
	t.Cleanup(srv.Close)
	base := []Option{WithBaseURL(srv.URL), WithToken(testToken), WithRetry(fastRetry), WithHTTPClient(srv.Client())}
	c, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c, srv
}

func TestConnectionsAreReusedAcrossAnswers(t *testing.T) {
	pipeline := readFixture(t, "pipeline.json")
	var n, conns atomic.Int32
	countNew := func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"id":"not_found","message":"gone"}`))
		case 1:
			w.WriteHeader(502)
			_, _ = w.Write([]byte("<html>" + string(make([]byte, 8<<10)) + "</html>"))
		default:
			_, _ = w.Write(pipeline)
			_, _ = w.Write([]byte("\n\n")) // trailing bytes the decoder leaves unread
		}
	}), countNew, WithRetry(RetryPolicy{}))
	for range 12 {
		_, _ = c.GetPipeline(context.Background(), plID)
	}
	assert.Equal(t, int32(12), n.Load())
	assert.Equal(t, int32(1), conns.Load(), "every body was drained and closed, so one connection served all")
}

func TestConnectionResetIsRetried(t *testing.T) {
	pipeline := readFixture(t, "pipeline.json")
	var n atomic.Int32
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		_, _ = w.Write(pipeline)
	}), nil)
	p, err := c.GetPipeline(context.Background(), plID)
	require.NoError(t, err)
	assert.Equal(t, "example", p.Name)
	assert.Equal(t, int32(2), n.Load())
}

func TestConnectionRefusedGivesUpWithError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewClient(WithBaseURL(url), WithToken(testToken), WithRetry(fastRetry))
	require.NoError(t, err)
	_, err = c.GetPipeline(context.Background(), plID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempt 3")
	assertNoToken(t, err.Error())
}

func TestSlowBodyStopsAtDeadline(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"7e7e7e7e-0000-4000-8000-000000000007","name":`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.GetPipeline(ctx, plID)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRetryAfterIsWaitedFor(t *testing.T) {
	pipeline := readFixture(t, "pipeline.json")
	var mu sync.Mutex
	var times []time.Time
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		first := len(times) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"id":"rate_limit","message":"Your account reached the API rate limit"}`))
			return
		}
		_, _ = w.Write(pipeline)
	}), nil, WithRetry(RetryPolicy{MaxRetries: 1, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Second}))
	_, err := c.GetPipeline(context.Background(), plID)
	require.NoError(t, err)
	require.Len(t, times, 2)
	// A lower bound only: the client must not come back before the server
	// said it may, however slow the machine is.
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 900*time.Millisecond)
}

func TestBrokenConnectionOnWriteIsNotRetried(t *testing.T) {
	var n atomic.Int32
	c, _ := newSocketClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		_ = conn.Close()
	}), nil)
	_, err := c.MarkProvisioned(context.Background(), addonID)
	require.Error(t, err)
	assert.Equal(t, int32(1), n.Load(), "a POST whose answer was lost is not sent again")
}
