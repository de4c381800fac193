// Package health keeps what the parts of a running tap say of themselves
// (the publisher, the projection, the event-handler receiver...) so that
// serve's /readyz can answer which one is not ready and why.
//
// It imports only the standard library; any package of the recorder may
// report to it.
package health

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Status holds the latest word of each part. The zero value is ready to use;
// a nil *Status ignores reports, so a part can report without checking that
// anyone listens.
type Status struct {
	mu    sync.Mutex
	parts map[string]state
}

type state struct {
	err   error
	since time.Time
}

// Set records part's state: nil when it works, the error that stops it
// otherwise. A part that recovers calls Set(part, nil).
func (s *Status) Set(part string, err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts == nil {
		s.parts = make(map[string]state)
	}
	old, ok := s.parts[part]
	if ok && (old.err == nil) == (err == nil) {
		// Keep the time the state began; refresh the message.
		s.parts[part] = state{err: err, since: old.since}
		return
	}
	s.parts[part] = state{err: err, since: time.Now()}
}

// Problem is a part that is not ready.
type Problem struct {
	Part  string
	Err   error
	Since time.Time
}

// Problems lists the parts whose last report was an error, by name.
func (s *Status) Problems() []Problem {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []Problem
	for name, st := range s.parts {
		if st.err != nil {
			ps = append(ps, Problem{Part: name, Err: st.err, Since: st.since})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Part < ps[j].Part })
	return ps
}

// Check is a readiness probe run at each request of /readyz (Janus answers,
// NATS is connected...). It returns nil when its part is ready.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}
