package herokupartner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func provisionBody(t *testing.T, req *herokupartner.ProvisionRequest) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"uuid": req.UUID, "name": req.Name, "plan": req.Plan, "region": req.Region, "callback_url": req.CallbackURL,
		"oauth_grant": map[string]string{"code": req.OAuthGrant.Code.Reveal(), "expires_at": req.OAuthGrant.ExpiresAt.Format("2006-01-02T15:04:05-0700"), "type": "authorization_code"},
	})
	require.NoError(t, err)
	return b
}

// call sends one request to h as Heroku would and returns the status and
// decoded JSON answer.
func call(t *testing.T, h http.Handler, method, path string, body []byte, user, pass string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if w.Body.Len() > 0 {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out), "answers are JSON")
	}
	return w.Code, out
}

func TestProvisionerServesHerokusContract(t *testing.T) {
	w := newPWorld(t, nil)
	p, _ := w.start(t, nil)
	req := w.request(w.addon)
	status, answer := call(t, p, http.MethodPost, "/heroku/resources", provisionBody(t, req), "acme", "manifest-password")
	require.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, w.addon.ID.String(), answer["id"])
	assert.NotEmpty(t, answer["message"])

	job := w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, herokupartner.StepDone, job.Step)
	assert.Nil(t, job.Request.OAuthGrant, "the spent grant code is not kept")
	a, _ := w.fake.Addon(w.addon.ID)
	assert.Equal(t, herokupartner.AddonStateProvisioned, a.State)
	assert.Contains(t, w.fake.AddonConfig(w.addon.ID)["ACME_URL"], "https://acme.example/r/")
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))

	status, answer = call(t, p, http.MethodGet, "/heroku/resources/"+w.addon.ID.String(), nil, "acme", "manifest-password")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "provisioned", answer["state"])
	assert.Equal(t, "acme", answer["pipeline"])
	assert.Equal(t, "ready in production", answer["message"])

	status, answer = call(t, p, http.MethodPut, "/heroku/resources/"+w.addon.ID.String(), []byte(`{"plan":"premium"}`), "acme", "manifest-password")
	assert.Equal(t, http.StatusOK, status)
	assert.NotEmpty(t, answer["message"])
	status, _ = call(t, p, http.MethodPut, "/heroku/resources/"+uuid.NewString(), []byte(`{"plan":"premium"}`), "acme", "manifest-password")
	assert.Equal(t, http.StatusNotFound, status)
}

func TestProvisionerRequiresBasicAuth(t *testing.T) {
	w := newPWorld(t, nil)
	p, _ := w.start(t, nil)
	body := provisionBody(t, w.request(w.addon))
	for _, c := range [][2]string{{"acme", "wrong"}, {"other", "manifest-password"}, {"", ""}, {"acme", "manifest-password2"}, {"acme", "manifest"}} {
		for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodGet} {
			path := "/heroku/resources"
			if m != http.MethodPost {
				path += "/" + w.addon.ID.String()
			}
			status, _ := call(t, p, m, path, body, c[0], c[1])
			assert.Equal(t, http.StatusUnauthorized, status, "%s as %q", m, c[0])
		}
	}
	_, err := w.jobs.LoadJob(context.Background(), w.addon.ID)
	assert.ErrorIs(t, err, herokupartner.ErrJobNotFound, "nothing was recorded")
}

// failingStore refuses to record jobs, like a database that is down.
type failingStore struct{ herokupartner.MemoryJobStore }

func (*failingStore) CreateJob(context.Context, herokupartner.Job) (herokupartner.Job, bool, error) {
	return herokupartner.Job{}, false, errors.New("connection refused")
}

