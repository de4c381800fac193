package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/google/pprof/profile"
)

// A part is a share of serve's CPU, recognised by the functions on a
// sample's stack.
type part struct {
	name string
	re   *regexp.Regexp
}

// parts are checked in order: a sample belongs to the first part any frame
// of its stack matches, so that, say, encoding called by the tap is
// counted as encoding and not as the tap.
var parts = []part{
	{"event encoding", regexp.MustCompile(`janustap/schema\.(Encode|\(\*IDGen\))`)},
	{"spool", regexp.MustCompile(`janustap/recorder/spool\.`)},
	{"publisher (to JetStream)", regexp.MustCompile(`janustap/recorder/bus\.\(\*Publisher\)`)},
	{"reader and projection (SQLite)", regexp.MustCompile(`janustap/recorder/store\.|janustap/recorder\.\(\*Projector\)|janustap/recorder/bus\.\(\*Reader\)|mattn/go-sqlite3`)},
	{"NATS server (JetStream store, acks, dedupe)", regexp.MustCompile(`nats-server/v2/server\.`)},
	{"NATS client", regexp.MustCompile(`nats-io/nats\.go`)},
	{"metrics", regexp.MustCompile(`janustap/recorder/metrics\.`)},
	{"event fields (Janus parsing)", regexp.MustCompile(`janustap/schema\.`)},
	{"tap: WebSocket relay", regexp.MustCompile(`janustap/recorder/tap\.\(\*(wsPair|wsRelay|relayConn|frameScanner)\)|janustap/recorder/tap\.\(\*Tap\)\.serveWS|gorilla/websocket`)},
	{"tap: HTTP server and forwarding", regexp.MustCompile(`janustap/recorder/tap\.|net/http\.`)},
	{"garbage collector", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|gcStart|markroot)`)},
	{"Go scheduler and syscalls", regexp.MustCompile(`^runtime\.(mcall|schedule|findRunnable|park_m|goexit0|netpoll|mstart|sysmon)`)},
}

// otherPart is everything the parts do not name.
const otherPart = "other"

// PartCPU is the CPU one part of serve used, over a profile.
type PartCPU struct {
	Part  string
	CPU   time.Duration
	Share float64 // of the profile's total
}

// profiles gathers serve's CPU profiles, per target and transport, over the
// measured slices of a run.
type profiles struct {
	dir string                        // where merged profiles are written
	got map[string][]*profile.Profile // by target/transport
}

// fetch asks serve's pprof server at addr for a CPU profile of the next d,
// rounded up to a whole second (pprof's unit), and returns a function that
// waits for it and keeps it under key.
func (ps *profiles) fetch(ctx context.Context, addr, key string, d time.Duration) func() error {
	secs := int(math.Ceil(d.Seconds()))
	type result struct {
		p   *profile.Profile
		err error
	}
	ch := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
		if err != nil {
			ch <- result{err: err}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- result{err: fmt.Errorf("cpu profile of %s: %w", key, err)}
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			ch <- result{err: fmt.Errorf("cpu profile of %s: %s %s", key, resp.Status, b)}
			return
		}
		p, err := profile.Parse(resp.Body)
		if err != nil {
			err = fmt.Errorf("cpu profile of %s: %w", key, err)
		}
		ch <- result{p, err}
	}()
	return func() error {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		if ps.got == nil {
			ps.got = map[string][]*profile.Profile{}
		}
		ps.got[key] = append(ps.got[key], r.p)
		return nil
	}
}

// finish merges each key's profiles, writes them to dir as
// <target>-<transport>.pprof (for `go tool pprof`), and returns each key's
// CPU by part.
func (ps *profiles) finish() (map[string][]PartCPU, error) {
	out := map[string][]PartCPU{}
	for key, pp := range ps.got {
		p, err := profile.Merge(pp)
		if err != nil {
			return nil, fmt.Errorf("merge profiles of %s: %w", key, err)
		}
		if ps.dir != "" {
			if err := os.MkdirAll(ps.dir, 0o755); err != nil {
				return nil, err
			}
			f, err := os.Create(filepath.Join(ps.dir, key+".pprof"))
			if err != nil {
				return nil, err
			}
			err = p.Write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("write profile of %s: %w", key, err)
			}
		}
		out[key] = cpuByPart(p)
	}
	return out, nil
}

// cpuByPart splits a CPU profile's samples among the parts.
func cpuByPart(p *profile.Profile) []PartCPU {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	byPart := map[string]int64{}
	var total int64
	memo := map[uint64]int{} // location id → index of the first part it matches, len(parts) if none
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		best := len(parts)
		for _, loc := range s.Location {
			m, ok := memo[loc.ID]
			if !ok {
				m = slices.IndexFunc(parts, func(pt part) bool { return locationMatches(loc, pt.re) })
				if m < 0 {
					m = len(parts)
				}
				memo[loc.ID] = m
			}
			best = min(best, m)
		}
		name := otherPart
		if best < len(parts) {
			name = parts[best].name
		}
		byPart[name] += v
	}
	var res []PartCPU
	for _, pt := range append(slices.Clone(parts), part{name: otherPart}) {
		v := byPart[pt.name]
		if v == 0 {
			continue
		}
		share := 0.0
		if total > 0 {
			share = float64(v) / float64(total)
		}
		res = append(res, PartCPU{Part: pt.name, CPU: time.Duration(v), Share: share})
	}
	return res
}

func locationMatches(loc *profile.Location, re *regexp.Regexp) bool {
	for _, l := range loc.Line {
		if l.Function != nil && re.MatchString(l.Function.Name) {
			return true
		}
	}
	return false
}
