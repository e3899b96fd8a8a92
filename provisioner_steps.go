package herokupartner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
)

// storeTimeout bounds a store write made after the job's own context ended
// (a deprovisioning, Run stopping): the write must still happen, but not
// hang.
const storeTimeout = 15 * time.Second

// maxLastError bounds Job.LastError.
const maxLastError = 500

// errPermanent marks a step failure that no retry can mend.
type errPermanent struct{ err error }

func (e *errPermanent) Error() string { return e.err.Error() }
func (e *errPermanent) Unwrap() error { return e.err }

// work runs job's steps from its recorded one until it ends, fails for
// now, or ctx ends (a deprovisioning, a lost lease, or runCtx stopping).
func (p *Provisioner) work(ctx, runCtx context.Context, job Job) {
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	defer stopHeartbeat()
	go p.heartbeat(hbCtx, job)
	for job.Step != StepDone {
		if !p.workStep(ctx, runCtx, &job) {
			return
		}
	}
	p.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "herokupartner add-on provisioned", slog.String("resource", job.Resource().String()))
}

// storeContext bounds one store write that must happen even when ctx has
// ended: a step Heroku has answered must be recorded when the job is being
// stopped. Each write gets its own bound, from when it starts, since a job
// and even one step may take longer than it.
func storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
}

// workStep runs job's current step and records its result; it reports
// whether work goes on with the next step.
func (p *Provisioner) workStep(ctx, runCtx context.Context, job *Job) bool {
	if !p.cfg.Now().Before(job.Received.Add(ProvisioningDeadline)) {
		wctx, cancel := storeContext(ctx)
		defer cancel()
		p.fail(wctx, *job, fmt.Errorf("step %s not done before Heroku's %s deadline: %s", job.Step, ProvisioningDeadline, job.LastError))
		return false
	}
	before := *job
	err := p.runStep(ctx, job)
	wctx, cancel := storeContext(ctx)
	defer cancel()
	if err == nil {
		job.Step, job.Attempts, job.LastError = nextStep(job.Step), 0, ""
		job.NextAttempt, job.Updated = p.cfg.Now(), p.cfg.Now()
		until := p.cfg.Now().Add(p.cfg.Lease)
		if job.Step == StepDone {
			job.State, until = JobProvisioned, time.Time{}
		}
		if serr := p.cfg.Jobs.SaveJob(wctx, p.cfg.Owner, *job, until); serr != nil {
			p.recordFailed(wctx, before, serr)
			return false
		}
		p.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "herokupartner provisioning step done",
			slog.String("resource", job.Resource().String()), slog.String("step", string(before.Step)))
		return true
	}
	if ctx.Err() != nil {
		// Stopped mid-step: nothing about the step is recorded. When Run
		// stops, the lease is handed back so the job resumes at once
		// elsewhere; otherwise the job was deprovisioned or taken.
		if runCtx.Err() != nil {
			_ = p.cfg.Jobs.SaveJob(wctx, p.cfg.Owner, before, time.Time{})
		}
		return false
	}
	p.retryOrFail(wctx, before, err)
	return false
}

// finished removes r, unless a later claim replaced it, from the running
// jobs and tells those waiting for it.
func (p *Provisioner) finished(id uuid.UUID, r *runningJob) {
	p.mu.Lock()
	if p.running[id] == r {
		delete(p.running, id)
	}
	p.mu.Unlock()
	close(r.done)
}

// handBack releases the lease a claim took on job when no worker here will
// use it, once prev, the worker still running the job here (if any), has
// stopped. prev may have recorded steps and ended the job after the claim,
// so the job is then read again.
func (p *Provisioner) handBack(job Job, prev *runningJob) {
	if prev != nil {
		<-prev.done
	}
	ctx, cancel := storeContext(context.Background())
	defer cancel()
	if prev != nil {
		cur, err := p.cfg.Jobs.LoadJob(ctx, job.Resource())
		if err != nil || cur.State != JobProvisioning || cur.LeaseOwner != p.cfg.Owner {
			return // ended, handed back, or taken; a failed read leaves it to the lease
		}
		job = cur
	}
	if err := p.cfg.Jobs.SaveJob(ctx, p.cfg.Owner, job, time.Time{}); err != nil {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner handing back a provisioning job failed",
			slog.String("resource", job.Resource().String()), slog.String("error", err.Error()))
	}
	p.poke()
}

