// Package replayer plays captured Janus flows against any gateway and says
// exactly where the new run differs from the capture.
//
// A flow is selected from captured events (one or more sessions, one client
// connection, or a time range of a gateway; see Select), planned per client
// (package plan), played with ids rewritten and causal pacing (packages
// rewrite and drive), and compared with the capture (package diff).
//
// It may import its subpackages, schema, and recorder/store, which owns the
// rule of which events belong to a session (store.SessionEvents).
package replayer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// Selection picks a flow out of captured events. Zero fields select
// everything; set fields must all match.
type Selection struct {
	Gateway  string    // the gateway the events were captured in front of
	Sessions []uint64  // these sessions, each with its create
	Conn     string    // everything one client connection did
	From, To time.Time // a time range (To excluded)
}

// Select returns the events of evs that sel picks, in their order. A
// session brings what store.SessionEvents says belongs to it: the request
// and answer that created it, its handles' events and, over WebSocket, the
// opening and closing of its connection. Janus's own events (EVH) are never
// picked: they are nothing a client said.
func Select(evs []*schema.Event, sel Selection) []*schema.Event {
	var out []*schema.Event
	for _, ev := range evs {
		if ev.Transport == schema.EVH ||
			sel.Gateway != "" && ev.Gateway != sel.Gateway ||
			sel.Conn != "" && ev.Conn != sel.Conn ||
			!sel.From.IsZero() && ev.Time.Before(sel.From) ||
			!sel.To.IsZero() && !ev.Time.Before(sel.To) {
			continue
		}
		out = append(out, ev)
	}
	if len(sel.Sessions) == 0 {
		return out
	}
	// The sessions are found among the gateway's events, whatever their
	// connection or time.
	gw := evs
	if sel.Gateway != "" {
		gw = slices.DeleteFunc(slices.Clone(evs), func(ev *schema.Event) bool { return ev.Gateway != sel.Gateway })
	}
	in := map[*schema.Event]bool{}
	for _, ev := range store.SessionEvents(gw, sel.Sessions...) {
		in[ev] = true
	}
	return slices.DeleteFunc(out, func(ev *schema.Event) bool { return !in[ev] })
}

// DataChannelEvents returns the events of all that Janus's event handlers
// reported (schema.JanusEvent) for the handles of flow (events Select
// picked) that drive.Options.DataChannel needs: the plugin events, some
// of which show what a client sent over its data channel, which the tap
// does not see (a textroom join or leave), and the PeerConnection's
// hangups, which tell a client's textroom leave from the one the plugin
// makes itself as the PeerConnection goes.
//
// Each is a copy whose Time is Janus's timestamp moved to the tap's clock,
// where the event happened among the capture's requests: Janus stamps an
// event when it makes it and posts it later (grouped, retried), so the
// time the tap received it says little. Janus's clock is taken to be
// behind the tap's by the least of (what the tap saw after it − Janus's
// timestamp): the tap's receipt of every Janus event of the flow's
// gateways, and the answers to the creates and attaches it forwarded
// against Janus's created and attached events (as the projection
// estimates it for show).
func DataChannelEvents(all, flow []*schema.Event) []*schema.Event {
	handles := map[uint64]bool{}
	gateways := map[string]bool{}
	for _, ev := range flow {
		gateways[ev.Gateway] = true
		if h := ev.HandleID(); h != 0 {
			handles[h] = true
		}
		if ev.Janus != nil && ev.Janus.Janus == "success" && ev.Janus.DataID != 0 {
			handles[ev.Janus.DataID] = true // an attach answer names its handle
		}
	}
	// The tap's first answer naming each new id (a create's or an
	// attach's), by gateway and id.
	answered := map[string]time.Time{}
	for _, ev := range all {
		if ev.Direction == schema.ToClient && ev.Janus != nil && ev.Janus.Janus == "success" && ev.Janus.DataID != 0 {
			k := ev.Gateway + "\x00" + strconv.FormatUint(ev.Janus.DataID, 10)
			if t, ok := answered[k]; !ok || ev.Time.Before(t) {
				answered[k] = ev.Time
			}
		}
	}
	var offset time.Duration
	known := false
	bound := func(after, at time.Time) {
		if d := after.Sub(at); !known || d < offset {
			offset, known = d, true
		}
	}
	var picked []*schema.Event
	var stamps []time.Time
	for _, ev := range all {
		if ev.Kind != schema.JanusEvent || !gateways[ev.Gateway] {
			continue
		}
		env, err := schema.ParseEvhEnvelope(ev.Body)
		if err != nil || env.Timestamp <= 0 {
			continue
		}
		at := schema.JanusTime(env.Timestamp)
		bound(ev.Time, at)
		var e struct {
			Name string `json:"name"`
		}
		json.Unmarshal(env.Event, &e)
		switch {
		case env.Type == schema.EvhSession && e.Name == "created":
			if t, ok := answered[ev.Gateway+"\x00"+strconv.FormatUint(env.SessionID, 10)]; ok {
				bound(t, at)
			}
		case env.Type == schema.EvhHandle && e.Name == "attached":
			if t, ok := answered[ev.Gateway+"\x00"+strconv.FormatUint(env.HandleID, 10)]; ok {
				bound(t, at)
			}
		case (env.Type == schema.EvhPlugin || env.Type == schema.EvhWebRTC && env.Subtype == schema.EvhWebRTCPC) && handles[env.HandleID]:
			picked = append(picked, ev)
			stamps = append(stamps, at)
		}
	}
	out := make([]*schema.Event, len(picked))
	for i, ev := range picked {
		c := *ev
		c.Time = stamps[i].Add(offset)
		out[i] = &c
	}
	return out
}

