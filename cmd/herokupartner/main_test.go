package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
)

// fixture is a fake API with three resources in one pipeline, one in
// none, each with its own token.
type fixture struct {
	srv    *herokupartnertest.Server
	ids    []string
	tokens []string
	apps   []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := herokupartnertest.NewServer()
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}
	p := srv.AddPipeline("shop")
	for i, s := range []hp.Stage{hp.StageStaging, hp.StageProduction, hp.StageDevelopment, ""} {
		name := fmt.Sprintf("shop-%d", i)
		app := srv.AddApp(name)
		if s != "" {
			srv.Couple(app.ID, p.ID, s)
		}
		a := srv.AddAddon(app.ID, "basic")
		f.ids = append(f.ids, a.ID.String())
		f.tokens = append(f.tokens, srv.IssueToken(a.ID))
		f.apps = append(f.apps, name)
	}
	return f
}

type runResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return runResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// noSecrets fails if any token appears in the output, without printing it.
func (f *fixture) noSecrets(t *testing.T, r runResult) {
	t.Helper()
	for _, tok := range f.tokens {
		assert.False(t, strings.Contains(r.stdout+r.stderr, tok), "a token was printed")
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestTableWithTokenFromEnvironment(t *testing.T) {
	f := newFixture(t)
	r := runCLI(t, "", map[string]string{tokenEnvVar: f.tokens[1]}, "resolve", f.ids[1], "--api-url", f.srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, []string{"RESOURCE", "STATUS", "APP", "PIPELINE", "STAGE"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{f.ids[1], "ok", "shop-1", "shop", "production"}, strings.Fields(lines[1]))
	assert.Empty(t, r.stderr)
	f.noSecrets(t, r)
}

func TestTokenFlag(t *testing.T) {
	f := newFixture(t)
	r := runCLI(t, "", nil, "resolve", "--token", f.tokens[3], "--api-url", f.srv.URL, f.ids[3])
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, []string{f.ids[3], "no_pipeline", "shop-3", "-", "-"}, strings.Fields(strings.Split(r.stdout, "\n")[1]))
	f.noSecrets(t, r)
}

func TestFromCSVWithHeaderAsJSON(t *testing.T) {
	f := newFixture(t)
	var csv strings.Builder
	csv.WriteString("customer,Resource_UUID,access_token\n")
	for i := range f.ids {
		fmt.Fprintf(&csv, "c%d,%s,%s\n", i, f.ids[i], f.tokens[i])
	}
	r := runCLI(t, "", nil, "resolve", "--from", writeFile(t, "export.csv", csv.String()), "--json", "--api-url", f.srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	f.noSecrets(t, r)

	var doc struct {
		Resources []map[string]any `json:"resources"`
		Summary   map[string]int   `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.Equal(t, map[string]int{"total": 4, "in_pipeline": 3, "no_pipeline": 1, "failed": 0}, doc.Summary)
	require.Len(t, doc.Resources, 4)
	first := doc.Resources[0]
	for _, k := range []string{"resource_uuid", "status", "addon", "app", "pipeline", "stage", "error"} {
		assert.Contains(t, first, k, "stable field %s", k)
	}
	assert.Equal(t, f.ids[0], first["resource_uuid"])
	assert.Equal(t, "ok", first["status"])
	assert.Equal(t, "staging", first["stage"])
	assert.Equal(t, "shop", first["pipeline"].(map[string]any)["name"])
	assert.Equal(t, "shop-0", first["app"].(map[string]any)["name"])
	assert.Nil(t, first["error"])
	last := doc.Resources[3]
	assert.Equal(t, "no_pipeline", last["status"])
	assert.Nil(t, last["pipeline"])
}

func TestFromCSVWithoutHeaderOnStdinAsJSONL(t *testing.T) {
	f := newFixture(t)
	csv := fmt.Sprintf("%s,%s\n%s, %s\n", f.ids[0], f.tokens[0], f.ids[2], f.tokens[2])
	r := runCLI(t, csv, nil, "resolve", "--from", "-", "--jsonl", "--api-url", f.srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	var got []jsonResource
	for _, l := range lines {
		var jr jsonResource
		require.NoError(t, json.Unmarshal([]byte(l), &jr))
		got = append(got, jr)
	}
	assert.Equal(t, f.ids[0], got[0].ResourceUUID)
	assert.Equal(t, "development", got[1].Stage)
	f.noSecrets(t, r)
}

func TestFromJSONForms(t *testing.T) {
	f := newFixture(t)
	array := fmt.Sprintf(`[{"uuid":%q,"token":%q},{"resource_uuid":%q,"access_token":%q}]`, f.ids[0], f.tokens[0], f.ids[1], f.tokens[1])
	lines := fmt.Sprintf("{\"id\":%q,\"token\":%q}\n{\"uuid\":%q,\"token\":%q}\n", f.ids[2], f.tokens[2], f.ids[3], f.tokens[3])
	for name, in := range map[string]string{"array": array, "lines": lines} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, in, nil, "resolve", "--from", "-", "--jsonl", "--api-url", f.srv.URL)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2)
			f.noSecrets(t, r)
		})
	}
}

func TestFromPlainLines(t *testing.T) {
	f := newFixture(t)
	in := "# resources of one customer\n\n" + f.ids[2] + "\n"
	r := runCLI(t, "", map[string]string{tokenEnvVar: f.tokens[2]}, "resolve", "--from", writeFile(t, "ids.txt", in), "--api-url", f.srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "development")
}

func TestSomeFailedExitsOneWithRequestIDs(t *testing.T) {
	f := newFixture(t)
	f.srv.RevokeGrant(mustUUID(t, f.ids[1]))
	var csv strings.Builder
	csv.WriteString("uuid,token\n")
	for i := range f.ids {
		fmt.Fprintf(&csv, "%s,%s\n", f.ids[i], f.tokens[i])
	}
	r := runCLI(t, csv.String(), nil, "resolve", "--from", "-", "--api-url", f.srv.URL)
	require.Equal(t, exitFailed, r.code)
	f.noSecrets(t, r)

	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, rows, 5, "every resource has a row, failed ones too")
	assert.Equal(t, []string{f.ids[1], "failed", "-", "-", "-"}, strings.Fields(rows[2]))
	assert.Equal(t, "ok", strings.Fields(rows[1])[1])

	assert.Contains(t, r.stderr, "failed "+f.ids[1]+": add-on step:")
	assert.Contains(t, r.stderr, "401")
	assert.Contains(t, r.stderr, "[request id ", "each failure names its request id")
	assert.Contains(t, r.stderr, "1 of 4 resources failed")

	// The JSON output carries the same facts for scripts.
	r = runCLI(t, csv.String(), nil, "resolve", "--from", "-", "--json", "--api-url", f.srv.URL)
	require.Equal(t, exitFailed, r.code)
	var doc jsonDocument
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	e := doc.Resources[1].Error
	require.NotNil(t, e)
	assert.Equal(t, "add-on", e.Step)
	assert.Equal(t, 401, e.Status)
	assert.Equal(t, "unauthorized", e.HerokuID)
	assert.NotEmpty(t, e.RequestID)
	assert.Equal(t, 1, doc.Summary.Failed)
}

func TestWrongTokenFails(t *testing.T) {
	f := newFixture(t)
	r := runCLI(t, "", map[string]string{tokenEnvVar: f.tokens[0]}, "resolve", f.ids[0], f.ids[1], "--api-url", f.srv.URL)
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stderr, "failed "+f.ids[1]+": add-on step:")
	assert.NotContains(t, r.stderr, "failed "+f.ids[0])
	f.noSecrets(t, r)
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}

func TestBadUsageExitsTwoAndSendsNothing(t *testing.T) {
	f := newFixture(t)
	url := f.srv.URL
	env := map[string]string{tokenEnvVar: f.tokens[0]}
	cases := []struct {
		name  string
		stdin string
		env   map[string]string
		args  []string
		want  string
	}{
		{"no command", "", env, nil, "Usage"},
		{"unknown command", "", env, []string{"frobnicate"}, "argument 1 is not a known command"},
		{"unknown flag", "", env, []string{"resolve", "--nope", f.ids[0]}, "argument 1 is not a known flag"},
		{"no resources", "", env, []string{"resolve", "--api-url", url}, "no resources"},
		{"bad uuid", "", env, []string{"resolve", f.ids[0], "HRKU-secret-looking-thing", "--api-url", url}, "argument 2 is not a resource UUID"},
		{"json and jsonl", "", env, []string{"resolve", "--json", "--jsonl", f.ids[0], "--api-url", url}, "cannot be used together"},
		{"no token", "", nil, []string{"resolve", f.ids[0], "--api-url", url}, "no token for argument 1"},
		{"some rows without token", "uuid,token\n" + f.ids[0] + ",tok\n" + f.ids[1] + ",\n", nil, []string{"resolve", "--from", "-", "--api-url", url}, "no token for standard input row 3"},
		{"csv without uuid column", "name,token\nx,y\n", env, []string{"resolve", "--from", "-", "--api-url", url}, "names no uuid column"},
		{"csv bad uuid", "uuid,token\nnot-a-uuid,x\n", env, []string{"resolve", "--from", "-", "--api-url", url}, "row 2: not a resource UUID"},
		{"bad json", `[{"uuid": }]`, env, []string{"resolve", "--from", "-", "--api-url", url}, "invalid JSON"},
		{"json without uuid", `[{"token":"x"}]`, env, []string{"resolve", "--from", "-", "--api-url", url}, "no uuid field"},
		{"bad line", f.ids[0] + "\nnope\n", env, []string{"resolve", "--from", "-", "--api-url", url}, "standard input line 2: not a resource UUID"},
		{"missing file", "", env, []string{"resolve", "--from", filepath.Join(t.TempDir(), "absent"), "--api-url", url}, "--from"},
		{"demo with resources", "", nil, []string{"resolve", "--demo", f.ids[0]}, "--demo takes no resources"},
		{"concurrency", "", env, []string{"resolve", "--concurrency", "0", f.ids[0], "--api-url", url}, "--concurrency"},
		{"progress", "", env, []string{"resolve", "--progress", "sometimes", f.ids[0], "--api-url", url}, "--progress"},
		{"plain http elsewhere", "", env, []string{"resolve", f.ids[0], "--api-url", "http://api.example.com"}, "plain http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.ResetRequests()
			r := runCLI(t, tc.stdin, tc.env, tc.args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tc.want)
			assert.Empty(t, r.stdout)
			assert.Empty(t, f.srv.Requests(), "bad usage sends nothing")
			f.noSecrets(t, r)
			assert.NotContains(t, r.stderr, "HRKU-secret-looking-thing", "input values are not echoed")
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"resolve", "-h"}} {
		r := runCLI(t, "", nil, args...)
		assert.Equal(t, exitOK, r.code, args)
		assert.Contains(t, r.stdout, "Usage:")
		assert.Contains(t, r.stdout, "-jsonl")
	}
}

func TestDemo(t *testing.T) {
	r := runCLI(t, "", nil, "resolve", "--demo")
	require.Equal(t, exitOK, r.code, r.stderr)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, rows, 1+8)
	assert.Equal(t, []string{"ok", "acme-shop-pr-1412", "acme-shop", "review"}, strings.Fields(rows[1])[1:])
	assert.Equal(t, []string{"no_pipeline", "initech-scratch", "-", "-"}, strings.Fields(rows[8])[1:])
	assert.Contains(t, r.stderr, "demo: resolving 8 add-ons")

	r = runCLI(t, "", nil, "resolve", "--demo", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var doc jsonDocument
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.Equal(t, jsonSummary{Total: 8, InPipeline: 7, NoPipeline: 1}, doc.Summary)
}

func TestProgressBar(t *testing.T) {
	r := runCLI(t, "", nil, "resolve", "--demo", "--progress", "always")
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "\r[##############################] 8/8")
	assert.Contains(t, r.stderr, "\r[")

	// auto: a buffer is not a terminal, so no bar.
	r = runCLI(t, "", nil, "resolve", "--demo")
	assert.NotContains(t, r.stderr, "\r")
}

func TestProgressBarDrawing(t *testing.T) {
	var buf bytes.Buffer
	p := &progressBar{w: &buf}
	for i := 1; i <= 1000; i++ {
		p.update(i, 1000)
	}
	assert.Equal(t, 101, strings.Count(buf.String(), "\r"), "redrawn once per percent (0 to 100), not once per item")
	p.clear()
	assert.True(t, strings.HasSuffix(buf.String(), "\r"+strings.Repeat(" ", p.lastLen)+"\r"))
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"resolve", "--demo"}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut.String(), "context canceled")
	assert.Contains(t, errOut.String(), "[no answer, so no request id]")
}
