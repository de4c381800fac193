//go:build linux

package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

const (
	// flowTimeout bounds one flow: a client never waits longer than this,
	// whatever breaks.
	flowTimeout = 8 * time.Second
	// flowPause paces a client between flows, so that the load is steady
	// and leaves the shared machine some room.
	flowPause = 20 * time.Millisecond
	// errorPause paces a client after a failed flow, so that a dead tap
	// does not turn the load into a busy loop.
	errorPause = 50 * time.Millisecond
)

// flow is one client's run of create, echotest, destroy, over HTTP or
// WebSocket, with its own client and connections.
type flow struct {
	ws         bool
	start, end time.Time
	sess       *janus.Session // nil when the client could not connect
	err        error
	// conn says why the client's connection ended (a WebSocket's close
	// frame) or what its last failed long-poll was answered: package janus
	// does not always pass it on in err.
	conn string

	mu   sync.Mutex
	reqs []request
}

// request is one request of a flow as the client timed it.
type request struct {
	start time.Time
	rtt   time.Duration
	err   error
}

func (f *flow) addRequest(start time.Time, err error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, request{start, time.Since(start), err})
	f.mu.Unlock()
}

// load runs flows through a tap from several clients until stopped.
type load struct {
	httpURL, ws  string
	stopc        chan struct{}
	wg           sync.WaitGroup
	ok, failed   atomic.Int64
	mu           sync.Mutex
	flows        []*flow
	adopted      []*janus.Session
	stoppedAfter time.Duration // how long stop waited for the clients
}

