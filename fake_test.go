package herokupartner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the client against the fake Platform API over a real
// socket, for the behaviours that depend on what a server sends.

type socketWorld struct {
	fake               *herokupartnertest.Server
	coupled, uncoupled *herokupartner.Addon
	pipeline           *herokupartner.Pipeline
}

func newSocketWorld(t *testing.T, opts ...herokupartnertest.Option) socketWorld {
	t.Helper()
	fake := herokupartnertest.NewServer(opts...)
	t.Cleanup(fake.Close)
	web, lone := fake.AddApp("acme-web"), fake.AddApp("acme-lone")
	p := fake.AddPipeline("acme-shop")
	fake.Couple(web.ID, p.ID, herokupartner.StageReview)
	return socketWorld{fake: fake, coupled: fake.AddAddon(web.ID, "basic"), uncoupled: fake.AddAddon(lone.ID, "basic"), pipeline: p}
}

func (w socketWorld) client(a *herokupartner.Addon) *herokupartner.Client {
	return w.fake.Client(w.fake.IssueToken(a.ID))
}

func routeCount(reqs []herokupartnertest.Request, r herokupartnertest.Route) int {
	n := 0
	for _, q := range reqs {
		if q.Route == r {
			n++
		}
	}
	return n
}

func TestFakeBothCouplingShapes(t *testing.T) {
	for name, opts := range map[string][]herokupartnertest.Option{
		"object, 404 when uncoupled": {herokupartnertest.WithCouplingsShape(herokupartnertest.CouplingsObject)},
		"array":                      {herokupartnertest.WithCouplingsShape(herokupartnertest.CouplingsArray)},
		"array with pipeline name":   {herokupartnertest.WithCouplingsShape(herokupartnertest.CouplingsArray), herokupartnertest.WithPipelineNameInCoupling(true)},
	} {
		t.Run(name, func(t *testing.T) {
			w := newSocketWorld(t, opts...)
			ctx := context.Background()
			res, err := w.client(w.coupled).ResolvePipeline(ctx, w.coupled.ID.String())
			require.NoError(t, err)
			assert.True(t, res.InPipeline())
			assert.Equal(t, herokupartner.StageReview, res.Stage)
			assert.Equal(t, "acme-shop", res.Pipeline.Name)
			assert.Equal(t, w.pipeline.ID, res.Coupling.Pipeline.ID)

			res, err = w.client(w.uncoupled).ResolvePipeline(ctx, w.uncoupled.ID.String())
			require.NoError(t, err)
			assert.False(t, res.InPipeline())
			assert.Equal(t, "acme-lone", res.App.Name)
			assert.Equal(t, 2, routeCount(w.fake.Requests(), herokupartnertest.RouteCouplings), "one couplings call per resolution")
		})
	}
}

func TestFakeRetriesAndRetryAfter(t *testing.T) {
	w := newSocketWorld(t)
	w.fake.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Times: 2, Status: 503})
	w.fake.Fail(herokupartnertest.RoutePipeline, herokupartnertest.Fault{Times: 1, Status: 429, RetryAfter: "0"})
	w.fake.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Times: 1, Kind: herokupartnertest.FaultDisconnect})
	res, err := w.client(w.coupled).ResolvePipeline(context.Background(), w.coupled.ID.String())
	require.NoError(t, err)
	assert.Equal(t, "acme-shop", res.Pipeline.Name)
	reqs := w.fake.Requests()
	assert.Equal(t, 2, routeCount(reqs, herokupartnertest.RouteAddon))
	assert.Equal(t, 3, routeCount(reqs, herokupartnertest.RouteCouplings))
	assert.Equal(t, 2, routeCount(reqs, herokupartnertest.RoutePipeline))
}

func TestFakeHTMLAndTruncatedAnswers(t *testing.T) {
	w := newSocketWorld(t)
	c, err := herokupartner.NewClient(herokupartner.WithBaseURL(w.fake.URL), herokupartner.WithRetry(herokupartner.RetryPolicy{}),
		herokupartner.WithToken(w.fake.IssueToken(w.coupled.ID)))
	require.NoError(t, err)
	w.fake.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Kind: herokupartnertest.FaultHTML, Status: 502})
	_, err = c.GetAddon(context.Background(), w.coupled.ID.String())
	var apiErr *herokupartner.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.StatusCode)
	assert.NotEmpty(t, apiErr.Body)
	assert.NotEmpty(t, apiErr.RequestID)

	w.fake.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Kind: herokupartnertest.FaultTruncated})
	_, err = c.GetAddon(context.Background(), w.coupled.ID.String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decoding")
}

func TestFakeRateLimitHeader(t *testing.T) {
	w := newSocketWorld(t, herokupartnertest.WithRateLimit(50, 0.001))
	c := w.client(w.coupled)
	_, known := c.RateLimitRemaining()
	assert.False(t, known)
	_, err := c.GetAddon(context.Background(), w.coupled.ID.String())
	require.NoError(t, err)
	first, known := c.RateLimitRemaining()
	require.True(t, known)
	_, err = c.GetAddon(context.Background(), w.coupled.ID.String())
	require.NoError(t, err)
	second, _ := c.RateLimitRemaining()
	assert.Less(t, second, first, "each request spends from the bucket")
	assert.Less(t, first, 50)
}

func TestFakeTokenScoping(t *testing.T) {
	w := newSocketWorld(t)
	ctx := context.Background()
	// A resource's token reaches its own add-on, app and pipeline only.
	_, err := w.client(w.uncoupled).GetAddon(ctx, w.coupled.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrForbidden)
	_, err = w.client(w.uncoupled).GetPipeline(ctx, w.pipeline.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrForbidden)
	_, err = w.fake.Client("HRKU-not-a-real-token").ResolvePipeline(ctx, w.coupled.ID.String())
	var rerr *herokupartner.ResolveError
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, herokupartner.StepAddon, rerr.Step)
	assert.ErrorIs(t, err, herokupartner.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "HRKU-")
	_, err = w.client(w.coupled).GetAddon(ctx, uuid.NewString())
	assert.True(t, errors.Is(err, herokupartner.ErrNotFound) || errors.Is(err, herokupartner.ErrForbidden), "an unknown add-on is refused")
}

func TestFakeDeadlineStopsSlowServer(t *testing.T) {
	// The server holds the add-on request for an hour; the call ends
	// with the caller's deadline, as a *ResolveError naming the step.
	w := newSocketWorld(t)
	reached := make(chan struct{})
	w.fake.Fail(herokupartnertest.RouteAddon, herokupartnertest.Fault{Latency: time.Hour, Reached: reached})
	// The deadline passes once the request is at the slow server, not
	// after a time a loaded machine may not have sent it in.
	_, err := w.client(w.coupled).ResolvePipeline(deadlineAt(reached), w.coupled.ID.String())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var rerr *herokupartner.ResolveError
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, herokupartner.StepAddon, rerr.Step)
}

// deadlineAt returns a context whose deadline passes when ev is closed: a
// deadline tied to an event rather than to the wall clock.
func deadlineAt(ev <-chan struct{}) context.Context {
	return eventDeadline{Context: context.Background(), ev: ev}
}

type eventDeadline struct {
	context.Context
	ev <-chan struct{}
}

func (c eventDeadline) Done() <-chan struct{} { return c.ev }

func (c eventDeadline) Err() error {
	select {
	case <-c.ev:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
