package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/addonkit/herokupartner/internal/pgtest"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// crashEnv is one scenario's world: the standalone fake Heroku in its own
// process, seeded with an app in a pipeline and an add-on, a database of
// its own on the shared PostgreSQL, and the backend processes. Every value
// that is a credential is listed in secrets, so that no failure message
// shows it.
type crashEnv struct {
	t          *testing.T
	backendBin string
	fake       *proc
	apiURL     string
	tokenURL   string
	oauth      string // the fake's client secret
	addon      uuid.UUID
	addonName  string
	dbURL      string
	db         *pgxpool.Pool
	addonID    string
	password   string
	secrets    []string
	client     *http.Client
	backends   []*backend
}

// backend is a running example backend.
type backend struct {
	*proc
	base string // its /heroku/resources URL
}

// bound is the longest the test waits for anything.
const bound = 60 * time.Second

const seedJSON = `{"apps": [{"name": "acme-web", "pipeline": "acme", "stage": "production", "addons": ["basic"]}]}`

func newCrashEnv(t *testing.T, pg *pgtest.Server, backendBin, cli, dbName string) *crashEnv {
	t.Helper()
	e := &crashEnv{t: t, backendBin: backendBin, addonID: "acme-crash", password: randomHex(16),
		client: &http.Client{Timeout: 10 * time.Second}}
	e.secrets = append(e.secrets, e.password)

	seed := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seed, []byte(seedJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	e.fake = startProc(t, "fake", cli, []string{"ADDON_ID=" + e.addonID, "TZ=UTC"}, pw,
		"fake", "--addr", "127.0.0.1:0", "--seed", seed)
	_ = pw.Close()
	t.Cleanup(func() { _ = pr.Close() })
	vars, notes, err := readSettings(pr, bound)
	if err != nil {
		t.Fatalf("fake: %v\n%s", err, e.fake.logTail())
	}
	e.apiURL, e.tokenURL, e.oauth = vars["HEROKU_API_URL"], vars["HEROKU_OAUTH_TOKEN_URL"], vars["HEROKU_OAUTH_SECRET"]
	e.secrets = append(e.secrets, e.oauth)
	if e.apiURL == "" || e.tokenURL == "" || e.oauth == "" {
		t.Fatalf("fake: printed settings %v, want HEROKU_API_URL, HEROKU_OAUTH_TOKEN_URL and HEROKU_OAUTH_SECRET", keys(vars))
	}
	// "# addon <uuid> <name> plan <plan> app <uuid>"
	f := strings.Fields(notes[len(notes)-1])
	if len(f) < 4 {
		t.Fatalf("fake: cannot read the seeded add-on from %q", notes[len(notes)-1])
	}
	if e.addon, err = uuid.Parse(f[2]); err != nil {
		t.Fatalf("fake: the seeded add-on's id is not a uuid: %v", err)
	}
	e.addonName = f[3]

	e.dbURL, e.db = createDatabase(t, pg, dbName)
	return e
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createDatabase creates a database of the scenario's own and returns its
// URL and a pool on it for the test's own queries.
func createDatabase(t *testing.T, pg *pgtest.Server, name string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	pool, err := pgxpool.New(ctx, pg.ConnString(name))
	if err != nil {
		t.Fatalf("connecting to database %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	return pg.URL(name), pool
}

// startBackend starts a backend process and waits until it answers.
func (e *crashEnv) startBackend(name string) *backend {
	e.t.Helper()
	for range 3 {
		if b := e.tryBackend(name); b != nil {
			return b
		}
	}
	e.t.Fatalf("%s: no free port after three tries", name)
	return nil
}

// tryBackend starts a backend on a port found free; it returns nil if
// another process took the port first.
func (e *crashEnv) tryBackend(name string) *backend {
	e.t.Helper()
	port, err := pgtest.FreePort()
	if err != nil {
		e.t.Fatal(err)
	}
	env := []string{
		"PORT=" + strconv.Itoa(port), "ADDON_ID=" + e.addonID, "ADDON_PASSWORD=" + e.password,
		"HEROKU_OAUTH_SECRET=" + e.oauth, "DATABASE_URL=" + e.dbURL,
		"HEROKU_API_URL=" + e.apiURL, "HEROKU_OAUTH_TOKEN_URL=" + e.tokenURL, "TZ=UTC",
	}
	b := &backend{proc: startProc(e.t, name, e.backendBin, env, nil),
		base: "http://127.0.0.1:" + strconv.Itoa(port) + "/heroku/resources"}
	probe := b.base + "/" + uuid.NewString()
	lost := false
	waitUntil(e.t, bound, name+" answers", func() (bool, error) {
		if !b.alive() {
			if strings.Contains(b.logTail(), "address already in use") {
				lost = true
				return true, nil
			}
			e.t.Fatalf("%s exited while starting:\n%s", name, b.logTail(e.secrets...))
		}
		status, _, err := e.send(http.MethodGet, probe, nil)
		return status == http.StatusNotFound, err
	})
	if lost {
		return nil
	}
	e.backends = append(e.backends, b)
	return b
}

// send makes a request to a backend with Heroku's Basic credentials and
// returns the status and the decoded JSON body.
func (e *crashEnv) send(method, url string, body []byte) (int, map[string]any, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(e.addonID, e.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(req)
}

func (e *crashEnv) do(req *http.Request) (int, map[string]any, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which holds no credential here.
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

// jobRow is the add-on's job as the backends recorded it in PostgreSQL.
type jobRow struct {
	state, step string
	attempts    int
	leased      bool // a backend holds the job's lease
	nextAttempt *time.Time
}

func (e *crashEnv) job() (jobRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var j jobRow
	err := e.db.QueryRow(ctx, `SELECT state, step, attempts, lease_owner <> '', next_attempt FROM `+
		pgx.Identifier{pgstore.DefaultJobsTable}.Sanitize()+` WHERE resource_uuid = $1`, e.addon).
		Scan(&j.state, &j.step, &j.attempts, &j.leased, &j.nextAttempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, errors.New("no job recorded")
	}
	return j, err
}

// storedTokens counts the add-on's rows in the token table.
func (e *crashEnv) storedTokens() int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	if err := e.db.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{pgstore.DefaultTable}.Sanitize()+
		` WHERE resource_uuid = $1`, e.addon).Scan(&n); err != nil {
		e.t.Fatalf("counting stored tokens: %v", err)
	}
	return n
}

// assertLogsClean checks that no backend log line, nor the fake's
// standard error, holds the add-on password, the client secret or a grant
// code.
func (e *crashEnv) assertLogsClean() {
	e.t.Helper()
	for _, p := range append([]*proc{e.fake}, backendProcs(e.backends)...) {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			e.t.Fatalf("reading the %s log: %v", p.name, err)
		}
		for i, v := range e.secrets {
			if bytes.Contains(b, []byte(v)) {
				e.t.Errorf("the %s log holds secret #%d of the test (password, client secret, grant codes)", p.name, i)
			}
		}
	}
}

func backendProcs(bs []*backend) []*proc {
	out := make([]*proc, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.proc)
	}
	return out
}

// logs is every backend's log tail, without secrets, for a failure
// message.
func (e *crashEnv) logs() string {
	var b strings.Builder
	for _, p := range e.backends {
		fmt.Fprintf(&b, "--- %s log:\n%s\n", p.name, p.logTail(e.secrets...))
	}
	return b.String()
}
