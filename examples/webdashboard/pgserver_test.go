package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The DATABASE_URL tests run against a real PostgreSQL, started here
// the way pgstore's tests start theirs (test helpers cannot be imported
// across packages): a throwaway cluster in a temporary directory on a free
// loopback port, gone when the test ends.

const pgInstallHint = "PostgreSQL server binaries (initdb, postgres) not found under $PG_BIN or /usr/lib/postgresql/*/bin; " +
	"install them with `apt-get install -y postgresql` or point PG_BIN at the directory holding initdb"

var errNoPostgres = errors.New(pgInstallHint)

type pgServer struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// startPostgres starts a cluster for t and stops it when t ends. Without
// PostgreSQL's binaries the test is skipped, except under CI=true where it
// fails: CI must not pass by skipping what matters.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	s, err := newPGServer()
	switch {
	case errors.Is(err, errNoPostgres) && os.Getenv("CI") != "true":
		t.Skip(pgInstallHint)
	case err != nil:
		t.Fatalf("cannot start a throwaway PostgreSQL server: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func pgBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BIN: %w", err)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", errNoPostgres
	}
	version := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0]), nil
}

// pgCredential is whom PostgreSQL runs as: it refuses root, so as root it
// runs as the "postgres" user Debian's package creates (or $PG_USER).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := os.Getenv("PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL will not: need an unprivileged user %q (PG_USER names another): %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil || uid == 0 {
		return nil, fmt.Errorf("user %q cannot run PostgreSQL", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func newPGServer() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	// Under /tmp rather than t.TempDir: the latter's parents are 0700 and
	// root's, which the postgres user could not enter.
	dir, err := os.MkdirTemp("/tmp", "webdashboard-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir}
	if err := s.setup(bin, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *pgServer) setup(bin string, cred *syscall.Credential) error {
	data, sock := filepath.Join(s.dir, "data"), filepath.Join(s.dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return err
	}
	if cred != nil {
		for _, p := range []string{s.dir, sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
	}
	initdb := s.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 5 { // a probed free port can be taken before postgres binds it
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = s.launch(bin, cred, data, sock, port); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (s *pgServer) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "HOME=" + s.dir, "TZ=UTC"}
	// Pdeathsig stops the server if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *pgServer) launch(bin string, cred *syscall.Credential, data, sock string, port int) error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := s.command(cred, filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.port = cmd, exited, port
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgconn.Connect(ctx, s.connString("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited while starting (see postgres.log)")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("postgres did not accept connections within a minute: %v", err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// connString is for database db, over TCP on loopback; it holds no secret.
func (s *pgServer) connString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=10", s.port, db)
}

// url is connString as the DATABASE_URL the backend reads.
func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10", s.port, db)
}

// stop shuts the server down (fast shutdown, SIGKILL if it lingers) and
// removes its directory.
func (s *pgServer) stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	_ = os.RemoveAll(s.dir)
}
