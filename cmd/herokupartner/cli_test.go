package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// canary stands for a token pasted in the wrong place: it must never be
// printed.
const canary = "HRKU-canary-Zq9X7vKpW2"

func TestNothingTypedIsEchoed(t *testing.T) {
	f := newFixture(t)
	url := f.srv.URL
	env := map[string]string{tokenEnvVar: f.tokens[0]}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{canary, "resolve"}, "argument 1 is not a known command"},
		{"unknown flag", []string{"resolve", f.ids[0], "--" + canary}, "argument 2 is not a known flag"},
		{"unknown flag with value", []string{"resolve", "--tokn=" + canary, f.ids[0]}, "argument 1 is not a known flag"},
		{"bad number", []string{"resolve", "--concurrency", canary, f.ids[0]}, "flag --concurrency needs a whole number"},
		{"bad number inline", []string{"resolve", "--concurrency=" + canary, f.ids[0]}, "flag --concurrency needs a whole number"},
		{"bad bool", []string{"resolve", "--json=" + canary, f.ids[0]}, "flag --json takes no value"},
		{"bad progress", []string{"resolve", "--progress", canary, f.ids[0], "--api-url", url}, "--progress must be"},
		{"credentials in api url", []string{"resolve", f.ids[0], "--api-url", "https://user:" + canary + "@api.example.com"}, "--api-url"},
		{"api url not a url", []string{"resolve", f.ids[0], "--api-url", "::" + canary}, "--api-url"},
		{"missing value", []string{"resolve", f.ids[0], "--token"}, "flag --token needs a value"},
		{"token as argument", []string{"resolve", f.ids[0], canary, "--api-url", url}, "argument 2 is not a resource UUID"},
		{"missing file", []string{"resolve", "--from", "/nonexistent/" + canary, "--api-url", url}, "--from: cannot open the file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.ResetRequests()
			r := runCLI(t, "", env, tc.args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tc.want)
			assert.False(t, strings.Contains(r.stdout+r.stderr, canary), "input was echoed")
			assert.Empty(t, r.stdout)
			assert.Empty(t, f.srv.Requests(), "bad usage sends nothing")
		})
	}
}

func TestMalformedRowsNameTheRowOnly(t *testing.T) {
	f := newFixture(t)
	inputs := map[string]struct{ in, where string }{
		"lines":      {f.ids[0] + "\n" + canary + "\n", "standard input line 2"},
		"csv":        {"uuid,token\n" + f.ids[0] + ",t\n" + canary + ",t\n", "standard input row 3"},
		"csv quotes": {"uuid,token\n" + f.ids[0] + ",t\n\"" + canary + "\"x,t\n", "standard input row 3"},
		"json array": {`["` + f.ids[0] + `", {"uuid": 12345678}, "` + canary + `"]`, "standard input item 2"},
		"json lines": {`{"uuid":"` + f.ids[0] + `"}` + "\n" + `{"uuid":"` + canary + `"}` + "\n", "standard input line 2"},
		"json type":  {`[{"uuid":"` + f.ids[0] + `"}, 1234567890123]`, "standard input item 2"},
	}
	for name, tc := range inputs {
		t.Run(name, func(t *testing.T) {
			f.srv.ResetRequests()
			r := runCLI(t, tc.in, map[string]string{tokenEnvVar: f.tokens[0]}, "resolve", "--from", "-", "--api-url", f.srv.URL)
			assert.Equal(t, exitUsage, r.code, "strict by default")
			assert.Contains(t, r.stderr, tc.where)
			assert.Contains(t, r.stderr, "--lenient")
			assert.Empty(t, f.srv.Requests(), "a strict run sends nothing when a row is bad")
			assert.False(t, strings.Contains(r.stderr, canary), "row content was echoed")
			assert.NotContains(t, r.stderr, "12345678", "row content was echoed")
		})
	}
}

func TestLenientFailsOnlyTheBadRow(t *testing.T) {
	f := newFixture(t)
	in := fmt.Sprintf("uuid,token\n%s,%s\n%s,%s\n%s,%s\n", f.ids[0], f.tokens[0], canary, f.tokens[1], f.ids[2], f.tokens[2])
	r := runCLI(t, in, nil, "resolve", "--from", "-", "--lenient", "--jsonl", "--api-url", f.srv.URL)
	assert.Equal(t, exitFailed, r.code)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, "every row has a line, in input order")
	var got []jsonResource
	for _, l := range lines {
		var jr jsonResource
		require.NoError(t, json.Unmarshal([]byte(l), &jr))
		got = append(got, jr)
	}
	assert.Equal(t, "ok", got[0].Status)
	assert.Equal(t, "failed", got[1].Status)
	assert.Equal(t, "standard input row 3: not a resource UUID (22 characters)", got[1].Error.Message)
	assert.Equal(t, "", got[1].Error.Step, "nothing was sent for it")
	assert.Equal(t, "development", got[2].Stage)
	assert.Contains(t, r.stderr, "failed standard input row 3: not a resource UUID")
	assert.Contains(t, r.stderr, "1 of 3 resources failed")
	assert.False(t, strings.Contains(r.stdout+r.stderr, canary))
	f.noSecrets(t, r)
}

