package pgstore_test

import (
	"bytes"
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
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// installHint is what a developer without PostgreSQL's server binaries is
// told.
const installHint = "PostgreSQL server binaries (initdb, postgres) not found under $PG_BIN or /usr/lib/postgresql/*/bin; " +
	"install them with `apt-get install -y postgresql` (Debian/Ubuntu) or point PG_BIN at the directory holding initdb"

// errNoBinaries means the machine has no PostgreSQL server to start.
var errNoBinaries = errors.New(installHint)

// pgServer is a throwaway PostgreSQL cluster in a temporary directory,
// listening on a free loopback port. Nothing of it outlives the tests: the
// postmaster gets SIGQUIT if the test binary dies, and stop removes the
// directory.
type pgServer struct {
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
		return "", errNoBinaries
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

// startServer creates and starts a new cluster.
func startServer() (*pgServer, error) {
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
	dir, err := os.MkdirTemp(parent, "pgstore-test-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, logPath: filepath.Join(dir, "postgres.log")}
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
	dirs, _ := filepath.Glob(filepath.Join(parent, "pgstore-test-*"))
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

func (s *pgServer) setup(bin string, cred *syscall.Credential) error {
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
		port, err := freePort()
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

func (s *pgServer) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "HOME=" + s.dir, "TZ=UTC"}
	// Pdeathsig stops the server if the test binary dies without running
	// its cleanup (a panic, a timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *pgServer) launch(bin string, cred *syscall.Credential, data, sock string, port int) error {
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
			return fmt.Errorf("postgres exited while starting:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres did not accept connections within a minute: %v\n%s", err, s.logTail())
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

// connString is for database db on the server, over TCP on loopback.
func (s *pgServer) connString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=10", s.port, db)
}

func (s *pgServer) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// processes returns the postmaster's pid and those of its children (the
// backends and auxiliary processes), read from /proc.
func (s *pgServer) processes() []int {
	root := s.cmd.Process.Pid
	pids := []int{root}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses; the fields
		// after its last ')' are "state ppid ...".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(root) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// signalAll sends sig to the postmaster's children and then to the
// postmaster. The postmaster is stopped first, so that it cannot fork a
// backend the signal would miss.
func (s *pgServer) signalAll(sig syscall.Signal) {
	pm := s.cmd.Process.Pid
	if sig != syscall.SIGCONT {
		_ = syscall.Kill(pm, syscall.SIGSTOP)
	}
	for _, pid := range s.processes()[1:] {
		_ = syscall.Kill(pid, sig)
	}
	_ = syscall.Kill(pm, sig)
}

// kill ends every process of the server at once, like a crash.
func (s *pgServer) kill() {
	if s.cmd == nil {
		return
	}
	s.signalAll(syscall.SIGKILL)
	<-s.exited
}

// stop shuts the server down (fast shutdown, then SIGKILL if it lingers)
// and removes its directory.
func (s *pgServer) stop() {
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			// A frozen server would ignore SIGINT.
			s.signalAll(syscall.SIGCONT)
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				s.kill()
			}
		}
	}
	_ = os.RemoveAll(s.dir)
}