// ReadJSONL reads events written one per line by schema.Encode (the format
// of `janustap export --format jsonl`).
func ReadJSONL(r io.Reader) ([]*schema.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	var evs []*schema.Event
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		ev, err := schema.Decode(line)
		if err != nil {
			return evs, fmt.Errorf("read events: line %d: %w", n, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return evs, fmt.Errorf("read events: %w", err)
	}
	return evs, nil
}

// Options control a replay.
type Options struct {
	drive.Options
	// Repeat plays the flow this many times (0 means 1), Concurrency of
	// them at once (0 means 1): a load test made of a real capture.
	Repeat, Concurrency int
	// Rules normalise the runs before comparing; nil means the defaults.
	Rules *diff.Rules
	// Diff controls the comparison.
	Diff diff.Options
}

// Result is what a replay did.
type Result struct {
	// Captured is the flow that was replayed.
	Captured []*schema.Event
	// Runs are the replays, in the order they were started; nil for a run
	// that never started (the context ended first). Of a load replay
	// (Repeat > 1) only the first run keeps its Events: the others are
	// compared as they end and keep their report, so that memory does not
	// grow with the number of runs.
	Runs []*drive.Result
	// Reports compare each run with the capture.
	Reports []*diff.Report
	// Duration is the wall time of all runs.
	Duration time.Duration
}

// Summary counts the runs of a replay by how they ended.
type Summary struct {
	Runs       int // asked for
	Matched    int // ran to the end and matched the capture
	Differed   int // ran to the end and differed (or could not send something)
	Cancelled  int // started, then cut short by the context
	NotStarted int // never started: the context ended first
}

// Summary counts the runs. Only runs that ran to the end are matched or
// differed.
func (r *Result) Summary() Summary {
	s := Summary{Runs: len(r.Runs)}
	for i, run := range r.Runs {
		switch {
		case run == nil:
			s.NotStarted++
		case run.Cancelled:
			s.Cancelled++
		case r.Reports[i] != nil && r.Reports[i].Same && len(run.Errors) == 0:
			s.Matched++
		default:
			s.Differed++
		}
	}
	return s
}

// Same reports whether every run matched the capture and could send all
// it had to. Waits that ran out are timing notes, not differences: what
// they waited for shows in the reports when it never came.
func (r *Result) Same() bool {
	for i, rep := range r.Reports {
		if rep == nil || !rep.Same || len(r.Runs[i].Errors) > 0 {
			return false
		}
	}
	return true
}

// keepDiffering is how many differing runs of a load replay keep their
// events, besides the first run.
const keepDiffering = 10

// Replay plays the captured flow evs according to opts. The runs share one
// HTTP transport, closed when the last ends; each run closes its own
// WebSockets and long-polls as it ends.
func Replay(ctx context.Context, evs []*schema.Event, opts Options) (*Result, error) {
	p, err := plan.Build(evs)
	if err != nil {
		return nil, err
	}
	repeat, conc := max(opts.Repeat, 1), max(opts.Concurrency, 1)
	if opts.Media != nil {
		// With a peer, what media makes happen is reproduced, and compared;
		// the peer's own SDP and candidates are not.
		opts.Diff.CompareMedia = true
		opts.Diff.OwnPeer = true
	}
	rules := opts.Rules
	if rules == nil {
		rules = diff.DefaultRules()
	}
	if opts.HTTPTransport == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: max(64, 2*conc), DisableCompression: true}
		defer tr.CloseIdleConnections()
		opts.HTTPTransport = tr
	}
	res := &Result{Captured: evs, Runs: make([]*drive.Result, repeat), Reports: make([]*diff.Report, repeat)}
	start := time.Now()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	kept := 0 // differing runs that keep their events
	for i := range repeat {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("replay: %w", ctx.Err())
			}
			mu.Unlock()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			o := opts.Options
			if repeat > 1 {
				o.Run = fmt.Sprintf("r%d", i+1)
			}
			labels := map[string]string{"replay_run": o.Run}
			for k, v := range opts.Labels {
				labels[k] = v
			}
			o.Labels = labels
			run, err := drive.Replay(ctx, p, o)
			dopts := opts.Diff
			dopts.Rooms = run.Rooms
			rep := diff.Compare(evs, run.Events, rules, dopts)
			mu.Lock()
			switch {
			case i == 0:
			case rep.Same && len(run.Errors)+len(run.Waits) == 0:
				// A run like the capture keeps its counts and round trips.
				run = &drive.Result{Duration: run.Duration, Latencies: run.Latencies, Media: run.Media}
				rep = &diff.Report{Same: true, Matched: rep.Matched, MessagesA: rep.MessagesA, MessagesB: rep.MessagesB,
					SkippedA: rep.SkippedA, SkippedB: rep.SkippedB}
			case kept < keepDiffering:
				kept++
			default:
				run.Events = nil
			}
			defer mu.Unlock()
			res.Runs[i], res.Reports[i] = run, rep
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	res.Duration = time.Since(start)
	return res, firstErr
}

// HasMedia reports whether a captured flow had a PeerConnection come up
// (a webrtcup event): the flow needs a WebRTC peer to replay as captured.
func HasMedia(evs []*schema.Event) bool {
	for _, ev := range evs {
		if ev.Janus != nil && ev.Janus.Janus == "webrtcup" {
			return true
		}
	}
	return false
}

// Latencies returns every request round trip of every run, sorted.
func (r *Result) Latencies() []time.Duration {
	var all []time.Duration
	for _, run := range r.Runs {
		if run != nil {
			all = append(all, run.Latencies...)
		}
	}
	slices.Sort(all)
	return all
}