// A request that cannot be recorded gets 503, which makes Heroku retry,
// and nothing else happens.
func TestProvisionerAnswers503WhenItCannotRecord(t *testing.T) {
	w := newPWorld(t, new(failingStore))
	p, _ := w.start(t, nil)
	status, answer := call(t, p, http.MethodPost, "/heroku/resources", provisionBody(t, w.request(w.addon)), "acme", "manifest-password")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.NotEmpty(t, answer["message"])
	assert.Empty(t, w.fake.Requests(), "no step was taken")
}

func TestProvisionerRejectsBadRequests(t *testing.T) {
	w := newPWorld(t, nil)
	p, _ := w.start(t, nil)
	status, answer := call(t, p, http.MethodPost, "/heroku/resources", []byte(`{"uuid":"nope-secret"}`), "acme", "manifest-password")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.NotContains(t, fmt.Sprint(answer), "nope-secret", "the answer names the field, not its value")
	assert.Contains(t, fmt.Sprint(answer), "uuid")
	status, _ = call(t, p, http.MethodPost, "/heroku/resources", []byte(`{"uuid":"`+w.addon.ID.String()+`","oauth_grant":null}`), "acme", "manifest-password")
	assert.Equal(t, http.StatusUnprocessableEntity, status, "no grant, no way to finish")
	_, err := p.Provision(context.Background(), nil)
	assert.ErrorIs(t, err, herokupartner.ErrInvalidProvisionRequest)
	assert.Empty(t, w.fake.Requests())
}

// Heroku delivers at least once: repeated and concurrent deliveries make
// one job and one of each step.
func TestProvisionerRedelivery(t *testing.T) {
	w := newPWorld(t, nil)
	p, _ := w.start(t, nil)
	body := provisionBody(t, w.request(w.addon))
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			status, _ := call(t, p, http.MethodPost, "/heroku/resources", body, "acme", "manifest-password")
			assert.Equal(t, http.StatusAccepted, status)
		})
	}
	wg.Wait()
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	status, answer := call(t, p, http.MethodPost, "/heroku/resources", body, "acme", "manifest-password")
	assert.Equal(t, http.StatusAccepted, status, "a late redelivery")
	assert.Equal(t, w.addon.ID.String(), answer["id"])
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
	assert.Equal(t, 1, w.callsFor(w.addon.ID))
}

// A token stored by an exchange whose record was lost (a crash right
// after Heroku answered) makes the exchange step a no-op: the spent code is
// not sent again, or if it is, its refusal is no failure.
func TestProvisionerSkipsTheExchangeWhenATokenIsStored(t *testing.T) {
	w := newPWorld(t, nil)
	req := w.request(w.addon)
	_, err := w.tokens.Exchange(context.Background(), w.addon.ID.String(), *req.OAuthGrant)
	require.NoError(t, err)
	p, _ := w.start(t, nil)
	_, err = p.Provision(context.Background(), req)
	require.NoError(t, err)
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID), "one exchange: the one before the crash")
}

// A spent code with no stored token cannot ever work: the job fails at
// once and the partner hears why.
func TestProvisionerSpentGrantFailsAtOnce(t *testing.T) {
	w := newPWorld(t, nil)
	var mu sync.Mutex
	var reasons []string
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) {
		c.Failed = func(_ context.Context, req *herokupartner.ProvisionRequest, err error) {
			mu.Lock()
			defer mu.Unlock()
			reasons = append(reasons, req.UUID.String()+" "+err.Error())
		}
	})
	req := w.request(w.addon)
	req.OAuthGrant.Code = herokupartner.NewSecret("not-a-real-code-4711")
	_, err := p.Provision(context.Background(), req)
	require.NoError(t, err)
	job := w.waitState(t, w.addon.ID, herokupartner.JobFailed)
	assert.Equal(t, herokupartner.StepExchange, job.Step)
	assert.Contains(t, job.LastError, "already used")
	assert.NotContains(t, job.LastError, "4711")
	mu.Lock()
	require.Len(t, reasons, 1)
	assert.Contains(t, reasons[0], w.addon.ID.String())
	mu.Unlock()
	status, _ := call(t, p, http.MethodPost, "/heroku/resources", provisionBody(t, req), "acme", "manifest-password")
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a failed job is not restarted by a redelivery")
}