func TestLenientBrokenJSONStopsReading(t *testing.T) {
	f := newFixture(t)
	in := fmt.Sprintf(`[{"uuid":%q,"token":%q}, {"uuid": %s`, f.ids[0], f.tokens[0], canary)
	r := runCLI(t, in, nil, "resolve", "--from", "-", "--lenient", "--api-url", f.srv.URL)
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout, "shop-0", "what came before the break is resolved")
	assert.Contains(t, r.stderr, "standard input item 2: invalid JSON")
	assert.Contains(t, r.stderr, "the rest of the input was not read")
	assert.False(t, strings.Contains(r.stderr, canary))
}

func TestDoubleDashEndsFlags(t *testing.T) {
	f := newFixture(t)
	env := map[string]string{tokenEnvVar: f.tokens[1]}
	r := runCLI(t, "", env, "resolve", "--api-url", f.srv.URL, "--", f.ids[1], "--json")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "argument 5 is not a resource UUID")
	assert.Empty(t, f.srv.Requests())

	r = runCLI(t, "", env, "resolve", "--api-url", f.srv.URL, "--", f.ids[1])
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, []string{f.ids[1], "ok", "shop-1", "shop", "production"}, strings.Fields(strings.Split(r.stdout, "\n")[1]))
}

func TestHelpOnceOnStdout(t *testing.T) {
	for _, args := range [][]string{{"resolve", "--help"}, {"resolve", "-h"}, {"resolve", "--json", "-help"}} {
		r := runCLI(t, "", nil, args...)
		assert.Equal(t, exitOK, r.code, args)
		assert.Empty(t, r.stderr, args)
		assert.Equal(t, 1, strings.Count(r.stdout, "Usage:"), args)
		assert.Contains(t, r.stdout, "--jsonl")
		assert.Contains(t, r.stdout, "--lenient")
	}
}

// hostile names hold what a terminal acts on: OSC retitle, clear screen,
// a C1 CSI, a bidi override, a forged line.
const hostile = "evil\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eppa\nfailed 00000000-0000-0000-0000-000000000000: fake\r\x7f"

func assertInert(t *testing.T, s string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\r", "\x7f", "\nfailed 0000"} {
		assert.NotContains(t, s, bad, "raw %q reached the output", bad)
	}
}

