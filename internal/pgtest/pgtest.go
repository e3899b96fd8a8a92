// Package pgtest starts throwaway PostgreSQL servers for the tests of the
// repository's modules (pgstore and the examples): a cluster in a temporary
// directory on a free loopback port, from Debian's postgresql package or
// $PG_BIN, gone when the tests end. It is internal: a test helper, not API.
package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallHint tells a developer without PostgreSQL's server binaries how
// to get them.
const InstallHint = "PostgreSQL server binaries (initdb, postgres) not found under $PG_BIN or /usr/lib/postgresql/*/bin; " +
	"install them with `apt-get install -y postgresql` (Debian/Ubuntu) or point PG_BIN at the directory holding initdb"

// ErrNoBinaries means the machine has no PostgreSQL server to start.
var ErrNoBinaries = errors.New(InstallHint)

// Server is a throwaway PostgreSQL cluster in a temporary directory,
// listening on a free loopback port. Nothing of it outlives the tests: the
// postmaster gets SIGQUIT if the test binary dies, and Stop removes the
// directory.
type Server struct {
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	logPath string
}

// findBinDir returns PG_BIN, or the newest /usr/lib/postgresql/<version>/bin
// holding initdb.
func findBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", ErrNoBinaries
	}
	version := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return filepath.Dir(dirs[0]), nil
}

// serverCredential says whom to run initdb and postgres as: PostgreSQL
// refuses to run as root, so as root they run as the "postgres" system user
// that Debian's package creates (or $PG_USER); otherwise as ourselves.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := os.Getenv("PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL will not: need an unprivileged user %q to run it as (Debian's postgresql package creates it; PG_USER names another): %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %q is root", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// Start creates and starts a new cluster; without server binaries its
// error matches ErrNoBinaries.
func Start() (*Server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// os.MkdirTemp rather than t.TempDir: the latter's parents are 0700
	// and root's, which the postgres user could not enter.
	parent := os.TempDir()
	if cred != nil && !othersCanEnter(parent) {
		parent = "/tmp"
	}
	removeStale(parent)
	dir, err := os.MkdirTemp(parent, dirPrefix+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logPath: filepath.Join(dir, "postgres.log")}
	if err := s.setup(bin, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// removeStale deletes the directories of earlier runs that died before
// cleaning up (their servers went with them, by Pdeathsig): those more
// than an hour old whose postmaster is not running.
func removeStale(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && syscall.Kill(pid, 0) == nil {
				continue
			}
		}
		_ = os.RemoveAll(d)
	}
}

// othersCanEnter says whether every directory from / down to dir lets
// other users through, as the server's user must reach its data directory.
func othersCanEnter(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func (s *Server) setup(bin string, cred *syscall.Credential) error {
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return err
	}
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
	initdb := s.command(cred, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A free port can be taken between our probe and the server's bind;
	// then the server exits and we try another.
	var lastErr error
	for range 5 {
		port, err := FreePort()
		if err != nil {
			return err
		}
		lastErr = s.launch(bin, cred, data, sock, port)
		if lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (s *Server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "HOME=" + s.dir, "TZ=UTC"}
	// Pdeathsig stops the server if the test binary dies without running
	// its cleanup (a panic, a timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *Server) launch(bin string, cred *syscall.Credential, data, sock string, port int) error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := s.command(cred, filepath.Join(bin, "postgres"),
		"-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.port = cmd, exited, port

	// pg_isready, from the same binaries, asks without a driver, which
	// keeps this package free of dependencies.
	deadline := time.Now().Add(60 * time.Second)
	for {
		probe := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-d", "postgres", "-t", "2")
		out, err := probe.CombinedOutput()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited while starting:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("postgres did not accept connections within a minute: %v %s\n%s", err, out, s.logTail())
		}
	}
}

// FreePort returns a loopback TCP port that was free when asked; another
// process may take it before the caller binds it, so callers retry.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ConnString is for database db on the server, over TCP on loopback.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=10", s.port, db)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop shuts the server down (fast shutdown, then SIGKILL if it lingers)
// and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			// A frozen server would ignore SIGINT.
			s.SignalAll(syscall.SIGCONT)
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				s.Kill()
			}
		}
	}
	_ = os.RemoveAll(s.dir)
}

// dirPrefix names the servers' directories, so that removeStale finds those
// of earlier runs that died before cleaning up.
const dirPrefix = "herokupartner-pg"

// URL is ConnString as a postgres:// URL, the form DATABASE_URL takes.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10", s.port, db)
}

// ForTest starts a server for tb and stops it when tb ends. Without
// PostgreSQL's binaries the test is skipped, except under CI=true, where it
// fails: CI must not pass by skipping what matters.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	switch {
	case errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true":
		tb.Skip(InstallHint)
	case err != nil:
		tb.Fatalf("cannot start a throwaway PostgreSQL server: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}
