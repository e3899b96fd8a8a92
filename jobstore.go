package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// ErrJobNotFound is returned by a JobStore that holds no job for a resource.
var ErrJobNotFound = errors.New("herokupartner: no provisioning job for resource")

// ErrLeaseLost is returned by a JobStore's SaveJob and RenewJob when the
// caller no longer holds the job's lease: it expired and another replica
// took the job, or the job was cancelled or ended meanwhile. The caller
// must stop working on the job.
var ErrLeaseLost = errors.New("herokupartner: provisioning job lease lost")

// JobState is where a provisioning job stands.
type JobState string

// The states of a provisioning job. Only JobProvisioning jobs are worked on.
const (
	JobProvisioning  JobState = "provisioning"
	JobProvisioned   JobState = "provisioned"
	JobFailed        JobState = "failed"
	JobDeprovisioned JobState = "deprovisioned"
)

// JobStep names a provisioning step; a job's Step is the next one to run.
type JobStep string

// The steps of a provisioning job, in order.
const (
	// StepExchange trades the grant code for the resource's tokens.
	StepExchange JobStep = "exchange"
	// StepResolve looks up the add-on's app, pipeline and stage.
	StepResolve JobStep = "resolve"
	// StepCreate calls the partner's ProvisionFunc.
	StepCreate JobStep = "create"
	// StepConfig sets the config vars the ProvisionFunc returned.
	StepConfig JobStep = "config"
	// StepMark tells Heroku the add-on is provisioned.
	StepMark JobStep = "mark"
	// StepDone follows the last step.
	StepDone JobStep = "done"
)

// nextStep is the step that follows s.
func nextStep(s JobStep) JobStep {
	switch s {
	case StepExchange:
		return StepResolve
	case StepResolve:
		return StepCreate
	case StepCreate:
		return StepConfig
	case StepConfig:
		return StepMark
	}
	return StepDone
}

// Job is the durable record of one asynchronous provisioning. A JobStore
// must persist every field; Secrets (the grant code, the log credentials,
// the config values) with Reveal, preferably encrypted. Printing or logging
// a Job never shows them.
type Job struct {
	// Request is the provisioning request; Request.UUID identifies the job.
	// Its grant code is cleared once the exchange is done or the job ends.
	Request ProvisionRequest
	State   JobState
	Step    JobStep
	// Attempts counts the failed attempts at Step.
	Attempts int
	// NextAttempt is when Step may run next.
	NextAttempt time.Time
	// LastError describes the latest failure; it never holds a secret.
	LastError string
	// Received is when the request first arrived; Heroku's 12 hour
	// deadline counts from it.
	Received time.Time
	Updated  time.Time
	// Resolution is StepResolve's result. Treat it as read-only.
	Resolution *Resolution
	// Config and Message are StepCreate's result.
	Config  map[string]Secret
	Message string
	// LeaseOwner and LeaseUntil say which replica works on the job, until
	// when; the store sets them.
	LeaseOwner string
	LeaseUntil time.Time
}

// Resource is the add-on resource the job provisions.
func (j Job) Resource() uuid.UUID { return j.Request.UUID }

// JobStatus is what a status endpoint shows of a Job: no secret, no request.
type JobStatus struct {
	Resource    uuid.UUID `json:"resource"`
	State       JobState  `json:"state"`
	Step        JobStep   `json:"step"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Received    time.Time `json:"received"`
	Updated     time.Time `json:"updated"`
	Deadline    time.Time `json:"deadline"`
	Message     string    `json:"message,omitempty"`
	App         string    `json:"app,omitempty"`
	Pipeline    string    `json:"pipeline,omitempty"`
	Stage       Stage     `json:"stage,omitempty"`
}

// Status returns the job's status.
func (j Job) Status() JobStatus {
	s := JobStatus{
		Resource: j.Request.UUID, State: j.State, Step: j.Step, Attempts: j.Attempts,
		NextAttempt: j.NextAttempt, LastError: j.LastError, Received: j.Received,
		Updated: j.Updated, Deadline: j.Received.Add(ProvisioningDeadline), Message: j.Message,
	}
	if r := j.Resolution; r != nil {
		s.App = r.App.Name
		if r.InPipeline() && r.Pipeline != nil {
			s.Pipeline, s.Stage = r.Pipeline.Name, r.Stage
		}
	}
	return s
}

// String describes j by its status; it never shows a secret.
func (j Job) String() string {
	return fmt.Sprintf("herokupartner.Job{Resource:%s State:%s Step:%s Attempts:%d NextAttempt:%s LastError:%q}",
		j.Request.UUID, j.State, j.Step, j.Attempts, formatTime(j.NextAttempt), j.LastError)
}

// GoString is String, for %#v.
func (j Job) GoString() string { return j.String() }

// LogValue makes slog log j by its status.
func (j Job) LogValue() slog.Value {
	return slog.GroupValue(slog.String("resource", j.Request.UUID.String()),
		slog.String("state", string(j.State)), slog.String("step", string(j.Step)),
		slog.Int("attempts", j.Attempts), slog.String("last_error", j.LastError))
}

// JobStore keeps provisioning jobs where every replica of the add-on's
// backend sees them. Replicas take turns through leases: ClaimJob hands a
// due job to one owner until a time, and only that owner may save it until
// the lease ends. Implementations must be safe for concurrent use and make
// each method atomic. MemoryJobStore serves one process; pgstore.Store
// serves replicas sharing PostgreSQL.
type JobStore interface {
	// CreateJob stores job unless a job for its resource exists, whatever
	// that job's state, and returns the stored job and whether it was
	// created now.
	CreateJob(ctx context.Context, job Job) (stored Job, created bool, err error)
	// LoadJob returns the resource's job, or an error matching
	// ErrJobNotFound.
	LoadJob(ctx context.Context, resource uuid.UUID) (Job, error)
	// ClaimJob leases to owner, until until, one JobProvisioning job whose
	// NextAttempt is not after now and whose lease is free or ended before
	// now, and returns it with ok true; ok is false when no job is due.
	ClaimJob(ctx context.Context, owner string, now, until time.Time) (job Job, ok bool, err error)
	// RenewJob moves the end of owner's lease on the resource's job to
	// until, or returns an error matching ErrLeaseLost.
	RenewJob(ctx context.Context, owner string, resource uuid.UUID, until time.Time) error
	// SaveJob replaces the stored job with job and sets its lease to end at
	// until (the zero time releases it), provided the stored job is still
	// JobProvisioning and leased to owner; otherwise it changes nothing and
	// returns an error matching ErrLeaseLost.
	SaveJob(ctx context.Context, owner string, job Job, until time.Time) error
	// CancelJob ends the resource's job as JobDeprovisioned whoever holds
	// it, clearing its lease and grant code, and returns it. With no job it
	// stores a JobDeprovisioned one received at now, so that a late
	// provisioning request cannot start one. A job already deprovisioned
	// is returned unchanged.
	CancelJob(ctx context.Context, resource uuid.UUID, now time.Time) (Job, error)
	// ListJobs returns, in resource order, up to limit jobs whose resource
	// comes after after; start with uuid.Nil.
	ListJobs(ctx context.Context, after uuid.UUID, limit int) ([]Job, error)
}