// startLoad starts n clients (half HTTP, half WebSocket) that run flows
// against the tap at httpURL and wsURL until stop.
func startLoad(t testing.TB, httpURL, wsURL string, n int) *load {
	l := &load{httpURL: httpURL, ws: wsURL, stopc: make(chan struct{})}
	for i := range n {
		l.wg.Go(func() { l.client(i%2 == 1) })
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) client(ws bool) {
	for {
		select {
		case <-l.stopc:
			return
		default:
		}
		pause := flowPause
		if f := l.run(ws); f.err != nil {
			l.failed.Add(1)
			pause = errorPause
		} else {
			l.ok.Add(1)
		}
		select {
		case <-l.stopc:
			return
		case <-time.After(pause):
		}
	}
}

// run runs one flow, bounded by flowTimeout but not by stop: a flow under
// way when the load stops runs to its end.
func (l *load) run(ws bool) *flow {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	f := &flow{ws: ws, start: time.Now()}
	l.mu.Lock()
	l.flows = append(l.flows, f)
	l.mu.Unlock()
	defer func() { f.end = time.Now() }()

	var c janus.Client
	if ws {
		wc, err := janus.DialWS(ctx, l.ws, janus.Protocol)
		if err != nil {
			f.err = err
			return f
		}
		defer func() {
			<-wc.Done() // after Close: the reader has ended and kept why
			if err := wc.Err(); err != nil && f.err != nil {
				f.conn = err.Error()
			}
		}()
		c = &timedWS{WSClient: wc, f: f}
	} else {
		hc := janus.NewHTTP(l.httpURL)
		hc.HTTP.Transport = &timedTransport{next: hc.HTTP.Transport, f: f}
		defer hc.HTTP.CloseIdleConnections()
		c = hc
	}
	defer c.Close()
	s := &janus.Session{C: c, WS: ws}
	f.sess = s
	f.err = s.Create(ctx)
	if f.err == nil {
		f.err = janus.RunEchoTest(ctx, s)
	}
	if f.err == nil {
		f.err = s.Destroy(ctx)
	}
	return f
}

// timedWS times the requests of a WebSocket client.
type timedWS struct {
	*janus.WSClient
	f *flow
}

func (c *timedWS) Do(ctx context.Context, body []byte, session, handle uint64) (janus.Reply, error) {
	start := time.Now()
	r, err := c.WSClient.Do(ctx, body, session, handle)
	c.f.addRequest(start, err)
	return r, err
}

// timedTransport times the POSTs of an HTTP client, and keeps what its last
// failed long-poll was told. Session.Create needs the *janus.HTTPClient
// itself to start polling, so this goes below it.
type timedTransport struct {
	next http.RoundTripper
	f    *flow
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost {
		resp, err := t.next.RoundTrip(req)
		if err != nil && req.Context().Err() == nil {
			t.f.mu.Lock()
			t.f.conn = "long-poll failed: " + err.Error()
			t.f.mu.Unlock()
		}
		if err == nil && resp.StatusCode != http.StatusOK {
			// The long-poll loop ends quietly: keep what it was told.
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			t.f.mu.Lock()
			t.f.conn = fmt.Sprintf("long-poll answered HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
			t.f.mu.Unlock()
		}
		return resp, err
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	failed := err
	if err == nil && resp.StatusCode != http.StatusOK {
		failed = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	t.f.addRequest(start, failed)
	return resp, err
}

// waitOK waits until n more flows than now have completed.
func (l *load) waitOK(t testing.TB, n int64, timeout time.Duration) {
	t.Helper()
	want := l.ok.Load() + n
	janustest.WaitFor(t, timeout, func() error {
		if got := l.ok.Load(); got < want {
			return fmt.Errorf("%d flows completed, want %d (%d failed)", got, want, l.failed.Load())
		}
		return nil
	})
}

// waitFailed waits until n more flows than now have failed.
func (l *load) waitFailed(t testing.TB, n int64, timeout time.Duration) {
	t.Helper()
	want := l.failed.Load() + n
	janustest.WaitFor(t, timeout, func() error {
		if got := l.failed.Load(); got < want {
			return fmt.Errorf("%d flows failed, want %d", got, want)
		}
		return nil
	})
}

// stop stops the clients after their current flow and waits for them.
func (l *load) stop() {
	select {
	case <-l.stopc:
		return
	default:
	}
	start := time.Now()
	close(l.stopc)
	l.wg.Wait()
	l.stoppedAfter = time.Since(start)
}

// all returns every flow; call it after stop.
func (l *load) all() []*flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.flows)
}

// adopt adds the sessions of a test's own clients to those checked.
func (l *load) adopt(s ...*janus.Session) {
	l.mu.Lock()
	l.adopted = append(l.adopted, s...)
	l.mu.Unlock()
}

// sessions returns the sessions of every flow that reached the tap, and
// the adopted ones.
func (l *load) sessions() []*janus.Session {
	l.mu.Lock()
	out := slices.Clone(l.adopted)
	l.mu.Unlock()
	for _, f := range l.all() {
		if f.sess != nil {
			out = append(out, f.sess)
		}
	}
	return out
}

// errorClass names what kind of error a client saw.
func errorClass(f *flow) string {
	if f.err == nil {
		return "ok"
	}
	s := f.err.Error() + " " + f.conn
	tr := "http"
	if f.ws {
		tr = "ws"
	}
	var class string
	switch {
	case strings.Contains(s, "wait for event") && errors.Is(f.err, context.DeadlineExceeded) && strings.Contains(f.conn, "HTTP 502"):
		class = "long-poll answered 502, then timeout waiting for an event"
	case strings.Contains(s, "wait for event") && errors.Is(f.err, context.DeadlineExceeded) && strings.HasPrefix(f.conn, "long-poll failed"):
		// package janus's long-poll loop stops quietly on an error, and the
		// flow waits for its event until its timeout.
		class = "long-poll failed, then timeout waiting for an event"
	case strings.Contains(s, "janustap: gateway") && strings.Contains(s, "unreachable"):
		class = "tap: gateway unreachable"
	case strings.Contains(s, "janustap: gateway connection lost"):
		class = "tap: gateway connection lost"
	case strings.Contains(s, "connection refused"):
		class = "connection refused"
	case strings.Contains(s, "connection reset"):
		class = "connection reset"
	case strings.Contains(s, "close 1006"), strings.Contains(s, "unexpected EOF"), strings.Contains(s, "EOF"):
		class = "connection closed (EOF)"
	case strings.Contains(s, "wait for event") && errors.Is(f.err, context.DeadlineExceeded):
		class = "timeout waiting for an event"
	case errors.Is(f.err, context.DeadlineExceeded):
		class = "timeout"
	default:
		class = "other"
	}
	return tr + ": " + class
}

// summary counts the flows by outcome and says how long the longest took.
func summary(flows []*flow) (map[string]int, time.Duration) {
	counts := map[string]int{}
	var longest time.Duration
	for _, f := range flows {
		counts[errorClass(f)]++
		longest = max(longest, f.end.Sub(f.start))
	}
	return counts, longest
}

// report logs the outcome of the load and checks that no client hung: every
// flow ended within its timeout, plus a little for its last step.
func (l *load) report(t testing.TB) map[string]int {
	t.Helper()
	flows := l.all()
	counts, longest := summary(flows)
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %5d  %s", counts[k], k)
	}
	t.Logf("load: %d flows, longest %v, stop waited %v:%s", len(flows), longest.Round(time.Millisecond), l.stoppedAfter.Round(time.Millisecond), b.String())
	for _, f := range flows {
		if strings.HasSuffix(errorClass(f), ": other") {
			t.Logf("unclassified client error: %v (%s)", f.err, f.conn)
		}
	}
	if longest > flowTimeout+2*time.Second {
		t.Errorf("a flow took %v, over its timeout of %v: a client hung", longest, flowTimeout)
	}
	return counts
}

// latencies returns the round trips of the requests started in [from, to)
// that got an answer, sorted.
func latencies(flows []*flow, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, f := range flows {
		f.mu.Lock()
		for _, r := range f.reqs {
			if r.err == nil && !r.start.Before(from) && r.start.Before(to) {
				out = append(out, r.rtt)
			}
		}
		f.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

// percentile returns the p-th percentile (0 < p ≤ 1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