// recordFailed handles a step result that could not be recorded. When the
// job was deprovisioned meanwhile and the step stored a token, that token
// is forgotten, since the deprovisioning may have forgotten it first.
func (p *Provisioner) recordFailed(ctx context.Context, before Job, err error) {
	id := before.Resource()
	p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner provisioning step result not recorded; leaving the job",
		slog.String("resource", id.String()), slog.String("step", string(before.Step)), slog.String("error", err.Error()))
	if before.Step != StepExchange {
		return
	}
	if cur, lerr := p.cfg.Jobs.LoadJob(ctx, id); lerr == nil && cur.State == JobDeprovisioned {
		_ = p.cfg.Tokens.Forget(ctx, id.String())
	}
}

// retryOrFail records a failed attempt at job's step: the next attempt
// after a backoff, or the job's end when retrying cannot help or Heroku's
// deadline would pass first.
func (p *Provisioner) retryOrFail(ctx context.Context, job Job, err error) {
	var perm *errPermanent
	if errors.As(err, &perm) {
		p.fail(ctx, job, err)
		return
	}
	now := p.cfg.Now()
	job.Attempts++
	job.LastError = p.describe(job, err)
	job.NextAttempt, job.Updated = now.Add(p.backoff(job.Attempts)), now
	if !job.NextAttempt.Before(job.Received.Add(ProvisioningDeadline)) {
		p.fail(ctx, job, fmt.Errorf("giving up before Heroku's %s deadline: %w", ProvisioningDeadline, err))
		return
	}
	if serr := p.cfg.Jobs.SaveJob(ctx, p.cfg.Owner, job, time.Time{}); serr != nil {
		p.recordFailed(ctx, job, serr)
		return
	}
	p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "herokupartner provisioning step failed; will retry",
		slog.String("resource", job.Resource().String()), slog.String("step", string(job.Step)),
		slog.Int("attempts", job.Attempts), slog.Time("next_attempt", job.NextAttempt), slog.String("error", job.LastError))
}

// fail ends job as failed, keeps its record, and tells the partner why.
func (p *Provisioner) fail(ctx context.Context, job Job, err error) {
	now := p.cfg.Now()
	job.State, job.Updated, job.NextAttempt = JobFailed, now, time.Time{}
	job.LastError = p.describe(job, err)
	req := job.Request // the partner learns of the request as it came
	job.Request.OAuthGrant = nil
	if serr := p.cfg.Jobs.SaveJob(ctx, p.cfg.Owner, job, time.Time{}); serr != nil {
		p.recordFailed(ctx, job, serr)
		return
	}
	p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "herokupartner provisioning failed",
		slog.String("resource", job.Resource().String()), slog.String("step", string(job.Step)), slog.String("error", job.LastError))
	if p.cfg.Failed != nil {
		p.cfg.Failed(ctx, &req, errors.New(job.LastError))
	}
}

// describe is err's message without any of the job's secrets, bounded.
func (p *Provisioner) describe(job Job, err error) string {
	secrets := []string{job.Request.LogInputURL.Reveal(), job.Request.LogDrainToken.Reveal()}
	if g := job.Request.OAuthGrant; g != nil {
		secrets = append(secrets, g.Code.Reveal())
	}
	for _, v := range job.Config {
		secrets = append(secrets, v.Reveal())
	}
	msg := scrub(fmt.Sprintf("%s: %v", job.Step, err), secrets...)
	if len(msg) > maxLastError {
		msg = msg[:maxLastError] + "…"
	}
	return msg
}

// backoff is the wait after the n-th failed attempt.
func (p *Provisioner) backoff(n int) time.Duration {
	d := p.cfg.MinBackoff
	for i := 1; i < n && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.cfg.MaxBackoff)
}

