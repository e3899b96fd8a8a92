package herokupartner_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// TestResolvePipelinesReusesAtMostConcurrencyConnections checks that a
// batch through the SDK's own transport keeps every connection it opens for
// the next request instead of closing it: net/http's default of two idle
// connections per host would close most of them after each answer and dial
// again (heroku-go opens 9 to 16 at concurrency 8).
//
// What the SDK guarantees is at most conc requests, so conc connections in
// use, at once; not at most conc dials. net/http hands a connection back to
// the idle pool from its own goroutine after the body is read, so a
// worker's next request may find the pool empty and dial while its previous
// connection is on its way back. Each worker then briefly has one
// connection in use and one in transit: at most 2*conc are open, and the
// extra ones are kept and reused like the others.
func TestResolvePipelinesReusesAtMostConcurrencyConnections(t *testing.T) {
	const (
		n, k = 120, 6
		conc = 8
	)
	// A little latency keeps conc requests in flight together, so the
	// batch does need conc connections at once.
	srv := herokupartnertest.NewServer(herokupartnertest.WithLatency(2*time.Millisecond), herokupartnertest.WithRateLimit(0, 0))
	defer srv.Close()
	tr := hp.DefaultTransportForTest.Clone()
	var dials, closes atomic.Int64
	dialer := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &closeCountingConn{Conn: c, closes: &closes}, nil
	}
	defer tr.CloseIdleConnections()
	base, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	w := newWorld(t, srv, n, k, base.WithToken)
	srv.ResetRequests()

	for round := range 2 { // the second batch finds the first one's connections idle
		results := base.ResolvePipelines(context.Background(), w.items, hp.BatchConcurrency(conc))
		w.checkResolved(t, results)
		assert.LessOrEqual(t, dials.Load(), int64(2*conc), "connections opened after batch %d", round+1)
	}
	assert.Zero(t, closes.Load(), "connections closed instead of kept for reuse")
	assert.Len(t, srv.Requests(), 2*(2*n+k), "every request was sent")
	assert.Positive(t, dials.Load())
}

// closeCountingConn counts the transport's closes of a connection.
type closeCountingConn struct {
	net.Conn
	closes *atomic.Int64
	once   sync.Once
}

func (c *closeCountingConn) Close() error {
	c.once.Do(func() { c.closes.Add(1) })
	return c.Conn.Close()
}
