package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var jt0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newJobStore returns a migrated Store whose tables no other test uses.
// It also returns the options that name the tables, for more Stores on
// them, and the jobs table's name.
func newJobStore(t *testing.T, pool *pgxpool.Pool, opts ...pgstore.Option) (*pgstore.Store, []pgstore.Option, string) {
	t.Helper()
	n := tableSeq.Add(1)
	jobs := fmt.Sprintf("jobs_%d", n)
	opts = append([]pgstore.Option{pgstore.WithTable(fmt.Sprintf("tokens_%d", n)), pgstore.WithJobsTable(jobs)}, opts...)
	return newStore(t, pool, opts...), opts, jobs
}

func sampleJob(id uuid.UUID, at time.Time) herokupartner.Job {
	return herokupartner.Job{
		Request: herokupartner.ProvisionRequest{
			UUID: id, Name: "acme-1", Plan: "basic", Region: "eu", CallbackURL: "https://api.heroku.com/addons/" + id.String(),
			Options:     map[string]string{"size": "s"},
			LogInputURL: herokupartner.NewSecret("https://token:t.secret-log@1.us.logplex.io/logs"),
			OAuthGrant:  &herokupartner.OAuthGrant{Code: herokupartner.NewSecret("grant-code-" + id.String()[:8]), ExpiresAt: at.Add(5 * time.Minute), Type: "authorization_code"},
		},
		State: herokupartner.JobProvisioning, Step: herokupartner.StepExchange, NextAttempt: at, Received: at, Updated: at,
	}
}

func TestJobStoreRoundTripsEveryField(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			pool := newPool(t, nil, nil)
			var opts []pgstore.Option
			if encrypted {
				opts = append(opts, pgstore.WithEncryptionKey(newKey(t)))
			}
			s, _, table := newJobStore(t, pool, opts...)
			ctx := context.Background()
			id := uuid.New()
			job := sampleJob(id, jt0)
			got, created, err := s.CreateJob(ctx, job)
			require.NoError(t, err)
			assert.True(t, created)
			assert.Equal(t, job.Request.OAuthGrant.Code.Reveal(), got.Request.OAuthGrant.Code.Reveal())
			assert.Equal(t, job.Request.LogInputURL.Reveal(), got.Request.LogInputURL.Reveal())
			assert.Equal(t, "s", got.Request.Options["size"])
			assert.True(t, jt0.Equal(got.Received))

			claimed, ok, err := s.ClaimJob(ctx, "a", jt0, jt0.Add(time.Minute))
			require.NoError(t, err)
			require.True(t, ok)
			stage := herokupartner.StageStaging
			claimed.Step, claimed.Attempts, claimed.LastError = herokupartner.StepConfig, 2, "config: 503"
			claimed.Request.OAuthGrant = nil
			claimed.Resolution = &herokupartner.Resolution{
				Addon:    &herokupartner.Addon{ID: id, Name: "acme-1"},
				App:      herokupartner.Ref{ID: uuid.New(), Name: "acme-web"},
				Coupling: &herokupartner.PipelineCoupling{ID: uuid.New(), Stage: stage},
				Pipeline: &herokupartner.Pipeline{ID: uuid.New(), Name: "acme"}, Stage: stage,
			}
			claimed.Config = map[string]herokupartner.Secret{"ACME_URL": herokupartner.NewSecret("https://u:pw@acme.example")}
			claimed.Message = "ready"
			require.NoError(t, s.SaveJob(ctx, "a", claimed, jt0.Add(2*time.Minute)))

			got, err = s.LoadJob(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, herokupartner.StepConfig, got.Step)
			assert.Equal(t, 2, got.Attempts)
			assert.Equal(t, "config: 503", got.LastError)
			assert.Nil(t, got.Request.OAuthGrant)
			assert.Equal(t, "acme", got.Resolution.Pipeline.Name)
			assert.Equal(t, stage, got.Resolution.Stage)
			assert.True(t, got.Resolution.InPipeline())
			assert.Equal(t, "https://u:pw@acme.example", got.Config["ACME_URL"].Reveal())
			assert.Equal(t, "ready", got.Message)
			assert.Equal(t, "a", got.LeaseOwner)
			assert.True(t, jt0.Add(2*time.Minute).Equal(got.LeaseUntil))

			var payload string
			require.NoError(t, pool.QueryRow(ctx, `SELECT payload FROM `+table+` WHERE resource_uuid = $1`, id).Scan(&payload))
			if encrypted {
				assert.NotContains(t, payload, "pw@acme")
				assert.NotContains(t, payload, "secret-log")
			} else {
				assert.Contains(t, payload, "pw@acme", "without a key the payload is plain JSON")
			}
		})
	}
}

