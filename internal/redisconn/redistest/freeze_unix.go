//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// Freeze stops the server's process (SIGSTOP) without closing its
// connections, as a hung host or a network partition would: commands and
// pings go unanswered until Thaw.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		if err := s.cmd.Process.Signal(sig); err != nil {
			s.t.Errorf("redistest: signalling %v: %v", s, err)
		}
	}
}