// heartbeat renews the job's lease while it runs; a lost lease stops it.
func (p *Provisioner) heartbeat(ctx context.Context, job Job) {
	t := time.NewTicker(p.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.cfg.Jobs.RenewJob(ctx, p.cfg.Owner, job.Resource(), p.cfg.Now().Add(p.cfg.Lease))
		if errors.Is(err, ErrLeaseLost) {
			p.mu.Lock()
			r := p.running[job.Resource()]
			p.mu.Unlock()
			if r != nil {
				r.cancel()
			}
			return
		}
	}
}

// runStep runs job's current step once, storing its result in job.
func (p *Provisioner) runStep(ctx context.Context, job *Job) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StepTimeout)
	defer cancel()
	id := job.Resource().String()
	if job.Step == StepExchange {
		return p.exchange(ctx, job)
	}
	client, err := p.cfg.API.ForResource(p.cfg.Tokens, id)
	if err != nil {
		return &errPermanent{err}
	}
	switch job.Step {
	case StepResolve:
		res, err := client.ResolvePipeline(ctx, id)
		if err != nil {
			return classify(err)
		}
		job.Resolution = res
	case StepCreate:
		req := job.Request
		out, err := p.cfg.Provision(ctx, &req, job.Resolution)
		if err != nil {
			// The partner's own failures are retried until the deadline.
			return err
		}
		job.Config = make(map[string]Secret, len(out.Config))
		for k, v := range out.Config {
			job.Config[k] = NewSecret(v)
		}
		job.Message = out.Message
	case StepConfig:
		if len(job.Config) == 0 {
			return nil
		}
		vars := make([]ConfigVar, 0, len(job.Config))
		for _, name := range slices.Sorted(maps.Keys(job.Config)) {
			v := job.Config[name].Reveal()
			vars = append(vars, ConfigVar{Name: name, Value: &v})
		}
		_, err := client.UpdateAddonConfig(ctx, id, vars)
		return classify(err)
	case StepMark:
		_, err := client.MarkProvisioned(ctx, id)
		return classify(err)
	}
	return nil
}

// exchange trades the grant code unless a valid token for the resource is
// already stored, as after a crash between the exchange and its record.
// The exchange is not cut short by a deprovisioning: Heroku may already
// have spent the code, and Deprovision forgets the token only after this
// returns.
func (p *Provisioner) exchange(ctx context.Context, job *Job) error {
	id := job.Resource().String()
	if _, err := p.cfg.Tokens.Token(ctx, id); err == nil {
		job.Request.OAuthGrant = nil
		return nil
	}
	if job.Request.OAuthGrant == nil {
		return &errPermanent{errors.New("no grant code is stored and no token")}
	}
	xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.StepTimeout)
	defer cancel()
	_, err := p.cfg.Tokens.Exchange(xctx, id, *job.Request.OAuthGrant)
	if err == nil {
		job.Request.OAuthGrant = nil
		return nil
	}
	if !errors.Is(err, ErrUnauthorized) {
		return err
	}
	// The code is spent or invalid. An earlier attempt whose answer was
	// lost may have spent it and stored the token: then all is well.
	_, terr := p.cfg.Tokens.Token(xctx, id)
	switch {
	case terr == nil:
		job.Request.OAuthGrant = nil
		return nil
	case errors.Is(terr, ErrTokenNotFound) || errors.Is(terr, ErrGrantRevoked):
		return &errPermanent{err}
	}
	return err
}

// classify marks the Platform API's refusals that no retry can mend: an
// invalid id, a revoked grant, and 4xx answers other than 401 (handled by
// the token refresh), 408, 409 and 429.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrInvalidID) || errors.Is(err, ErrGrantRevoked) {
		return &errPermanent{err}
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch s := apiErr.StatusCode; {
		case s == http.StatusUnauthorized, s == http.StatusRequestTimeout, s == http.StatusConflict, s == http.StatusTooManyRequests:
		case s >= 400 && s < 500:
			return &errPermanent{err}
		}
	}
	return err
}