func TestJobStoreEncryptionIsChecked(t *testing.T) {
	pool := newPool(t, nil, nil)
	ctx := context.Background()
	key := newKey(t)
	s, opts, _ := newJobStore(t, pool, pgstore.WithEncryptionKey(key))
	id := uuid.New()
	_, _, err := s.CreateJob(ctx, sampleJob(id, jt0))
	require.NoError(t, err)

	noKey, err := pgstore.New(pool, opts[:2]...)
	require.NoError(t, err)
	_, err = noKey.LoadJob(ctx, id)
	assert.ErrorIs(t, err, pgstore.ErrDecrypt)
	otherKey, err := pgstore.New(pool, append(opts[:2:2], pgstore.WithEncryptionKey(newKey(t)))...)
	require.NoError(t, err)
	_, err = otherKey.LoadJob(ctx, id)
	assert.ErrorIs(t, err, pgstore.ErrDecrypt)
	assert.NotContains(t, err.Error(), "grant-code")
}

func TestJobStoreCreateOnceAndCancel(t *testing.T) {
	s, _, _ := newJobStore(t, newPool(t, nil, nil))
	ctx := context.Background()
	id := uuid.New()
	_, _, err := s.CreateJob(ctx, sampleJob(id, jt0))
	require.NoError(t, err)
	again := sampleJob(id, jt0.Add(time.Hour))
	again.Request.Name = "other"
	got, created, err := s.CreateJob(ctx, again)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "acme-1", got.Request.Name)

	job, ok, err := s.ClaimJob(ctx, "a", jt0, jt0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	c, err := s.CancelJob(ctx, id, jt0.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, herokupartner.JobDeprovisioned, c.State)
	assert.Nil(t, c.Request.OAuthGrant)
	assert.Equal(t, "acme-1", c.Request.Name, "the rest of the record is kept")
	assert.ErrorIs(t, s.SaveJob(ctx, "a", job, time.Time{}), herokupartner.ErrLeaseLost)
	assert.ErrorIs(t, s.RenewJob(ctx, "a", id, jt0.Add(time.Hour)), herokupartner.ErrLeaseLost)
	_, ok, err = s.ClaimJob(ctx, "b", jt0.Add(time.Hour), jt0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.False(t, ok)
	loaded, err := s.LoadJob(ctx, id)
	require.NoError(t, err)
	assert.Nil(t, loaded.Request.OAuthGrant, "the grant code is gone from the database")
	again2, err := s.CancelJob(ctx, id, jt0.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, jt0.Add(time.Second).Equal(again2.Updated), "idempotent")

	other := uuid.New()
	_, err = s.CancelJob(ctx, other, jt0)
	require.NoError(t, err)
	got, created, err = s.CreateJob(ctx, sampleJob(other, jt0))
	require.NoError(t, err)
	assert.False(t, created, "a deprovisioned resource is not provisioned again")
	assert.Equal(t, herokupartner.JobDeprovisioned, got.State)

	_, err = s.LoadJob(ctx, uuid.New())
	assert.ErrorIs(t, err, herokupartner.ErrJobNotFound)
}

func TestJobStoreLeases(t *testing.T) {
	s, _, _ := newJobStore(t, newPool(t, nil, nil))
	ctx := context.Background()
	id := uuid.New()
	_, _, err := s.CreateJob(ctx, sampleJob(id, jt0.Add(time.Minute)))
	require.NoError(t, err)
	_, ok, err := s.ClaimJob(ctx, "a", jt0, jt0.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "not due")

	now := jt0.Add(time.Minute)
	job, ok, err := s.ClaimJob(ctx, "a", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, _ = s.ClaimJob(ctx, "b", now.Add(30*time.Second), now.Add(time.Hour))
	assert.False(t, ok, "leased")
	require.NoError(t, s.RenewJob(ctx, "a", id, now.Add(2*time.Minute)))
	_, ok, _ = s.ClaimJob(ctx, "b", now.Add(90*time.Second), now.Add(time.Hour))
	assert.False(t, ok, "renewed")
	taken, ok, err := s.ClaimJob(ctx, "b", now.Add(2*time.Minute), now.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok, "a lease that ended is taken over")
	assert.Equal(t, "b", taken.LeaseOwner)
	job.Step = herokupartner.StepResolve
	assert.ErrorIs(t, s.SaveJob(ctx, "a", job, time.Time{}), herokupartner.ErrLeaseLost)
	taken.Step = herokupartner.StepResolve
	require.NoError(t, s.SaveJob(ctx, "b", taken, time.Time{}))
	_, ok, _ = s.ClaimJob(ctx, "c", now.Add(2*time.Minute), now.Add(time.Hour))
	assert.True(t, ok, "a released job is claimable at once")
}

func TestJobStoreListPages(t *testing.T) {
	s, _, _ := newJobStore(t, newPool(t, nil, nil))
	ctx := context.Background()
	for range 7 {
		_, _, err := s.CreateJob(ctx, sampleJob(uuid.New(), jt0))
		require.NoError(t, err)
	}
	var all []string
	after := uuid.Nil
	for {
		page, err := s.ListJobs(ctx, after, 3)
		require.NoError(t, err)
		for _, j := range page {
			all = append(all, j.Resource().String())
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].Resource()
	}
	assert.Len(t, all, 7)
	assert.IsIncreasing(t, all)
	_, err := s.ListJobs(ctx, uuid.Nil, 0)
	assert.ErrorContains(t, err, "limit 0")
}

// Replicas with their own pools race to claim: every job goes to exactly
// one of them, through FOR UPDATE SKIP LOCKED.
func TestJobStoreClaimsAreExclusiveAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	first, opts, _ := newJobStore(t, newPool(t, nil, nil))
	const jobs = 60
	for range jobs {
		_, _, err := first.CreateJob(ctx, sampleJob(uuid.New(), jt0))
		require.NoError(t, err)
	}
	var mu sync.Mutex
	claims := map[uuid.UUID][]string{}
	var wg sync.WaitGroup
	for r := range 3 {
		s, err := pgstore.New(newPool(t, nil, nil), opts...)
		require.NoError(t, err)
		for w := range 4 {
			owner := fmt.Sprintf("replica-%d/%d", r, w)
			wg.Go(func() {
				for {
					j, ok, err := s.ClaimJob(ctx, owner, jt0, jt0.Add(time.Minute))
					if !assert.NoError(t, err) || !ok {
						return
					}
					mu.Lock()
					claims[j.Resource()] = append(claims[j.Resource()], owner)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	assert.Len(t, claims, jobs)
	for id, owners := range claims {
		assert.Len(t, owners, 1, "%s claimed by %v", id, owners)
	}
}

func TestJobsSchema(t *testing.T) {
	sql, err := pgstore.JobsSchema("")
	require.NoError(t, err)
	assert.Contains(t, sql, `"herokupartner_jobs"`)
	assert.Contains(t, sql, "WHERE state = 'provisioning'")
	_, err = pgstore.JobsSchema("Jobs; DROP")
	assert.Error(t, err)
	_, err = pgstore.New(unreachablePool(t), pgstore.WithJobsTable("bad-name"))
	assert.ErrorContains(t, err, "WithJobsTable")
}
