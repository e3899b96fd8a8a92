package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// rssLimitJSONL is the peak RSS a --jsonl run must stay under at any
// size: memory is flat in the number of resources.
const rssLimitJSONL = 50 << 20

// TestPeakRSS measures the CLI's peak resident memory on large inputs. It
// is a measurement, run on demand only:
//
//	HEROKUPARTNER_RSS_SIZES=10000,100000 go test -run TestPeakRSS -v -timeout 60m ./cmd/herokupartner
//
// HEROKUPARTNER_RSS_MODES picks the outputs (default jsonl; also json,
// table, group). The command runs as its own process, built from this
// package, so that its peak RSS (VmHWM) is not mixed with the fake's,
// which runs here holding every resource.
func TestPeakRSS(t *testing.T) {
	sizes := os.Getenv("HEROKUPARTNER_RSS_SIZES")
	if sizes == "" {
		t.Skip("set HEROKUPARTNER_RSS_SIZES (for example 10000,100000) to measure")
	}
	bin := filepath.Join(t.TempDir(), "herokupartner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	modes := strings.Split(cmpOrEnv("HEROKUPARTNER_RSS_MODES", "jsonl"), ",")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("HEROKUPARTNER_RSS_SIZES: want positive whole numbers")
		}
		srv, file := seedFile(t, n)
		for _, mode := range modes {
			rss, took := runMeasured(t, bin, srv, file, mode, n)
			t.Logf("resources=%d mode=%s peak_rss=%.1f MiB time=%s", n, mode, float64(rss)/(1<<20), took.Round(time.Second))
			if mode == "jsonl" && rss > rssLimitJSONL {
				t.Errorf("--jsonl at %d resources: peak RSS %.1f MiB, over %d MiB", n, float64(rss)/(1<<20), rssLimitJSONL>>20)
			}
		}
	}
}

func cmpOrEnv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// seedFile fills a fake with n resources (each its own app and token, a
// quarter in no pipeline, the rest over 100 pipelines) and writes the
// --from CSV naming them.
func seedFile(t *testing.T, n int) (*herokupartnertest.Server, string) {
	t.Helper()
	srv := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	pipes := make([]*hp.Pipeline, 100)
	for i := range pipes {
		pipes[i] = srv.AddPipeline(fmt.Sprintf("pipeline-%d", i))
	}
	file := filepath.Join(t.TempDir(), "resources.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("uuid,token\n")
	stages := []hp.Stage{hp.StageDevelopment, hp.StageStaging, hp.StageProduction}
	for i := range n {
		app := srv.AddApp(fmt.Sprintf("app-%d", i))
		if i%4 != 3 {
			srv.Couple(app.ID, pipes[i%len(pipes)].ID, stages[i%len(stages)])
		}
		a := srv.AddAddon(app.ID, "basic")
		fmt.Fprintf(w, "%s,%s\n", a.ID, srv.IssueToken(a.ID))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return srv, file
}

// runMeasured runs the built command on file and returns its peak RSS in
// bytes, after checking it printed one result per resource.
func runMeasured(t *testing.T, bin string, srv *herokupartnertest.Server, file, mode string, n int) (int64, time.Duration) {
	t.Helper()
	args := []string{"resolve", "--from", file, "--api-url", srv.URL, "--progress", "never"}
	switch mode {
	case "jsonl", "json", "group":
		args = append(args, "--"+mode)
	case "table":
	default:
		t.Fatalf("HEROKUPARTNER_RSS_MODES: unknown mode")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), tokenEnvVar+"=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The fake's request log is not what is measured: keep it short.
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				srv.ResetRequests()
			}
		}
	}()
	defer close(stop)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// getrusage's ru_maxrss would be wrong here: Go starts the child
	// sharing this process's memory until exec, and Linux charges the
	// child with this process's peak, the fake's. The child's own VmHWM is
	// sampled instead; being a high-water mark, only growth in its last
	// 10ms could be missed.
	var hwm atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			v, ok := readHWM(cmd.Process.Pid)
			if !ok {
				return
			}
			hwm.Store(max(hwm.Load(), v))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	lines, _ := countLines(out)
	<-sampled // the process has exited: /proc/PID/status is gone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s run failed: %v\n%s", mode, err, stderr.String())
	}
	took := time.Since(start)
	if mode == "jsonl" && lines != n {
		t.Fatalf("--jsonl printed %d lines for %d resources", lines, n)
	}
	return hwm.Load(), took
}

// readHWM returns the VmHWM (peak resident set) of process pid in bytes.
func readHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n, err
		}
	}
}