// A restart in the middle of a step (the partner's function here) resumes
// the job on the next instance without repeating any recorded step.
func TestProvisionerRestartResumesWithoutRepeatingSteps(t *testing.T) {
	w := newPWorld(t, nil)
	w.gate = make(chan struct{})
	first, stop := w.start(t, nil)
	_, err := first.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-w.inFn // exchange and resolve are done and recorded
	stop()   // the first instance stops mid-step

	job, err := w.jobs.LoadJob(context.Background(), w.addon.ID)
	require.NoError(t, err)
	assert.Equal(t, herokupartner.StepCreate, job.Step)
	assert.Empty(t, job.LeaseOwner, "a stopping instance hands its jobs back")

	w.mu.Lock()
	w.gate = nil
	w.mu.Unlock()
	w.start(t, nil)
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
	assert.Equal(t, 2, w.callsFor(w.addon.ID), "only the unrecorded step ran again")
}

// deadStore is a replica's view of a shared store that fails once the
// replica "dies": like a killed process, it can then neither claim nor
// record nor release anything.
type deadStore struct {
	herokupartner.JobStore
	dead atomic.Bool
}

var errDead = errors.New("replica is dead")

func (d *deadStore) CreateJob(ctx context.Context, j herokupartner.Job) (herokupartner.Job, bool, error) {
	if d.dead.Load() {
		return herokupartner.Job{}, false, errDead
	}
	return d.JobStore.CreateJob(ctx, j)
}

func (d *deadStore) ClaimJob(ctx context.Context, owner string, now, until time.Time) (herokupartner.Job, bool, error) {
	if d.dead.Load() {
		return herokupartner.Job{}, false, errDead
	}
	return d.JobStore.ClaimJob(ctx, owner, now, until)
}

func (d *deadStore) RenewJob(ctx context.Context, owner string, id uuid.UUID, until time.Time) error {
	if d.dead.Load() {
		return errDead
	}
	return d.JobStore.RenewJob(ctx, owner, id, until)
}

func (d *deadStore) SaveJob(ctx context.Context, owner string, j herokupartner.Job, until time.Time) error {
	if d.dead.Load() {
		return errDead
	}
	return d.JobStore.SaveJob(ctx, owner, j, until)
}

func (d *deadStore) CancelJob(ctx context.Context, id uuid.UUID, now time.Time) (herokupartner.Job, error) {
	if d.dead.Load() {
		return herokupartner.Job{}, errDead
	}
	return d.JobStore.CancelJob(ctx, id, now)
}

// A replica that dies mid-step keeps its lease; once the lease ends
// another replica takes the job over and finishes it.
func TestProvisionerTakesOverACrashedReplicasJob(t *testing.T) {
	w := newPWorld(t, nil)
	w.gate = make(chan struct{})
	view := &deadStore{JobStore: w.jobs}
	crashed, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Owner, c.Lease, c.Jobs = "crashed", time.Hour, view })
	_, err := crashed.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-w.inFn
	view.dead.Store(true)
	w.mu.Lock()
	w.gate = nil
	w.mu.Unlock()

	w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Owner = "survivor" })
	w.clock.Advance(2 * time.Hour) // the crashed replica's lease ends
	job := w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
	assert.Equal(t, 2, w.callsFor(w.addon.ID))
	assert.Empty(t, job.LeaseOwner)
}

