package replayer_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// countingDialer counts the connections it opened that are not closed yet;
// idle is closed each time the count drops to zero.
type countingDialer struct {
	mu   sync.Mutex
	open int
	idle chan struct{}
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open--
		if c.d.open == 0 {
			close(c.d.idle)
			c.d.idle = make(chan struct{})
		}
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.open++
	d.mu.Unlock()
	return &countedConn{Conn: c, d: d}, nil
}

// wait returns once no connection is open, or how many are after timeout.
func (d *countingDialer) wait(timeout time.Duration) int {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		n, ch := d.open, d.idle
		d.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-ch:
		case <-timer.C:
			return n
		}
	}
}

// leftovers returns the goroutines of the replay still running: long-poll
// loops and the receivers of the replay's clients.
func leftovers() []string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	var out []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(g, "drive.(*conn).receive") || strings.Contains(g, "janus.(*HTTPClient).pollLoop") {
			out = append(out, g)
		}
	}
	return out
}

// TestReplayReleases replays a REST and a WebSocket echotest flow 40 times,
// 8 at once, and checks that when Replay returns no receiver or long-poll
// of the runs is left, and every HTTP connection they opened is closed.
func TestReplayReleases(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	for _, from := range []string{"http", "ws"} {
		_, evs := taptest.Run(t, tp, from, shortFlow)
		t.Run(from, func(t *testing.T) {
			d := &countingDialer{idle: make(chan struct{})}
			tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
			res, err := replayer.Replay(t.Context(), evs, replayer.Options{
				Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Wait: 5 * time.Second, HTTPTransport: tr},
				Repeat:  40, Concurrency: 8,
			})
			if err != nil {
				t.Fatal(err)
			}
			if s := res.Summary(); s.Matched != 40 {
				t.Fatalf("summary %+v, want 40 matched", s)
			}
			if g := leftovers(); len(g) > 0 {
				t.Fatalf("%d goroutines of the replay outlive it, e.g.:\n%s", len(g), g[0])
			}
			tr.CloseIdleConnections() // the caller's transport: the caller closes it
			if n := d.wait(5 * time.Second); n > 0 {
				t.Fatalf("%d HTTP connections of the replay are still open", n)
			}
			lat := res.Latencies()
			if len(lat) == 0 || lat[0] < time.Microsecond*20 {
				t.Errorf("round trips %v...: a loopback request to Janus and its reply take more than 20µs", lat[:min(3, len(lat))])
			}
		})
	}
}

// TestReplayCancelled cancels a load replay while its second run is going:
// the first run counts as matched, the second as cancelled, the others as
// never started; none is counted as matched that did not run.
func TestReplayCancelled(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "http", shortFlow)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := replayer.Replay(ctx, evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: b.HTTP}, Wait: 5 * time.Second,
			Emit: func(ev *schema.Event) {
				if ev.Labels["replay_run"] == "r2" {
					cancel()
				}
			}},
		Repeat: 100, Concurrency: 1,
	})
	if err == nil {
		t.Fatal("a cancelled replay returned no error")
	}
	want := replayer.Summary{Runs: 100, Matched: 1, Cancelled: 1, NotStarted: 98}
	if s := res.Summary(); s != want {
		var buf bytes.Buffer
		diff.WriteText(&buf, res.Reports[0])
		t.Fatalf("summary %+v, want %+v\n%s", s, want, buf.String())
	}
}
