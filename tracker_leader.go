package herokupartner

import (
	"context"
	"errors"
	"sync"
	"time"
)

// TrackerLeader decides which of several Trackers sharing one store runs
// the refresher, so that replicas never spend the request budget twice.
// pgstore.Leader keeps the lease in PostgreSQL; MemoryLeader within one
// process.
type TrackerLeader interface {
	// Lead takes or renews the lease for this holder and reports whether
	// it holds it now. A holder that stops calling Lead (it died) loses
	// the lease when it expires, and another takes over.
	Lead(ctx context.Context) (bool, error)
	// Resign gives the lease up at once, if this holder has it.
	Resign(ctx context.Context) error
}

// DefaultLeaseTTL is how long a lease lasts without renewal unless a leader
// is configured otherwise; a Tracker renews it before every refresh.
const DefaultLeaseTTL = time.Minute

// MemoryLeader is a lease shared by the Trackers of one process: give each
// Tracker its own MemoryLeader from Holder.
type MemoryLeader struct {
	lease *memoryLease
	name  string
}

type memoryLease struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	holder  string
	expires time.Time
}

// NewMemoryLeader returns the first holder of a new in-process lease of ttl
// (DefaultLeaseTTL when zero or less), judged by now (time.Now when nil).
func NewMemoryLeader(holder string, ttl time.Duration, now func() time.Time) (*MemoryLeader, error) {
	if holder == "" {
		return nil, errors.New("herokupartner: NewMemoryLeader: empty holder name")
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryLeader{lease: &memoryLease{ttl: ttl, now: now}, name: holder}, nil
}

// Holder returns another holder of the same lease.
func (l *MemoryLeader) Holder(name string) (*MemoryLeader, error) {
	if name == "" {
		return nil, errors.New("herokupartner: MemoryLeader.Holder: empty holder name")
	}
	return &MemoryLeader{lease: l.lease, name: name}, nil
}

// Lead takes the lease if it is free or expired, renews it if held.
func (l *MemoryLeader) Lead(context.Context) (bool, error) {
	m := l.lease
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.holder != l.name && m.holder != "" && now.Before(m.expires) {
		return false, nil
	}
	m.holder, m.expires = l.name, now.Add(m.ttl)
	return true, nil
}

// Resign frees the lease if this holder has it.
func (l *MemoryLeader) Resign(context.Context) error {
	m := l.lease
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder == l.name {
		m.holder = ""
	}
	return nil
}