// An outage far longer than ten minutes only delays provisioning: steps
// are retried with backoff, by the injected clock, until Heroku recovers.
func TestProvisionerOutlastsALongOutage(t *testing.T) {
	w := newPWorld(t, nil)
	start := w.clock.Now()
	w.fake.Fail(herokupartnertest.RouteCouplings, herokupartnertest.Fault{Times: 14, Status: http.StatusServiceUnavailable})
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.MinBackoff, c.MaxBackoff = time.Second, 5*time.Minute })
	_, err := p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	for attempt := 1; attempt <= 14; attempt++ {
		job := w.waitJob(t, w.addon.ID, fmt.Sprintf("failed %d times", attempt), func(j herokupartner.Job) bool { return j.Attempts == attempt })
		assert.Equal(t, herokupartner.StepResolve, job.Step)
		assert.Contains(t, job.LastError, "503")
		w.clock.Set(job.NextAttempt)
	}
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Greater(t, w.clock.Now().Sub(start), 30*time.Minute, "the outage outlasted 30 minutes")
	assert.Equal(t, [4]int{1, 15, 1, 1}, w.stepCounts(w.addon.ID))
}

// An outage that outlasts Heroku's 12 hours ends the job failed, keeps
// the record, and tells the partner's Failed function why.
func TestProvisionerGivesUpAtHerokusDeadline(t *testing.T) {
	w := newPWorld(t, nil)
	start := w.clock.Now()
	w.fake.Fail(herokupartnertest.RouteProvision, herokupartnertest.Fault{Times: 1 << 20, Status: http.StatusServiceUnavailable})
	failed := make(chan string, 1)
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) {
		c.MaxBackoff = time.Hour
		c.Failed = func(_ context.Context, _ *herokupartner.ProvisionRequest, err error) { failed <- err.Error() }
	})
	_, err := p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	for attempt := 1; ; attempt++ {
		job := w.waitJob(t, w.addon.ID, "failed again", func(j herokupartner.Job) bool {
			return j.Attempts == attempt || j.State == herokupartner.JobFailed
		})
		if job.State == herokupartner.JobFailed {
			break
		}
		w.clock.Set(job.NextAttempt)
	}
	reason := <-failed
	assert.Contains(t, reason, "12h0m0s deadline")
	assert.Contains(t, reason, "503")
	st, err := p.Status(context.Background(), w.addon.ID)
	require.NoError(t, err)
	assert.Equal(t, herokupartner.JobFailed, st.State)
	assert.Equal(t, herokupartner.StepMark, st.Step)
	assert.Equal(t, "acme", st.Pipeline, "what succeeded is kept")
	elapsed := w.clock.Now().Sub(start)
	assert.Greater(t, elapsed, 10*time.Hour)
	assert.Less(t, elapsed, 12*time.Hour)
}

// A deprovisioning in the middle of a job stops it: no step after it, the
// token forgotten, and a redelivery does not bring the job back.
func TestProvisionerDeprovisionMidJob(t *testing.T) {
	w := newPWorld(t, nil)
	w.gate = make(chan struct{})
	p, _ := w.start(t, nil)
	req := w.request(w.addon)
	_, err := p.Provision(context.Background(), req)
	require.NoError(t, err)
	<-w.inFn
	status, _ := call(t, p, http.MethodDelete, "/heroku/resources/"+w.addon.ID.String(), nil, "acme", "manifest-password")
	require.Equal(t, http.StatusOK, status)
	seen := len(w.fake.Requests())
	close(w.gate)

	status, _ = call(t, p, http.MethodPost, "/heroku/resources", provisionBody(t, req), "acme", "manifest-password")
	assert.Equal(t, http.StatusGone, status, "a redelivery does not resurrect it")
	status, _ = call(t, p, http.MethodDelete, "/heroku/resources/"+w.addon.ID.String(), nil, "acme", "manifest-password")
	assert.Equal(t, http.StatusOK, status, "deprovisioning is idempotent")
	w.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond) // give a wrongly revived job the chance to show itself
	assert.Len(t, w.fake.Requests(), seen, "no step after the deprovisioning")
	job, err := w.jobs.LoadJob(context.Background(), w.addon.ID)
	require.NoError(t, err)
	assert.Equal(t, herokupartner.JobDeprovisioned, job.State)
	_, err = w.tokens.Token(context.Background(), w.addon.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound)
	a, _ := w.fake.Addon(w.addon.ID)
	assert.NotEqual(t, herokupartner.AddonStateProvisioned, a.State)

	status, _ = call(t, p, http.MethodDelete, "/heroku/resources/"+uuid.NewString(), nil, "acme", "manifest-password")
	assert.Equal(t, http.StatusOK, status, "an unknown resource deprovisions fine")
}

