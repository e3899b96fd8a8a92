package pgtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// processes returns the postmaster's pid and those of its children (the
// backends and auxiliary processes), read from /proc.
func (s *Server) processes() []int {
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

// SignalAll sends sig to the postmaster's children and then to the
// postmaster. The postmaster is stopped first, so that it cannot fork a
// backend the signal would miss.
func (s *Server) SignalAll(sig syscall.Signal) {
	pm := s.cmd.Process.Pid
	if sig != syscall.SIGCONT {
		_ = syscall.Kill(pm, syscall.SIGSTOP)
	}
	for _, pid := range s.processes()[1:] {
		_ = syscall.Kill(pid, sig)
	}
	_ = syscall.Kill(pm, sig)
}

// Kill ends every process of the server at once, like a crash.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.SignalAll(syscall.SIGKILL)
	<-s.exited
}
