package herokupartner_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// testClock is an injected clock that moves only when a test says.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// pworld is a fake Heroku with a coupled add-on, a token manager, and a
// shared job store that provisioners are started on.
type pworld struct {
	fake   *herokupartnertest.Server
	addon  *herokupartner.Addon
	tokens *herokupartner.TokenManager
	api    *herokupartner.Client
	jobs   herokupartner.JobStore
	clock  *testClock

	mu    sync.Mutex
	calls map[uuid.UUID]int // ProvisionFunc calls per resource
	gate  chan struct{}     // when set, ProvisionFunc waits for it to close
	inFn  chan uuid.UUID    // told when ProvisionFunc starts
}

func newPWorld(t *testing.T, jobs herokupartner.JobStore) *pworld {
	t.Helper()
	fake := herokupartnertest.NewServer()
	t.Cleanup(fake.Close)
	app := fake.AddApp("acme-web")
	pl := fake.AddPipeline("acme")
	fake.Couple(app.ID, pl.ID, herokupartner.StageProduction)
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(fake.ClientSecret()), TokenURL: fake.TokenURL(),
	})
	require.NoError(t, err)
	// No client retries: one attempt of a step is one request, so the
	// request log counts attempts.
	api, err := herokupartner.NewClient(herokupartner.WithBaseURL(fake.URL), herokupartner.WithRetry(herokupartner.RetryPolicy{}))
	require.NoError(t, err)
	if jobs == nil {
		jobs = new(herokupartner.MemoryJobStore)
	}
	return &pworld{fake: fake, addon: fake.AddAddon(app.ID, "basic"), tokens: tokens, api: api, jobs: jobs,
		clock: newTestClock(), calls: map[uuid.UUID]int{}, inFn: make(chan uuid.UUID, 100)}
}

func (w *pworld) provisionFunc(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
	w.mu.Lock()
	w.calls[req.UUID]++
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
	return herokupartner.ProvisionResult{
		Config:  map[string]string{"ACME_URL": "https://acme.example/r/" + req.UUID.String() + "?key=sekrit-" + req.UUID.String()[:8]},
		Message: "ready in " + string(res.Stage),
	}, nil
}

func (w *pworld) callsFor(id uuid.UUID) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[id]
}

func (w *pworld) config(mut func(*herokupartner.ProvisionerConfig)) herokupartner.ProvisionerConfig {
	cfg := herokupartner.ProvisionerConfig{
		Tokens: w.tokens, API: w.api, Jobs: w.jobs, Provision: w.provisionFunc,
		Username: "acme", Password: herokupartner.NewSecret("manifest-password"),
		Now: w.clock.Now, PollInterval: 2 * time.Millisecond, Lease: time.Minute,
	}
	if mut != nil {
		mut(&cfg)
	}
	return cfg
}

// start runs a Provisioner until the returned stop is called (or the test
// ends); stop waits for Run to return.
func (w *pworld) start(t *testing.T, mut func(*herokupartner.ProvisionerConfig)) (*herokupartner.Provisioner, func()) {
	t.Helper()
	p, err := herokupartner.NewProvisioner(w.config(mut))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return p, stop
}

// request is the provisioning request Heroku sends for addon, with a
// fresh grant.
func (w *pworld) request(addon *herokupartner.Addon) *herokupartner.ProvisionRequest {
	code, exp := w.fake.IssueGrant(addon.ID)
	return &herokupartner.ProvisionRequest{
		UUID: addon.ID, Name: addon.Name, Plan: "basic", Region: "amazon-web-services::us-east-1",
		CallbackURL: w.fake.URL + "/addons/" + addon.ID.String(),
		OAuthGrant:  &herokupartner.OAuthGrant{Code: herokupartner.NewSecret(code), ExpiresAt: exp, Type: "authorization_code"},
	}
}

// waitJob waits, in real time, until the resource's job satisfies ok.
func (w *pworld) waitJob(t *testing.T, id uuid.UUID, what string, ok func(herokupartner.Job) bool) herokupartner.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := w.jobs.LoadJob(context.Background(), id)
		if err == nil && ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never %s; last: %v (%v)", id, what, j, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *pworld) waitState(t *testing.T, id uuid.UUID, s herokupartner.JobState) herokupartner.Job {
	t.Helper()
	return w.waitJob(t, id, "reached "+string(s), func(j herokupartner.Job) bool { return j.State == s })
}

// count counts the fake's answered requests on route whose path contains
// part ("" for any).
func (w *pworld) count(route herokupartnertest.Route, part string) int {
	n := 0
	for _, r := range w.fake.Requests() {
		if r.Route == route && strings.Contains(r.Path, part) && (route != herokupartnertest.RouteToken || r.Form.Get("grant_type") == "authorization_code") {
			n++
		}
	}
	return n
}

// stepCounts is, for one add-on, the exchanges (all add-ons), couplings
// lookups, config PATCHes and provision actions Heroku saw.
func (w *pworld) stepCounts(id uuid.UUID) [4]int {
	patches := 0
	for _, r := range w.fake.Requests() {
		if r.Route == herokupartnertest.RouteConfig && r.Method == http.MethodPatch && strings.Contains(r.Path, id.String()) {
			patches++
		}
	}
	return [4]int{w.count(herokupartnertest.RouteToken, ""), w.count(herokupartnertest.RouteCouplings, ""),
		patches, w.count(herokupartnertest.RouteProvision, id.String())}
}