// gatedTransport holds token requests until release is closed.
type gatedTransport struct {
	arrived chan struct{}
	release chan struct{}
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	<-g.release
	return http.DefaultTransport.RoundTrip(r)
}

// A deprovisioning during the grant exchange waits for it, and the token
// it yields is not left behind.
func TestProvisionerDeprovisionDuringTheExchange(t *testing.T) {
	w := newPWorld(t, nil)
	gate := &gatedTransport{arrived: make(chan struct{}, 4), release: make(chan struct{})}
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(w.fake.ClientSecret()), TokenURL: w.fake.TokenURL(),
		HTTPClient: &http.Client{Transport: gate},
	})
	require.NoError(t, err)
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Tokens = tokens })
	_, err = p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-gate.arrived
	done := make(chan error, 1)
	go func() { done <- p.Deprovision(context.Background(), w.addon.ID) }()
	w.waitState(t, w.addon.ID, herokupartner.JobDeprovisioned)
	close(gate.release)
	require.NoError(t, <-done)
	_, err = tokens.Token(context.Background(), w.addon.ID.String())
	assert.ErrorIs(t, err, herokupartner.ErrTokenNotFound, "the exchanged token is forgotten")
	assert.Zero(t, w.count(herokupartnertest.RouteCouplings, ""), "no step after the exchange")
	assert.Zero(t, w.callsFor(w.addon.ID))
}

// Two replicas sharing a store split the jobs and never run one twice.
func TestProvisionerReplicasNeverRunAJobTwice(t *testing.T) {
	w := newPWorld(t, nil)
	a, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Owner = "a" })
	b, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Owner = "b" })
	app := w.addon.App.ID
	var ids []uuid.UUID
	for i := range 20 {
		addon := w.fake.AddAddon(app, "basic")
		ids = append(ids, addon.ID)
		p := a
		if i%2 == 1 {
			p = b
		}
		_, err := p.Provision(context.Background(), w.request(addon))
		require.NoError(t, err)
	}
	for _, id := range ids {
		w.waitState(t, id, herokupartner.JobProvisioned)
	}
	for _, id := range ids {
		c := w.stepCounts(id)
		assert.Equal(t, 1, c[2], "one config PATCH for %s", id)
		assert.Equal(t, 1, c[3], "one provision action for %s", id)
		assert.Equal(t, 1, w.callsFor(id))
	}
	assert.Equal(t, 20, w.count(herokupartnertest.RouteToken, ""), "one exchange each")
	assert.Equal(t, 20, w.count(herokupartnertest.RouteCouplings, ""), "one resolution each")
}

