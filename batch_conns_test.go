package herokupartner_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// TestResolvePipelinesReusesAtMostConcurrencyConnections checks that a
// batch through the SDK's own transport opens no more connections than its
// concurrency and sends every request over them: net/http's default of two
// idle connections per host would close most of them after each answer and
// dial again (heroku-go opens 9 to 16 at concurrency 8).
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
	var dials atomic.Int64
	dialer := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}
	defer tr.CloseIdleConnections()
	base, err := hp.NewClient(hp.WithBaseURL(srv.URL), hp.WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	w := newWorld(t, srv, n, k, base.WithToken)
	srv.ResetRequests()

	for round := range 2 { // the second batch finds the first one's connections idle
		results := base.ResolvePipelines(context.Background(), w.items, hp.BatchConcurrency(conc))
		w.checkResolved(t, results)
		assert.LessOrEqual(t, dials.Load(), int64(conc), "connections opened after batch %d", round+1)
	}
	assert.Len(t, srv.Requests(), 2*(2*n+k), "every request was sent")
	assert.Positive(t, dials.Load())
}