func TestServerStringsCannotDriveTheTerminal(t *testing.T) {
	srv := herokupartnertest.NewServer()
	t.Cleanup(srv.Close)
	p := srv.AddPipeline(hostile)
	app := srv.AddApp(hostile)
	srv.Couple(app.ID, p.ID, hp.StageStaging)
	a := srv.AddAddon(app.ID, "basic")
	env := map[string]string{tokenEnvVar: srv.IssueToken(a.ID)}

	for _, mode := range [][]string{nil, {"--group"}} {
		r := runCLI(t, "", env, append([]string{"resolve", a.ID.String(), "--api-url", srv.URL}, mode...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assertInert(t, r.stdout)
		assert.Contains(t, r.stdout, `evil\x1b]0;pwned\x07`, "escaped visibly, not dropped")
		assert.Contains(t, r.stdout, `\u202e`)
	}
	for _, mode := range [][]string{{"--json"}, {"--jsonl"}, {"--group", "--json"}} {
		r := runCLI(t, "", env, append([]string{"resolve", a.ID.String(), "--api-url", srv.URL}, mode...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assertInert(t, r.stdout)
		assert.Contains(t, r.stdout, hostileJSON(t), "JSON keeps the exact name, escaped")
	}
}

// hostileJSON is the name as a JSON string decodes it: the output must
// decode back to the exact name.
func hostileJSON(t *testing.T) string {
	var got string
	require.NoError(t, json.Unmarshal(jsonSafe(must(json.Marshal(hostile))), &got))
	require.Equal(t, hostile, got)
	return string(jsonSafe(must(json.Marshal(hostile))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestServerErrorsCannotDriveTheTerminal(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req-1")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"id": "forbidden\u009b", "message": hostile})
	}))
	t.Cleanup(api.Close)
	id := "01234567-89ab-cdef-0123-456789abcdef"
	r := runCLI(t, "", map[string]string{tokenEnvVar: "t"}, "resolve", id, "--api-url", api.URL)
	require.Equal(t, exitFailed, r.code)
	assertInert(t, r.stderr)
	assertInert(t, r.stdout)
	assert.Contains(t, r.stderr, "failed "+id+": add-on step:")
	assert.Equal(t, 2, strings.Count(r.stderr, "\n"), "one line per failure, one for the count: no forged lines\n%s", r.stderr)
}

func TestJSONOutputEscapesWhatEncodingJSONLeavesRaw(t *testing.T) {
	in := "a\x7fb\u0085c\u202ed\u2066e"
	out := jsonSafe(must(json.Marshal(in)))
	assertInert(t, string(out))
	assert.NotContains(t, string(out), "\u0085")
	assert.NotContains(t, string(out), "\u2066")
	var back string
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, in, back)
}

func TestCleanEscapesEveryControl(t *testing.T) {
	assert.Equal(t, "plain name", clean("plain name"))
	assert.Equal(t, `a\x09b\x0ac\x1bd\x7fe\u009bf\u202eg\xff`, clean("a\tb\nc\x1bd\x7fe\u009bf\u202eg\xff"))
	assert.Equal(t, "café ☕", clean("café ☕"))
}

// seeded is a fake holding n resources over a few pipelines, with the
// --from CSV naming them in a known order.
func seeded(t testing.TB, n int) (*herokupartnertest.Server, []string, string) {
	t.Helper()
	// The fake's one rate-limit bucket would run dry on a few thousand
	// requests; these tests are about streaming, not pacing.
	srv := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	var pipes []*hp.Pipeline
	for i := range 3 {
		pipes = append(pipes, srv.AddPipeline(fmt.Sprintf("p%d", i)))
	}
	var csv strings.Builder
	csv.WriteString("uuid,token\n")
	ids := make([]string, n)
	for i := range n {
		app := srv.AddApp(fmt.Sprintf("app-%d", i))
		if i%4 != 3 {
			srv.Couple(app.ID, pipes[i%3].ID, hp.StageStaging)
		}
		a := srv.AddAddon(app.ID, "basic")
		ids[i] = a.ID.String()
		fmt.Fprintf(&csv, "%s,%s\n", ids[i], srv.IssueToken(a.ID))
	}
	return srv, ids, csv.String()
}

func TestManyWindowsKeepInputOrder(t *testing.T) {
	n := 2*windowSize(2) + 17
	srv, ids, csv := seeded(t, n)
	r := runCLI(t, csv, nil, "resolve", "--from", "-", "--jsonl", "--concurrency", "2", "--api-url", srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, n)
	for i, l := range lines {
		var jr jsonResource
		require.NoError(t, json.Unmarshal([]byte(l), &jr))
		require.Equal(t, ids[i], jr.ResourceUUID, "line %d", i)
		require.Equal(t, fmt.Sprintf("app-%d", i), jr.App.Name)
	}

	// --json streams the same resources as one valid document.
	r = runCLI(t, csv, nil, "resolve", "--from", "-", "--json", "--api-url", srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc jsonDocument
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	require.Len(t, doc.Resources, n)
	assert.Equal(t, ids[n-1], doc.Resources[n-1].ResourceUUID)
	assert.Equal(t, jsonSummary{Total: n, InPipeline: n - n/4, NoPipeline: n / 4}, doc.Summary)
}

func TestEmptyJSONDocument(t *testing.T) {
	var buf bytes.Buffer
	w := &jsonWriter{w: &buf}
	require.NoError(t, w.finish(summary{}))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, []any{}, doc["resources"])
}

// signalWriter records what is written and closes first on the first
// write.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	first chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.first) })
	return w.buf.Write(p)
}

func TestResultsStreamBeforeInputEnds(t *testing.T) {
	srv, ids, csv := seeded(t, windowSize(DefaultConcurrencyForTest)+1)
	pr, pw := io.Pipe()
	out := &signalWriter{first: make(chan struct{})}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"resolve", "--from", "-", "--lenient", "--jsonl", "--api-url", srv.URL}, pr, out, io.Discard, func(string) string { return "" })
	}()
	// One full window, then hold the input open: its results must come
	// out while the rest of the input has not even been written.
	lines := strings.SplitAfter(csv, "\n")
	_, err := io.WriteString(pw, strings.Join(lines[:1+windowSize(DefaultConcurrencyForTest)], ""))
	require.NoError(t, err)
	select {
	case <-out.first:
	case <-time.After(60 * time.Second):
		t.Fatal("no output while the input stays open: results are not streamed")
	}
	_, err = io.WriteString(pw, strings.Join(lines[1+windowSize(DefaultConcurrencyForTest):], ""))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.Equal(t, exitOK, <-code)
	out.mu.Lock()
	defer out.mu.Unlock()
	assert.Equal(t, len(ids), strings.Count(out.buf.String(), "\n"))
}

const DefaultConcurrencyForTest = hp.DefaultBatchConcurrency

