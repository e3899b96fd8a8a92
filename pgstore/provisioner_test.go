package pgstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run herokupartner.Provisioner replicas, each with its own
// pool, on one PostgreSQL job table against the fake Heroku, and count the
// steps in the fake's request log.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type replicaWorld struct {
	fake   *herokupartnertest.Server
	app    uuid.UUID
	opts   []pgstore.Option
	store  *pgstore.Store // for inspecting jobs
	tokens herokupartner.TokenStore
	clock  *clock

	mu    sync.Mutex
	calls map[uuid.UUID]int
	gate  chan struct{}
	inFn  chan uuid.UUID
	logs  bytes.Buffer
}

func newReplicaWorld(t *testing.T) *replicaWorld {
	t.Helper()
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	app := fake.AddApp("acme-web")
	pl := fake.AddPipeline("acme")
	fake.Couple(app.ID, pl.ID, herokupartner.StageProduction)
	s, opts, _ := newJobStore(t, newPool(t, nil, nil), pgstore.WithEncryptionKey(newKey(t)))
	return &replicaWorld{fake: fake, app: app.ID, opts: opts, store: s, tokens: s,
		clock: &clock{t: jt0}, calls: map[uuid.UUID]int{}, inFn: make(chan uuid.UUID, 100)}
}

func (w *replicaWorld) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.Write(b)
}

func (w *replicaWorld) logged(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.logs.String(), s)
}

// replica starts a Provisioner with its own pool and Store; stop stops it
// and waits, crash closes its pool, so that like a killed process it can
// neither claim nor record nor release anything.
func (w *replicaWorld) replica(t *testing.T, owner string, lease time.Duration) (p *herokupartner.Provisioner, stop, crash func()) {
	t.Helper()
	pool := newPool(t, nil, nil)
	s, err := pgstore.New(pool, w.opts...)
	require.NoError(t, err)
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(w.fake.ClientSecret()), TokenURL: w.fake.TokenURL(), Store: s,
	})
	require.NoError(t, err)
	api, err := herokupartner.NewClient(herokupartner.WithBaseURL(w.fake.URL), herokupartner.WithRetry(herokupartner.RetryPolicy{}))
	require.NoError(t, err)
	p, err = herokupartner.NewProvisioner(herokupartner.ProvisionerConfig{
		Tokens: tokens, API: api, Jobs: s, Provision: w.provision, Owner: owner, Lease: lease,
		Now: w.clock.Now, PollInterval: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(w, nil)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return p, stop, pool.Close
}

func (w *replicaWorld) provision(ctx context.Context, req *herokupartner.ProvisionRequest, _ *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
	w.mu.Lock()
	w.calls[req.UUID]++ // counted under mu
	gate := w.gate
	w.mu.Unlock()
	w.inFn <- req.UUID
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return herokupartner.ProvisionResult{}, ctx.Err()
		}
	}
	return herokupartner.ProvisionResult{Config: map[string]string{"ACME_URL": "https://acme.example/r/" + req.UUID.String()}}, nil
}

func (w *replicaWorld) callsFor(id uuid.UUID) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[id]
}

func (w *replicaWorld) setGate(g chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gate = g
}

func (w *replicaWorld) request(t *testing.T) *herokupartner.ProvisionRequest {
	t.Helper()
	addon := w.fake.AddAddon(w.app, "basic")
	code, exp := w.fake.IssueGrant(addon.ID)
	return &herokupartner.ProvisionRequest{UUID: addon.ID, Name: addon.Name, Plan: "basic",
		OAuthGrant: &herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: exp, Type: "authorization_code"}}
}

func (w *replicaWorld) waitState(t *testing.T, id uuid.UUID, state herokupartner.JobState) herokupartner.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := w.store.LoadJob(context.Background(), id)
		if err == nil && j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never reached %s: %v (%v)", id, state, j, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// steps counts, for one add-on, config PATCHes and provision actions.
func (w *replicaWorld) steps(id uuid.UUID) (patches, marks int) {
	for _, r := range w.fake.Requests() {
		if !strings.Contains(r.Path, id.String()) {
			continue
		}
		switch {
		case r.Route == herokupartnertest.RouteConfig && r.Method == http.MethodPatch:
			patches++
		case r.Route == herokupartnertest.RouteProvision:
			marks++
		}
	}
	return patches, marks
}

