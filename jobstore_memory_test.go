package herokupartner_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newJob(id uuid.UUID, at time.Time) herokupartner.Job {
	return herokupartner.Job{
		Request: herokupartner.ProvisionRequest{UUID: id, Name: "acme-1", Options: map[string]string{"size": "s"},
			OAuthGrant: &herokupartner.OAuthGrant{Code: herokupartner.NewSecret("code-" + id.String())}},
		State: herokupartner.JobProvisioning, Step: herokupartner.StepExchange, NextAttempt: at, Received: at, Updated: at,
	}
}

func TestMemoryJobStoreCreateIsOncePerResource(t *testing.T) {
	ctx := context.Background()
	var s herokupartner.MemoryJobStore
	id := uuid.New()
	got, created, err := s.CreateJob(ctx, newJob(id, t0))
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "code-"+id.String(), got.Request.OAuthGrant.Code.Reveal())

	again := newJob(id, t0.Add(time.Hour))
	again.Request.Name = "other"
	got, created, err = s.CreateJob(ctx, again)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "acme-1", got.Request.Name, "the first job stands")

	got.Request.Options["size"] = "xl" // callers get copies
	loaded, err := s.LoadJob(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "s", loaded.Request.Options["size"])

	_, err = s.LoadJob(ctx, uuid.New())
	assert.ErrorIs(t, err, herokupartner.ErrJobNotFound)
	_, _, err = s.CreateJob(ctx, newJob(uuid.Nil, t0))
	assert.ErrorContains(t, err, "nil resource uuid")
}

func TestMemoryJobStoreLeases(t *testing.T) {
	ctx := context.Background()
	var s herokupartner.MemoryJobStore
	id := uuid.New()
	_, _, err := s.CreateJob(ctx, newJob(id, t0.Add(time.Minute)))
	require.NoError(t, err)

	_, ok, err := s.ClaimJob(ctx, "a", t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "not due yet")

	now := t0.Add(time.Minute)
	job, ok, err := s.ClaimJob(ctx, "a", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "a", job.LeaseOwner)
	_, ok, _ = s.ClaimJob(ctx, "b", now.Add(30*time.Second), now.Add(2*time.Minute))
	assert.False(t, ok, "leased to a")

	job.Step = herokupartner.StepResolve
	assert.ErrorIs(t, s.SaveJob(ctx, "b", job, now.Add(time.Minute)), herokupartner.ErrLeaseLost)
	assert.ErrorIs(t, s.RenewJob(ctx, "b", id, now.Add(time.Hour)), herokupartner.ErrLeaseLost)
	require.NoError(t, s.RenewJob(ctx, "a", id, now.Add(2*time.Minute)))
	_, ok, _ = s.ClaimJob(ctx, "b", now.Add(90*time.Second), now.Add(3*time.Minute))
	assert.False(t, ok, "the renewal holds")

	// a's lease ends; b takes over and a can no longer save.
	job2, ok, err := s.ClaimJob(ctx, "b", now.Add(3*time.Minute), now.Add(4*time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, herokupartner.StepExchange, job2.Step)
	assert.ErrorIs(t, s.SaveJob(ctx, "a", job, time.Time{}), herokupartner.ErrLeaseLost)

	job2.Step = herokupartner.StepResolve
	require.NoError(t, s.SaveJob(ctx, "b", job2, time.Time{}))
	released, err := s.LoadJob(ctx, id)
	require.NoError(t, err)
	assert.Empty(t, released.LeaseOwner)
	assert.Equal(t, herokupartner.StepResolve, released.Step)
	_, ok, _ = s.ClaimJob(ctx, "c", now.Add(3*time.Minute), now.Add(4*time.Minute))
	assert.True(t, ok, "a released job is claimable at once")
}

func TestMemoryJobStoreCancel(t *testing.T) {
	ctx := context.Background()
	var s herokupartner.MemoryJobStore
	id := uuid.New()
	_, _, err := s.CreateJob(ctx, newJob(id, t0))
	require.NoError(t, err)
	job, ok, err := s.ClaimJob(ctx, "a", t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)

	c, err := s.CancelJob(ctx, id, t0.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, herokupartner.JobDeprovisioned, c.State)
	assert.Nil(t, c.Request.OAuthGrant, "the grant code is dropped")
	assert.ErrorIs(t, s.SaveJob(ctx, "a", job, time.Time{}), herokupartner.ErrLeaseLost, "the holder stops")
	assert.ErrorIs(t, s.RenewJob(ctx, "a", id, t0.Add(time.Hour)), herokupartner.ErrLeaseLost)
	_, ok, _ = s.ClaimJob(ctx, "b", t0.Add(time.Hour), t0.Add(2*time.Hour))
	assert.False(t, ok)
	again, err := s.CancelJob(ctx, id, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Second), again.Updated, "idempotent")

	// Cancelling an unknown resource leaves a record that blocks creation.
	other := uuid.New()
	_, err = s.CancelJob(ctx, other, t0)
	require.NoError(t, err)
	got, created, err := s.CreateJob(ctx, newJob(other, t0))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, herokupartner.JobDeprovisioned, got.State)
}

func TestMemoryJobStoreListPages(t *testing.T) {
	ctx := context.Background()
	var s herokupartner.MemoryJobStore
	for range 7 {
		_, _, err := s.CreateJob(ctx, newJob(uuid.New(), t0))
		require.NoError(t, err)
	}
	var all []uuid.UUID
	after := uuid.Nil
	for {
		page, err := s.ListJobs(ctx, after, 3)
		require.NoError(t, err)
		for _, j := range page {
			all = append(all, j.Resource())
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].Resource()
	}
	assert.Len(t, all, 7)
	for i := 1; i < len(all); i++ {
		assert.Less(t, all[i-1].String(), all[i].String())
	}
	_, err := s.ListJobs(ctx, uuid.Nil, 0)
	assert.Error(t, err)
}

// Many claimers racing over a few jobs: each job goes to one of them.
func TestMemoryJobStoreClaimsAreExclusive(t *testing.T) {
	ctx := context.Background()
	var s herokupartner.MemoryJobStore
	for range 10 {
		_, _, err := s.CreateJob(ctx, newJob(uuid.New(), t0))
		require.NoError(t, err)
	}
	var mu sync.Mutex
	claims := map[uuid.UUID]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for {
				j, ok, err := s.ClaimJob(ctx, string(rune('a'+i)), t0, t0.Add(time.Minute))
				if err != nil || !ok {
					return
				}
				mu.Lock()
				claims[j.Resource()]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, claims, 10)
	for id, n := range claims {
		assert.Equal(t, 1, n, "%s", id)
	}
}
