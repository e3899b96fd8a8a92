package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/addonkit/herokupartner/internal/pgtest"
)

// TestCrash runs the example backend as a real process, built from this
// module, against the standalone fake Heroku (`herokupartner fake`) in
// another process and a real PostgreSQL, kills it with SIGKILL in the
// middle of a job, and checks from the fake's request log that every step
// Heroku sees happens exactly once. The scenarios run side by side, each
// with a fake and a database of its own, so that the fake's log counts
// only its add-on.
//
//	cd examples/provisioning && go test -run Crash -v .
func TestCrash(t *testing.T) {
	w := crashWorld{pg: pgtest.ForTest(t)}
	w.backendBin, w.cli = buildBinaries(t)
	for _, sc := range []struct {
		name string
		run  func(*testing.T, crashWorld)
	}{
		{"SIGKILL and restart", crashRestart},
		{"two replicas, one killed", crashReplicas},
		{"deprovision mid-job", crashDeprovision},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, w)
		})
	}
}

// crashWorld is what the scenarios share: the PostgreSQL server and the
// built binaries.
type crashWorld struct {
	pg              *pgtest.Server
	backendBin, cli string
}

func (w crashWorld) env(t *testing.T, dbName string) *crashEnv {
	return newCrashEnv(t, w.pg, w.backendBin, w.cli, dbName)
}

// crashRestart: the only backend is killed in the middle of the job and
// started again; the new process resumes the job once the dead one's lease
// has run out.
func crashRestart(t *testing.T, w crashWorld) {
	e := w.env(t, "crash_restart")
	e.failCouplings()
	first := e.startBackend("backend")
	body := e.provisionBody()
	e.provision(first, body, http.StatusAccepted)
	e.waitMidStep()
	if n := e.storedTokens(); n != 1 {
		t.Fatalf("mid-job: %d stored tokens for the add-on, want 1 (the exchange is done)", n)
	}

	first.kill()
	e.waitHangEnded()
	restart := time.Now()
	second := e.startBackend("backend-restarted")
	// Heroku redelivers while the dead process's lease runs out: the
	// job is already recorded, so nothing changes.
	e.provision(second, body, http.StatusAccepted)
	e.waitProvisioned()
	took := time.Since(restart)

	c := e.counts()
	e.assertExactlyOnce(c)
	e.assertLogsClean()
	t.Logf("resumed job provisioned %.1fs after the restart; fake saw %+v", took.Seconds(), c)
}

// crashReplicas: two replicas share the database; the one holding the job
// is killed in the middle of it, and the other takes it over.
func crashReplicas(t *testing.T, w crashWorld) {
	e := w.env(t, "crash_replicas")
	e.failCouplings()
	a := e.startBackend("replica-a")
	body := e.provisionBody()
	e.provision(a, body, http.StatusAccepted)
	e.waitMidStep() // replica a holds the job: b is not up yet
	b := e.startBackend("replica-b")
	// Replica b polls the store every second; while a holds the lease
	// it must leave the job alone.
	time.Sleep(2500 * time.Millisecond)
	if c := e.counts(); c.CouplingsOK != 0 || c.ConfigPatches != 0 || c.ProvisionActions != 0 {
		t.Fatalf("replica b worked on the job while replica a held it: fake saw %+v\n%s", c, e.logs())
	}

	a.kill()
	killed := time.Now()
	e.waitHangEnded()
	e.provision(b, body, http.StatusAccepted)
	e.waitProvisioned()
	took := time.Since(killed)
	if !b.alive() {
		t.Fatalf("replica b exited:\n%s", e.logs())
	}

	c := e.counts()
	e.assertExactlyOnce(c)
	e.assertLogsClean()
	t.Logf("replica b finished the job %.1fs after replica a was killed; fake saw %+v", took.Seconds(), c)
}

