package herokupartner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MemoryJobStore is an in-process JobStore. Its zero value is ready to use.
// Jobs are lost when the process exits, so it suits tests and a single
// replica that can afford to lose provisionings; use a database-backed
// store (pgstore) otherwise.
type MemoryJobStore struct {
	mu   sync.Mutex
	jobs map[uuid.UUID]Job
}

var _ JobStore = (*MemoryJobStore)(nil)

// copyJob returns j with its own maps, so that callers never share state
// with the store.
func copyJob(j Job) Job {
	j.Config = maps.Clone(j.Config)
	j.Request.Options = maps.Clone(j.Request.Options)
	if j.Request.OAuthGrant != nil {
		g := *j.Request.OAuthGrant
		j.Request.OAuthGrant = &g
	}
	return j
}

func checkJobArgs(ctx context.Context, resource uuid.UUID) error {
	if ctx == nil {
		return errors.New("nil context")
	}
	if resource == uuid.Nil {
		return errors.New("nil resource uuid")
	}
	return nil
}

// CreateJob stores job unless the resource already has one.
func (s *MemoryJobStore) CreateJob(ctx context.Context, job Job) (Job, bool, error) {
	if err := checkJobArgs(ctx, job.Request.UUID); err != nil {
		return Job{}, false, fmt.Errorf("herokupartner: creating job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.jobs[job.Request.UUID]; ok {
		return copyJob(cur), false, nil
	}
	if s.jobs == nil {
		s.jobs = make(map[uuid.UUID]Job)
	}
	job.LeaseOwner, job.LeaseUntil = "", time.Time{}
	s.jobs[job.Request.UUID] = copyJob(job)
	return copyJob(job), true, nil
}

// LoadJob returns the resource's job or an error matching ErrJobNotFound.
func (s *MemoryJobStore) LoadJob(ctx context.Context, resource uuid.UUID) (Job, error) {
	if err := checkJobArgs(ctx, resource); err != nil {
		return Job{}, fmt.Errorf("herokupartner: loading job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[resource]
	if !ok {
		return Job{}, fmt.Errorf("%w: %s", ErrJobNotFound, resource)
	}
	return copyJob(j), nil
}

// ClaimJob leases the due job that has waited longest.
func (s *MemoryJobStore) ClaimJob(ctx context.Context, owner string, now, until time.Time) (Job, bool, error) {
	if ctx == nil || owner == "" {
		return Job{}, false, errors.New("herokupartner: claiming job: nil context or empty owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Job
	for _, j := range s.jobs {
		if j.State != JobProvisioning || j.NextAttempt.After(now) || j.LeaseUntil.After(now) {
			continue
		}
		if best == nil || j.NextAttempt.Before(best.NextAttempt) {
			best = &j
		}
	}
	if best == nil {
		return Job{}, false, nil
	}
	j := *best
	j.LeaseOwner, j.LeaseUntil = owner, until
	s.jobs[j.Request.UUID] = j
	return copyJob(j), true, nil
}

// held returns the stored job if owner holds its lease.
func (s *MemoryJobStore) held(owner string, resource uuid.UUID) (Job, error) {
	j, ok := s.jobs[resource]
	if !ok || j.State != JobProvisioning || j.LeaseOwner != owner || owner == "" {
		return Job{}, fmt.Errorf("%w: resource %s", ErrLeaseLost, resource)
	}
	return j, nil
}

// RenewJob extends owner's lease.
func (s *MemoryJobStore) RenewJob(ctx context.Context, owner string, resource uuid.UUID, until time.Time) error {
	if err := checkJobArgs(ctx, resource); err != nil {
		return fmt.Errorf("herokupartner: renewing job lease: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.held(owner, resource)
	if err != nil {
		return err
	}
	j.LeaseUntil = until
	s.jobs[resource] = j
	return nil
}

// SaveJob stores job if owner still holds its lease.
func (s *MemoryJobStore) SaveJob(ctx context.Context, owner string, job Job, until time.Time) error {
	if err := checkJobArgs(ctx, job.Request.UUID); err != nil {
		return fmt.Errorf("herokupartner: saving job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.held(owner, job.Request.UUID); err != nil {
		return err
	}
	job.LeaseOwner, job.LeaseUntil = owner, until
	if until.IsZero() {
		job.LeaseOwner = ""
	}
	s.jobs[job.Request.UUID] = copyJob(job)
	return nil
}

// CancelJob ends the resource's job as deprovisioned, or records a
// deprovisioned one.
func (s *MemoryJobStore) CancelJob(ctx context.Context, resource uuid.UUID, now time.Time) (Job, error) {
	if err := checkJobArgs(ctx, resource); err != nil {
		return Job{}, fmt.Errorf("herokupartner: cancelling job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs == nil {
		s.jobs = make(map[uuid.UUID]Job)
	}
	j, ok := s.jobs[resource]
	if ok && j.State == JobDeprovisioned {
		return copyJob(j), nil
	}
	if !ok {
		j = Job{Request: ProvisionRequest{UUID: resource}, Step: StepExchange, Received: now}
	}
	j = cancelled(j, now)
	s.jobs[resource] = j
	return copyJob(j), nil
}

// cancelled is j ended by a deprovisioning at now: no lease, no grant code.
func cancelled(j Job, now time.Time) Job {
	j.State, j.Updated, j.NextAttempt = JobDeprovisioned, now, time.Time{}
	j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	j.Request.OAuthGrant = nil
	return j
}

// ListJobs returns a page of jobs in resource order.
func (s *MemoryJobStore) ListJobs(ctx context.Context, after uuid.UUID, limit int) ([]Job, error) {
	if ctx == nil || limit < 1 {
		return nil, errors.New("herokupartner: listing jobs: nil context or limit below 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(s.jobs))
	for id := range s.jobs {
		if bytes.Compare(id[:], after[:]) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Job, len(ids))
	for i, id := range ids {
		out[i] = copyJob(s.jobs[id])
	}
	return out, nil
}