// Nothing the provisioner logs, records or reports holds a secret.
func TestProvisionerLeaksNoSecret(t *testing.T) {
	w := newPWorld(t, nil)
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.fake.Fail(herokupartnertest.RouteConfig, herokupartnertest.Fault{Times: 1, Status: http.StatusServiceUnavailable})
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Logger = logger })
	req := w.request(w.addon)
	code := req.OAuthGrant.Code.Reveal()
	_, err := p.Provision(context.Background(), req)
	require.NoError(t, err)
	job := w.waitJob(t, w.addon.ID, "retried", func(j herokupartner.Job) bool { return j.Attempts == 1 })
	w.clock.Set(job.NextAttempt)
	job = w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	status, _ := call(t, p, http.MethodGet, "/heroku/resources/"+w.addon.ID.String(), nil, "acme", "manifest-password")
	require.Equal(t, http.StatusOK, status)
	st, _ := json.Marshal(job.Status())
	configValue := w.fake.AddonConfig(w.addon.ID)["ACME_URL"]
	mu.Lock()
	defer mu.Unlock()
	for _, out := range []string{logs.String(), fmt.Sprintf("%v %+v %#v", job, job, job), string(st)} {
		assert.NotContains(t, out, code)
		assert.NotContains(t, out, configValue)
		assert.NotContains(t, out, "sekrit")
	}
	assert.Contains(t, logs.String(), "will retry")
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestNewProvisionerChecksItsConfig(t *testing.T) {
	w := newPWorld(t, nil)
	for name, mut := range map[string]func(*herokupartner.ProvisionerConfig){
		"Tokens":    func(c *herokupartner.ProvisionerConfig) { c.Tokens = nil },
		"API":       func(c *herokupartner.ProvisionerConfig) { c.API = nil },
		"Provision": func(c *herokupartner.ProvisionerConfig) { c.Provision = nil },
		"negative":  func(c *herokupartner.ProvisionerConfig) { c.Lease = -time.Second },
		"Lease":     func(c *herokupartner.ProvisionerConfig) { c.Lease = time.Millisecond },
	} {
		_, err := herokupartner.NewProvisioner(w.config(mut))
		assert.ErrorContains(t, err, name)
	}
}

// A replica whose own lease lapsed while its worker still runs (renewals
// failed, or the clock jumped) claims the job again but does not start a
// second worker beside the first.
func TestProvisionerNeverRunsAJobTwiceInOneProcess(t *testing.T) {
	w := newPWorld(t, nil)
	gate := make(chan struct{})
	w.gate = gate
	p, _ := w.start(t, nil)
	_, err := p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-w.inFn
	w.clock.Advance(2 * time.Hour)
	w.waitJob(t, w.addon.ID, "claimed again", func(j herokupartner.Job) bool { return j.LeaseUntil.After(w.clock.Now()) })
	close(gate)
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, 1, w.callsFor(w.addon.ID))
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
}

// flakyTokenStore fails its first Load, like a database blip.
type flakyTokenStore struct {
	herokupartner.MemoryTokenStore
	failed atomic.Bool
}

func (f *flakyTokenStore) Load(ctx context.Context, id uuid.UUID) (herokupartner.Token, error) {
	if f.failed.CompareAndSwap(false, true) {
		return herokupartner.Token{}, errors.New("connection reset")
	}
	return f.MemoryTokenStore.Load(ctx, id)
}

// When the stored token cannot be seen at first, the spent code is sent
// again; Heroku's "already used" refusal while a valid token is stored is
// no failure.
func TestProvisionerCodeAlreadyUsedWithATokenStoredIsNoFailure(t *testing.T) {
	w := newPWorld(t, nil)
	store := new(flakyTokenStore)
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(w.fake.ClientSecret()), TokenURL: w.fake.TokenURL(), Store: store,
	})
	require.NoError(t, err)
	req := w.request(w.addon)
	_, err = tokens.Exchange(context.Background(), w.addon.ID.String(), *req.OAuthGrant)
	require.NoError(t, err)
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Tokens = tokens })
	_, err = p.Provision(context.Background(), req)
	require.NoError(t, err)
	job := w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Zero(t, job.Attempts)
	assert.Equal(t, 2, w.count(herokupartnertest.RouteToken, ""), "the code went out twice")
	assert.Equal(t, 1, w.count(herokupartnertest.RouteProvision, ""))
	var refused int
	for _, r := range w.fake.Requests() {
		if r.Route == herokupartnertest.RouteToken && r.Status == http.StatusUnauthorized {
			refused++
		}
	}
	assert.Equal(t, 1, refused, "and was refused the second time")
}