func TestGroup(t *testing.T) {
	f := newFixture(t)
	var csv strings.Builder
	csv.WriteString("uuid,token\n")
	for i := range f.ids {
		fmt.Fprintf(&csv, "%s,%s\n", f.ids[i], f.tokens[i])
	}
	r := runCLI(t, csv.String(), nil, "resolve", "--from", "-", "--group", "--api-url", f.srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, rows, 5)
	assert.Equal(t, []string{"PIPELINE", "STAGE", "APP", "RESOURCES"}, strings.Fields(rows[0]))
	// Stages in pipeline order: development, staging, production.
	assert.Equal(t, []string{"shop", "development", "shop-2", f.ids[2]}, strings.Fields(rows[1]))
	assert.Equal(t, []string{"shop", "staging", "shop-0", f.ids[0]}, strings.Fields(rows[2]))
	assert.Equal(t, []string{"shop", "production", "shop-1", f.ids[1]}, strings.Fields(rows[3]))
	assert.Equal(t, []string{"-", "-", "shop-3", f.ids[3]}, strings.Fields(rows[4]))
	f.noSecrets(t, r)

	f.srv.RevokeGrant(mustUUID(t, f.ids[0]))
	r = runCLI(t, csv.String(), nil, "resolve", "--from", "-", "--group", "--json", "--api-url", f.srv.URL)
	require.Equal(t, exitFailed, r.code)
	var d jsonDashboard
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d))
	require.Len(t, d.Pipelines, 1)
	assert.Equal(t, "shop", d.Pipelines[0].Name)
	var stages []string
	for _, s := range d.Pipelines[0].Stages {
		stages = append(stages, s.Stage)
	}
	assert.Equal(t, []string{"development", "production"}, stages)
	assert.Equal(t, []string{f.ids[1]}, d.Pipelines[0].Stages[1].Apps[0].Resources)
	require.Len(t, d.NoPipeline, 1)
	assert.Equal(t, "shop-3", d.NoPipeline[0].Name)
	require.Len(t, d.Failed, 1)
	assert.Equal(t, f.ids[0], d.Failed[0].ResourceUUID)
	assert.Equal(t, jsonSummary{Total: 4, InPipeline: 2, NoPipeline: 1, Failed: 1}, d.Summary)
	assert.Contains(t, r.stderr, "failed "+f.ids[0])

	r = runCLI(t, "", nil, "resolve", "--group", "--jsonl", f.ids[0])
	assert.Equal(t, exitUsage, r.code)
}

func TestInterruptStopsReading(t *testing.T) {
	n := windowSize(1) * 3
	srv, _, csv := seeded(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"resolve", "--from", "-", "--jsonl", "--concurrency", "1", "--api-url", srv.URL}, strings.NewReader(csv), &out, &errOut, func(string) string { return "" })
	assert.Equal(t, exitFailed, code)
	assert.Equal(t, windowSize(1), strings.Count(out.String(), "\n"), "one window fails, the rest is not read")
	assert.Contains(t, errOut.String(), "interrupted")
	assert.Contains(t, errOut.String(), "the rest of the input was not read")
}

func TestEmptyInput(t *testing.T) {
	r := runCLI(t, "# nothing\n", map[string]string{tokenEnvVar: "t"}, "resolve", "--from", "-")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "no resources")
}

func TestStreamedJSONIsTheEncodersDocument(t *testing.T) {
	r := runCLI(t, "", nil, "resolve", "--demo", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc jsonDocument
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(doc))
	assert.Equal(t, want.String(), r.stdout, "same bytes as encoding the whole document at once")
}

func TestStdinRedirectedFromFileIsRewound(t *testing.T) {
	f := newFixture(t)
	var csv strings.Builder
	csv.WriteString("# export\nuuid,token\n")
	for i := range f.ids {
		fmt.Fprintf(&csv, "%s,%s\n", f.ids[i], f.tokens[i])
	}
	in, err := os.Open(writeFile(t, "export.csv", csv.String()))
	require.NoError(t, err)
	defer in.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"resolve", "--from", "-", "--jsonl", "--api-url", f.srv.URL}, in, &out, &errOut, func(string) string { return "" })
	require.Equal(t, exitOK, code, errOut.String())
	assert.Equal(t, len(f.ids), strings.Count(out.String(), "\n"), "checked, then read again from the start")
}

func TestBadRowInFileNamesTheFileNotItsPath(t *testing.T) {
	f := newFixture(t)
	path := writeFile(t, canary+".csv", "uuid\n"+f.ids[0]+"\n\n"+canary+"\n")
	r := runCLI(t, "", map[string]string{tokenEnvVar: f.tokens[0]}, "resolve", "--from", path, "--api-url", f.srv.URL)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "file line 4: not a resource UUID")
	assert.NotContains(t, r.stderr, canaryCore)
	assert.Empty(t, f.srv.Requests())
}
