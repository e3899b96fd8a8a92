package herokupartner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ProvisioningDeadline is how long Heroku waits, from the provisioning
// request, for an asynchronously provisioned add-on to be marked
// provisioned before it removes the add-on.
const ProvisioningDeadline = 12 * time.Hour

// Defaults of ProvisionerConfig.
const (
	DefaultLease        = 15 * time.Second
	DefaultPollInterval = time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultStepTimeout  = time.Minute
	DefaultWorkers      = 4
)

// ErrDeprovisioned is matched by Provision's error when the resource was
// deprovisioned: a late or repeated provisioning request must not bring it
// back.
var ErrDeprovisioned = errors.New("herokupartner: resource was deprovisioned")

// ProvisionFunc is the partner's own provisioning: it creates the resource
// for the add-on described by req, whose app and pipeline res describes,
// and returns the config vars to set. It may run again for the same
// resource (after a crash before its result was recorded, or a retry), so
// it must be idempotent, keyed by req.UUID.
type ProvisionFunc func(ctx context.Context, req *ProvisionRequest, res *Resolution) (ProvisionResult, error)

// ProvisionResult is what a ProvisionFunc returns.
type ProvisionResult struct {
	// Config holds the config vars to set on the app, by name; each name
	// must be in the add-on manifest's config_vars.
	Config map[string]string
	// Message, optional, is kept in the job's status.
	Message string
}

// ProvisionerConfig configures NewProvisioner.
type ProvisionerConfig struct {
	// Tokens exchanges grant codes and keeps each resource's tokens.
	// Required.
	Tokens *TokenManager
	// API is the Platform API client; ForResource derives one per
	// resource. Required.
	API *Client
	// Jobs keeps the jobs; nil means a new MemoryJobStore, which loses them
	// when the process exits.
	Jobs JobStore
	// Provision is the partner's provisioning function. Required.
	Provision ProvisionFunc
	// Failed, optional, learns of each job that ended failed and why: a
	// permanent refusal, or Heroku's 12 hour deadline drawing near.
	Failed func(ctx context.Context, req *ProvisionRequest, err error)
	// ChangePlan, optional, serves Heroku's plan change (PUT); its Config
	// is returned to Heroku. Without it plan changes are accepted as they
	// are.
	ChangePlan func(ctx context.Context, resource uuid.UUID, plan string) (ProvisionResult, error)
	// Username and Password are the Basic credentials Heroku sends: the
	// manifest's id and api.password. Required by ServeHTTP.
	Username string
	Password Secret
	// Path is where ServeHTTP expects Heroku's requests: the path of the
	// manifest's base_url. Default "/heroku/resources".
	Path string
	// Owner names this replica in leases; default a random name. Two
	// running replicas must never share one.
	Owner string
	// Lease is how long a claimed job stays with this replica without a
	// renewal; a crashed replica's jobs are taken over after it. Default
	// DefaultLease.
	Lease time.Duration
	// PollInterval is how often the store is asked for due jobs. Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed step is
	// tried again; it doubles from one to the other. Defaults
	// DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// StepTimeout bounds one attempt at a step. Default DefaultStepTimeout.
	StepTimeout time.Duration
	// Workers bounds the jobs this replica works on at once. Default
	// DefaultWorkers.
	Workers int
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
	// Logger receives a line per step failure and job end, never a secret;
	// nil logs nothing.
	Logger *slog.Logger
}

// Provisioner runs Heroku's asynchronous provisioning durably: each
// request becomes a job in a JobStore before Heroku is answered, and its
// steps (grant exchange, pipeline resolution, the partner's ProvisionFunc,
// config, marking provisioned) are recorded one by one, so that a restart
// resumes each job where it stopped and replicas sharing the store never
// run one job twice. Call Run to work on the jobs; serve Heroku's requests
// with ServeHTTP, or call Provision, Deprovision and Status from your own
// handlers.
type Provisioner struct {
	cfg   ProvisionerConfig
	wake  chan struct{}
	slots chan struct{}

	mu      sync.Mutex
	running map[uuid.UUID]*runningJob
}