func (w *replicaWorld) count(route herokupartnertest.Route) int {
	n := 0
	for _, r := range w.fake.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

func TestProvisionerRestartResumesFromPostgres(t *testing.T) {
	w := newReplicaWorld(t)
	w.setGate(make(chan struct{}))
	first, stop, _ := w.replica(t, "first", time.Minute)
	req := w.request(t)
	_, err := first.Provision(context.Background(), req)
	require.NoError(t, err)
	<-w.inFn
	stop() // mid-step

	w.setGate(nil)
	_, _, _ = w.replica(t, "second", time.Minute)
	w.waitState(t, req.UUID, herokupartner.JobProvisioned)
	patches, marks := w.steps(req.UUID)
	assert.Equal(t, [4]int{1, 1, 1, 1}, [4]int{w.count(herokupartnertest.RouteToken), w.count(herokupartnertest.RouteCouplings), patches, marks})
	assert.Equal(t, 2, w.callsFor(req.UUID), "only the step that was cut short ran again")
}

func TestProvisionerCrashedReplicaIsTakenOver(t *testing.T) {
	w := newReplicaWorld(t)
	w.setGate(make(chan struct{}))
	crashed, _, crash := w.replica(t, "crashed", time.Hour)
	req := w.request(t)
	_, err := crashed.Provision(context.Background(), req)
	require.NoError(t, err)
	<-w.inFn
	crash()
	w.setGate(nil)
	_, _, _ = w.replica(t, "survivor", time.Minute)
	w.clock.Advance(2 * time.Hour)
	w.waitState(t, req.UUID, herokupartner.JobProvisioned)
	patches, marks := w.steps(req.UUID)
	assert.Equal(t, [4]int{1, 1, 1, 1}, [4]int{w.count(herokupartnertest.RouteToken), w.count(herokupartnertest.RouteCouplings), patches, marks})
}

func TestProvisionerReplicasShareJobsOnPostgres(t *testing.T) {
	w := newReplicaWorld(t)
	a, _, _ := w.replica(t, "a", time.Minute)
	b, _, _ := w.replica(t, "b", time.Minute)
	var ids []uuid.UUID
	for i := range 16 {
		req := w.request(t)
		ids = append(ids, req.UUID)
		p := a
		if i%2 == 1 {
			p = b
		}
		_, err := p.Provision(context.Background(), req)
		require.NoError(t, err)
	}
	for _, id := range ids {
		w.waitState(t, id, herokupartner.JobProvisioned)
	}
	for _, id := range ids {
		patches, marks := w.steps(id)
		assert.Equal(t, 1, patches, "%s", id)
		assert.Equal(t, 1, marks, "%s", id)
		assert.Equal(t, 1, w.callsFor(id), "%s", id)
	}
	assert.Equal(t, 16, w.count(herokupartnertest.RouteToken))
}

// A deprovisioning received by one replica while another runs the job:
// the other records nothing more and takes no further step.
func TestProvisionerDeprovisionAcrossReplicas(t *testing.T) {
	w := newReplicaWorld(t)
	gate := make(chan struct{})
	w.setGate(gate)
	worker, _, _ := w.replica(t, "worker", time.Minute)
	req := w.request(t)
	_, err := worker.Provision(context.Background(), req)
	require.NoError(t, err)
	<-w.inFn
	// Started only now, so that the job is surely the worker's.
	other, _, _ := w.replica(t, "other", time.Minute)
	require.NoError(t, other.Deprovision(context.Background(), req.UUID))
	close(gate)
	deadline := time.Now().Add(30 * time.Second)
	for !w.logged("result not recorded") {
		require.True(t, time.Now().Before(deadline), "the worker never noticed")
		time.Sleep(2 * time.Millisecond)
	}
	patches, marks := w.steps(req.UUID)
	assert.Zero(t, patches+marks, "no step after the deprovisioning")
	job := w.waitState(t, req.UUID, herokupartner.JobDeprovisioned)
	assert.Empty(t, job.Config, "the cut-short step's result was not recorded")
	_, err = w.tokens.Load(context.Background(), req.UUID)
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)
	_, err = worker.Provision(context.Background(), req)
	assert.ErrorIs(t, err, herokupartner.ErrDeprovisioned)
}
