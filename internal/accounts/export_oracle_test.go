package accounts

import "sync"

// HoldJobsForTest keeps background jobs from starting until the returned
// function is called, so that a test can look at what a request did
// before its job runs.
func (s *Service) HoldJobsForTest() (release func()) {
	ch := make(chan struct{})
	s.bg.jobs.hold.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(ch)
			s.bg.jobs.hold.Store(nil)
		})
	}
}

// JobsForTest returns how many background jobs requests asked for, and of
// those how many entered the queue and how many were dropped because it
// was full (a job enters the queue, or not, once its request has ended).
func (s *Service) JobsForTest() (requested, queued, dropped uint64) {
	q := s.bg.jobs
	return q.requested.Load(), q.queued.Load(), q.dropped.Load()
}