// crashDeprovision: Heroku deprovisions the add-on while a step is in
// flight; no step follows, the token is forgotten, and redelivered
// provisioning requests do not bring the add-on back.
func crashDeprovision(t *testing.T, w crashWorld) {
	e := w.env(t, "crash_deprovision")
	e.failCouplings()
	b := e.startBackend("backend")
	body := e.provisionBody()
	e.provision(b, body, http.StatusAccepted)
	e.waitMidStep()
	if n := e.storedTokens(); n != 1 {
		t.Fatalf("mid-job: %d stored tokens for the add-on, want 1 (the exchange is done)", n)
	}

	status, _, err := e.send(http.MethodDelete, b.base+"/"+e.addon.String(), nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("deprovision: answered %d (%v), want 200\n%s", status, err, e.logs())
	}
	if n := e.storedTokens(); n != 0 {
		t.Errorf("after the deprovision: %d stored tokens for the add-on, want 0 (forgotten)", n)
	}
	// Heroku redelivers the provisioning, with the old grant and a
	// fresh one: neither brings the add-on back.
	e.provision(b, body, http.StatusGone)
	e.provision(b, e.provisionBody(), http.StatusGone)
	e.waitHangEnded()
	// Nothing is due any more, so nothing shows up however long one
	// waits; three polls of the store and a backoff are long enough to
	// catch a step that should not happen.
	time.Sleep(3 * time.Second)

	j, err := e.job()
	if err != nil || j.state != "deprovisioned" || j.nextAttempt != nil {
		t.Errorf("job: %+v (%v), want state deprovisioned with nothing due", j, err)
	}
	if n := e.storedTokens(); n != 0 {
		t.Errorf("after the redeliveries: %d stored tokens for the add-on, want 0", n)
	}
	state, configured := e.addonState()
	if state == "provisioned" || configured {
		t.Errorf("fake: add-on %s with ACME_URL set %v, want it never provisioned nor configured", state, configured)
	}
	c := e.counts()
	want := stepCounts{Exchanges: 1, Couplings: 5}
	if c != want {
		t.Errorf("fake saw %+v, want %+v: one exchange before the deprovision and no step after it\n%s", c, want, e.logs())
	}
	e.assertLogsClean()
	t.Logf("deprovisioned mid-step; fake saw %+v", c)
}

// provision delivers Heroku's provisioning request to b and checks the
// answer's status, and that a 202 names the add-on.
func (e *crashEnv) provision(b *backend, body []byte, want int) {
	e.t.Helper()
	status, answer, err := e.send(http.MethodPost, b.base, body)
	if err != nil || status != want {
		e.t.Fatalf("provisioning request to %s: answered %d (%v), want %d\n%s", b.name, status, err, want, e.logs())
	}
	if want == http.StatusAccepted && answer["id"] != e.addon.String() {
		e.t.Fatalf("provisioning request to %s: 202 with id %v, want the add-on's uuid", b.name, answer["id"])
	}
}

// waitProvisioned waits until the fake has the add-on provisioned and the
// job is recorded as done.
func (e *crashEnv) waitProvisioned() {
	e.t.Helper()
	waitUntil(e.t, bound, "the add-on is provisioned at the fake and the job recorded done", func() (bool, error) {
		state, _ := e.addonState()
		if state != "provisioned" {
			return false, nil
		}
		j, err := e.job()
		return err == nil && j.state == "provisioned" && j.step == "done", err
	})
}

// assertExactlyOnce checks the fake's counts of a job that was killed in
// the middle of its resolve step and resumed.
func (e *crashEnv) assertExactlyOnce(c stepCounts) {
	e.t.Helper()
	// Five couplings lookups failed (four quick ones, the hanging one);
	// one succeeded after the restart.
	want := stepCounts{Exchanges: 1, ConfigPatches: 1, ProvisionActions: 1, Couplings: 6, CouplingsOK: 1}
	if c != want {
		e.t.Errorf("fake saw %+v, want %+v\n%s", c, want, e.logs())
	}
	if _, configured := e.addonState(); !configured {
		e.t.Error("fake: the add-on has no ACME_URL config var")
	}
}
