// Package taptest puts a tap in front of a Janus for tests, keeping the
// events in memory, and runs scripted flows through it: the captures that
// recorder, replayer and end-to-end tests start from.
//
// It is test support: it may import tap, schema, and the Janus client and
// test Janus (replayer/janus, replayer/janus/janustest) that its flows need.
package taptest

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// Memory is an Emitter that keeps events in memory.
type Memory struct {
	mu     sync.Mutex
	events []*schema.Event
}

// Emit keeps ev.
func (m *Memory) Emit(ev *schema.Event) error {
	m.mu.Lock()
	m.events = append(m.events, ev)
	m.mu.Unlock()
	return nil
}

// Events returns the events kept so far, in the order they were emitted.
func (m *Memory) Events() []*schema.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// Tap is a tap in front of a Janus, served on a loopback port until the
// test ends.
type Tap struct {
	*tap.Tap
	Mem *Memory
	URL string // http://127.0.0.1:PORT
}

// HTTP returns the tap's Janus API base URL.
func (t *Tap) HTTP() string { return t.URL + "/janus" }

// WS returns the tap's WebSocket URL.
func (t *Tap) WS() string { return "ws" + strings.TrimPrefix(t.URL, "http") + "/" }

// New starts a tap named gateway in front of j.
func New(t testing.TB, j *janustest.Janus, gateway string) *Tap {
	t.Helper()
	mem := &Memory{}
	tp, err := tap.New(tap.Config{
		Gateway: gateway, JanusHTTP: j.HTTP, JanusWS: j.WS, AdminHTTP: j.AdminHTTP, AdminWS: j.AdminWS,
		Emitter: mem,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Tap{Tap: tp, Mem: mem, URL: Serve(t, tp)}
}

// Serve serves tp on a free loopback port until the test ends, as janustap
// serve does, and returns its base URL (http://127.0.0.1:PORT). The test
// fails if tp.Serve returns an error.
func Serve(t testing.TB, tp *tap.Tap) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tp.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tap: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// Client opens a Janus API client of transport ("http" or "ws") on url,
// closed when the test ends.
func Client(t testing.TB, transport, url string) janus.Client {
	t.Helper()
	if transport == "http" {
		c := janus.NewHTTP(url)
		t.Cleanup(func() { c.Close() })
		return c
	}
	c, err := janus.DialWS(context.Background(), url, janus.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Flow is a scripted flow run on a created session.
type Flow func(context.Context, *janus.Session) error

// Run creates a session over transport through tp, runs flow in it,
// destroys it, and returns the events of that session's client.
func Run(t testing.TB, tp *Tap, transport string, flow Flow) (*janus.Session, []*schema.Event) {
	t.Helper()
	before := len(tp.Mem.Events())
	url := tp.HTTP()
	if transport == "ws" {
		url = tp.WS()
	}
	c := Client(t, transport, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := &janus.Session{C: c, WS: transport == "ws"}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := flow(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	return s, tp.Mem.Events()[before:]
}
