package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Processes of the crash test: the binaries it builds, and each process
// it runs in a process group of its own, killed as a whole when the test
// ends, whatever happened.

// buildBinaries builds the example backend and the herokupartner CLI into
// a temporary directory, in one go command (the workspace holds both
// modules), and returns their paths.
func buildBinaries(t *testing.T) (backend, cli string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the backend: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "build", "-o", dir+string(filepath.Separator), "./cmd/herokupartner", "./examples/provisioning")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "provisioning"), filepath.Join(dir, "herokupartner")
}

// proc is a running child process; its output goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// startProc starts bin with args and env; stdout, when not nil, receives
// the process's standard output instead of the log.
func startProc(t *testing.T, name, bin string, env []string, stdout io.Writer, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// A group of its own, so that a kill reaches anything it started;
	// Pdeathsig ends it if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL to the process's group, as a crash would end it, and
// waits until it has exited. Killing an exited process does nothing.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

// alive says whether the process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// logTail is the end of the process's log with every secret replaced, for
// failure messages.
func (p *proc) logTail(secrets ...string) string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return redact(strings.Join(lines, "\n"), secrets...)
}

// redact replaces each non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// readSettings reads the lines the fake prints at start, until its last
// seeded add-on, within limit.
func readSettings(r io.Reader, limit time.Duration) (map[string]string, []string, error) {
	type result struct {
		vars  map[string]string
		notes []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		vars, notes := map[string]string{}, []string(nil)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				vars[k] = v
				continue
			}
			notes = append(notes, line)
			if strings.HasPrefix(line, "# addon ") {
				done <- result{vars, notes, nil}
				_, _ = io.Copy(io.Discard, r) // keep the pipe drained
				return
			}
		}
		done <- result{err: fmt.Errorf("the fake's output ended before its seeded add-on (%d settings read)", len(vars))}
	}()
	select {
	case res := <-done:
		return res.vars, res.notes, res.err
	case <-time.After(limit):
		return nil, nil, fmt.Errorf("the fake printed no seeded add-on within %s", limit)
	}
}

// waitUntil polls cond every 50ms until it holds, failing t with what and
// the last error when limit passes first.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, limit, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