type runningJob struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// NewProvisioner checks cfg and returns a Provisioner.
func NewProvisioner(cfg ProvisionerConfig) (*Provisioner, error) {
	switch {
	case cfg.Tokens == nil:
		return nil, errors.New("herokupartner: NewProvisioner: nil Tokens")
	case cfg.API == nil:
		return nil, errors.New("herokupartner: NewProvisioner: nil API")
	case cfg.Provision == nil:
		return nil, errors.New("herokupartner: NewProvisioner: nil Provision")
	case cfg.Lease < 0 || cfg.PollInterval < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.StepTimeout < 0 || cfg.Workers < 0:
		return nil, errors.New("herokupartner: NewProvisioner: negative duration or worker count")
	}
	if cfg.Jobs == nil {
		cfg.Jobs = new(MemoryJobStore)
	}
	if cfg.Path == "" {
		cfg.Path = "/heroku/resources"
	}
	if cfg.Owner == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		cfg.Owner = "replica-" + hex.EncodeToString(b)
	}
	setDefault(&cfg.Lease, DefaultLease)
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	setDefault(&cfg.MinBackoff, DefaultMinBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	setDefault(&cfg.StepTimeout, DefaultStepTimeout)
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Lease < time.Second {
		// The lease is renewed every third of it; shorter ones would be
		// renewed faster than a store round trip.
		return nil, fmt.Errorf("herokupartner: NewProvisioner: Lease %s is below one second", cfg.Lease)
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Provisioner{
		cfg: cfg, wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Workers),
		running: make(map[uuid.UUID]*runningJob),
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Provision records the request as a job, unless its resource already has
// one, and returns the job's status; the job runs once Run picks it up.
// Answer Heroku 202 only after it returns without error: an error means
// nothing was recorded, and Heroku should be asked to send the request
// again (ServeHTTP answers 503). A repeated request for a resource
// returns the existing job's status and changes nothing; one for a
// deprovisioned resource returns an error matching ErrDeprovisioned.
func (p *Provisioner) Provision(ctx context.Context, req *ProvisionRequest) (JobStatus, error) {
	if req == nil || req.UUID == uuid.Nil {
		return JobStatus{}, fmt.Errorf("%w: uuid: missing", ErrInvalidProvisionRequest)
	}
	if req.OAuthGrant == nil || req.OAuthGrant.Code.IsZero() {
		// Without a grant there is no token, so the add-on could never be
		// marked provisioned.
		return JobStatus{}, fmt.Errorf("%w: oauth_grant: missing", ErrInvalidProvisionRequest)
	}
	if ctx == nil {
		return JobStatus{}, errors.New("herokupartner: Provision: nil context")
	}
	now := p.cfg.Now()
	job := Job{Request: *req, State: JobProvisioning, Step: StepExchange, NextAttempt: now, Received: now, Updated: now}
	stored, created, err := p.cfg.Jobs.CreateJob(ctx, job)
	if err != nil {
		return JobStatus{}, fmt.Errorf("herokupartner: resource %s: recording the provisioning job: %w", req.UUID, err)
	}
	if stored.State == JobDeprovisioned {
		return stored.Status(), fmt.Errorf("%w: resource %s", ErrDeprovisioned, req.UUID)
	}
	if created {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "herokupartner provisioning job recorded", slog.String("resource", req.UUID.String()))
		p.poke()
	}
	return stored.Status(), nil
}

// poke wakes Run without blocking.
func (p *Provisioner) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Deprovision ends the resource's job for good: it is recorded as
// deprovisioned (so that no replica takes another step and a repeated
// provisioning request does not revive it), a step running here is
// cancelled and waited for, and the resource's token is forgotten. It is
// idempotent. On another replica a step already sent when Deprovision
// records the end may still complete; none starts after it notices.
func (p *Provisioner) Deprovision(ctx context.Context, resource uuid.UUID) error {
	if err := checkJobArgs(ctx, resource); err != nil {
		return fmt.Errorf("herokupartner: Deprovision: %w", err)
	}
	if _, err := p.cfg.Jobs.CancelJob(ctx, resource, p.cfg.Now()); err != nil {
		return fmt.Errorf("herokupartner: resource %s: recording the deprovisioning: %w", resource, err)
	}
	p.mu.Lock()
	r := p.running[resource]
	p.mu.Unlock()
	if r != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("herokupartner: resource %s: waiting for the running step to stop: %w", resource, ctx.Err())
		}
	}
	// After the job has stopped, so that an exchange finishing meanwhile
	// cannot store a token after it was forgotten.
	return p.cfg.Tokens.Forget(ctx, resource.String())
}

// Status returns the status of the resource's job, or an error matching
// ErrJobNotFound.
func (p *Provisioner) Status(ctx context.Context, resource uuid.UUID) (JobStatus, error) {
	j, err := p.cfg.Jobs.LoadJob(ctx, resource)
	if err != nil {
		return JobStatus{}, err
	}
	return j.Status(), nil
}

// Run works on the store's due jobs, this replica's share of them, until
// ctx ends: on start it resumes unfinished jobs (those another replica
// holds once their lease ends), then it picks up new and retried jobs as
// they fall due. When ctx ends it cancels the steps in flight, releases
// their jobs unrecorded so that another replica or the next start resumes
// them at once, and returns ctx's error. Run one per process.
func (p *Provisioner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		p.claimDue(ctx, &wg)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-p.wake:
		}
	}
}

// claimDue claims due jobs while workers are free and starts each.
func (p *Provisioner) claimDue(ctx context.Context, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		select {
		case p.slots <- struct{}{}:
		default:
			return // every worker is busy; a finishing one pokes
		}
		now := p.cfg.Now()
		// The claim is not abandoned when ctx ends: a store may grant it
		// after the caller stopped listening (PostgreSQL runs a statement
		// already sent), and a lease granted unseen is worked on by no one
		// and handed back by no one until it ends.
		cctx, cancelClaim := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		job, ok, err := p.cfg.Jobs.ClaimJob(cctx, p.cfg.Owner, now, now.Add(p.cfg.Lease))
		cancelClaim()
		if err != nil || !ok {
			<-p.slots
			if err != nil && ctx.Err() == nil {
				p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "herokupartner claiming provisioning jobs failed", slog.String("error", err.Error()))
			}
			return
		}
		id := job.Resource()
		jctx, cancel := context.WithCancel(ctx)
		r := &runningJob{cancel: cancel, done: make(chan struct{})}
		p.mu.Lock()
		prev := p.running[id]
		if prev != nil {
			// Cancelling the hand-back cancels the worker it waits for.
			r.cancel = prev.cancel
		}
		p.running[id] = r
		p.mu.Unlock()
		if prev != nil || ctx.Err() != nil {
			// Run is stopping, or a worker here still holds the job: our own
			// lease ran out while it runs (renewals failed), or it is just
			// ending (its release came before this claim). That worker goes
			// on alone, and the claimed lease is handed back after it.
			cancel()
			<-p.slots
			wg.Go(func() {
				defer p.finished(id, r)
				p.handBack(job, prev)
			})
			continue
		}
		wg.Go(func() {
			defer func() {
				p.finished(id, r)
				cancel()
				<-p.slots
				p.poke()
			}()
			p.work(jctx, ctx, job)
		})
	}
}
