// Package health keeps what the parts of a running tap say of themselves
// (the publisher, the projection, the event-handler receiver...) so that
// serve's /readyz can answer which one is not ready and why.
//
// It imports only the standard library; any package of the recorder may
// report to it.
package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// Handler serves /healthz (the process is alive and serving: always 200)
// and /readyz (200 when every check passes and no part reported an error,
// else 503), each with a plain-text body of one line per part:
//
//	ok janus
//	ok nats
//	FAIL publish: publish to jetstream: ... (since 2026-12-05T19:50:01Z)
//
// The checks run concurrently, each bounded by timeout.
func Handler(s *Status, checks []Check, timeout time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		lines, ready := Ready(r.Context(), s, checks, timeout)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		for _, l := range lines {
			io.WriteString(w, l+"\n")
		}
	})
	return mux
}

// Ready runs the checks and reads the parts' reports. It returns one line
// per check and per part that reported, checks first in their order, and
// whether all of them are ready.
func Ready(ctx context.Context, s *Status, checks []Check, timeout time.Duration) (lines []string, ready bool) {
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = c.Run(cctx)
		})
	}
	wg.Wait()
	ready = true
	for i, c := range checks {
		if errs[i] != nil {
			ready = false
			lines = append(lines, fmt.Sprintf("FAIL %s: %v", c.Name, errs[i]))
		} else {
			lines = append(lines, "ok "+c.Name)
		}
	}
	for _, p := range s.Problems() {
		ready = false
		lines = append(lines, fmt.Sprintf("FAIL %s: %v (since %s)", p.Part, p.Err, p.Since.UTC().Format(time.RFC3339)))
	}
	return lines, ready
}
