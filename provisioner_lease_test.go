package herokupartner_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaseStore is a MemoryJobStore that lets a test hold a claim or a lease
// release at the moment a race needs.
type leaseStore struct {
	herokupartner.MemoryJobStore

	mu          sync.Mutex
	holdClaim   chan struct{} // when set, ClaimJob waits for it to close
	holdRelease chan struct{} // when set, a releasing SaveJob waits for it after saving
	waiting     chan string   // told "claim" or "release" when one waits
	claimed     chan struct{} // told when a claim is granted
}

func newLeaseStore() *leaseStore {
	return &leaseStore{waiting: make(chan string, 10), claimed: make(chan struct{}, 100)}
}

func (s *leaseStore) hold(claim, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdClaim, s.holdRelease = claim, release
}

// ClaimJob, like PostgreSQL running a statement already sent, grants the
// claim even when the caller's ctx ended meanwhile, and then reports the
// ended ctx: the caller never sees the lease it was given.
func (s *leaseStore) ClaimJob(ctx context.Context, owner string, now, until time.Time) (herokupartner.Job, bool, error) {
	s.mu.Lock()
	hold := s.holdClaim
	s.mu.Unlock()
	if hold != nil {
		s.waiting <- "claim"
		<-hold
	}
	j, ok, err := s.MemoryJobStore.ClaimJob(context.Background(), owner, now, until)
	if ok {
		s.claimed <- struct{}{}
	}
	if err == nil && ctx.Err() != nil {
		return herokupartner.Job{}, false, ctx.Err()
	}
	return j, ok, err
}

func (s *leaseStore) SaveJob(ctx context.Context, owner string, job herokupartner.Job, until time.Time) error {
	err := s.MemoryJobStore.SaveJob(ctx, owner, job, until)
	s.mu.Lock()
	hold := s.holdRelease
	s.mu.Unlock()
	if hold != nil && until.IsZero() {
		s.waiting <- "release"
		<-hold
	}
	return err
}

// A claim sent just before Run stops and granted after the stopping worker
// handed its job back is handed back too, so that another replica resumes
// the job at once rather than after the lease.
func TestProvisionerHandsBackAClaimGrantedWhileStopping(t *testing.T) {
	store := newLeaseStore()
	w := newPWorld(t, store)
	w.gate = make(chan struct{})
	p, err := herokupartner.NewProvisioner(w.config(func(c *herokupartner.ProvisionerConfig) { c.Owner = "first" }))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	_, err = p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-w.inFn

	claim := make(chan struct{})
	store.hold(claim, nil)
	require.Equal(t, "claim", <-store.waiting) // Run's next poll is in flight
	cancel()
	w.waitJob(t, w.addon.ID, "handed back by the stopping worker", func(j herokupartner.Job) bool { return j.LeaseOwner == "" })
	store.hold(nil, nil)
	close(claim) // the store grants the claim now
	<-done

	j, err := store.LoadJob(context.Background(), w.addon.ID)
	require.NoError(t, err)
	assert.Empty(t, j.LeaseOwner, "the lease granted while Run stopped was handed back")
	assert.True(t, j.LeaseUntil.IsZero())

	w.mu.Lock()
	w.gate = nil
	w.mu.Unlock()
	w.start(t, func(c *herokupartner.ProvisionerConfig) { c.Owner = "second" }) // the clock has not moved
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	assert.Equal(t, 2, w.callsFor(w.addon.ID))
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
}

// A claim granted while the worker that held the job here is just ending
// (its release came first) is handed back once that worker has stopped,
// rather than left for the lease to end.
func TestProvisionerHandsBackAClaimOfAnEndingWorkersJob(t *testing.T) {
	store := newLeaseStore()
	w := newPWorld(t, store)
	var mu sync.Mutex
	attempts := 0
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) {
		c.Provision = func(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			mu.Lock()
			attempts++
			n := attempts
			mu.Unlock()
			if n == 1 {
				return herokupartner.ProvisionResult{}, errors.New("acme is down")
			}
			return w.provisionFunc(ctx, req, res)
		}
	})
	release := make(chan struct{})
	store.hold(nil, release)
	_, err := p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	<-store.claimed
	require.Equal(t, "release", <-store.waiting) // the failed attempt is recorded, the worker not yet gone
	store.hold(nil, nil)
	w.clock.Advance(herokupartner.DefaultMinBackoff) // the retry falls due
	<-store.claimed                                  // and is claimed while the worker is still here
	close(release)

	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)
	mu.Lock()
	assert.Equal(t, 2, attempts)
	mu.Unlock()
	assert.Equal(t, [4]int{1, 1, 1, 1}, w.stepCounts(w.addon.ID))
}

// deadlineStore records, per step recorded, the deadline of SaveJob's
// context.
type deadlineStore struct {
	herokupartner.MemoryJobStore

	mu    sync.Mutex
	saves map[herokupartner.JobStep]time.Time
}

func (s *deadlineStore) SaveJob(ctx context.Context, owner string, job herokupartner.Job, until time.Time) error {
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.saves[job.Step] = d
	s.mu.Unlock()
	return s.MemoryJobStore.SaveJob(ctx, owner, job, until)
}

// The record of a step gets the whole store bound from the step's end,
// however long the job has run: a ProvisionFunc slower than the bound
// must not find its result unrecordable.
func TestProvisionerBoundsEachRecordFromItsStart(t *testing.T) {
	store := &deadlineStore{saves: map[herokupartner.JobStep]time.Time{}}
	w := newPWorld(t, store)
	var mu sync.Mutex
	var returned time.Time
	p, _ := w.start(t, func(c *herokupartner.ProvisionerConfig) {
		c.Provision = func(ctx context.Context, req *herokupartner.ProvisionRequest, res *herokupartner.Resolution) (herokupartner.ProvisionResult, error) {
			time.Sleep(5 * time.Millisecond) // the partner's step takes a while
			out, err := w.provisionFunc(ctx, req, res)
			mu.Lock()
			returned = time.Now()
			mu.Unlock()
			return out, err
		}
	})
	_, err := p.Provision(context.Background(), w.request(w.addon))
	require.NoError(t, err)
	w.waitState(t, w.addon.ID, herokupartner.JobProvisioned)

	store.mu.Lock()
	deadline, ok := store.saves[herokupartner.StepConfig] // the record of the create step
	store.mu.Unlock()
	require.True(t, ok, "the create step was recorded")
	mu.Lock()
	defer mu.Unlock()
	assert.False(t, deadline.Before(returned.Add(herokupartner.StoreTimeoutForTest)),
		"the record's bound starts when the step ends, not when the job started")
}
