package tap_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// idleBatch is how many idle pairs BenchmarkIdleWebSocket holds at once: each
// takes three descriptors in this process (client, tap side, upstream) and
// one in Janus.
const idleBatch = 1000

// BenchmarkIdleWebSocket opens idle WebSockets through a tap in front of a
// real Janus and reports what the tap holds for each: live heap and goroutine
// stacks after a GC, in bytes per pair. The clients are bare TCP connections
// that did the handshake by hand, so that they add only their socket (a few
// hundred bytes) to the tap's own memory. Events are discarded: what they
// cost belongs to the emitter.
func BenchmarkIdleWebSocket(b *testing.B) {
	j := janustest.Start(b, janustest.Options{DisablePlugins: []string{
		"libjanus_videoroom.so", "libjanus_textroom.so", "libjanus_streaming.so",
	}})
	tp, err := tap.New(tap.Config{Gateway: "bench", JanusWS: j.WS,
		Emitter: tap.EmitterFunc(func(*schema.Event) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	addr := strings.TrimPrefix(taptest.Serve(b, tp), "http://")

	var heap, stack, pairs int64
	conns := make([]net.Conn, 0, idleBatch)
	// measure adds what the pairs in conns hold to the totals, then closes
	// them and waits for the tap to let go of them.
	measure := func(base runtime.MemStats) {
		janustest.WaitFor(b, 30*time.Second, func() error {
			if got, want := tp.Stats().WSOpen, int64(len(conns)); got != want {
				return fmt.Errorf("tap has %d WebSockets open, want %d", got, want)
			}
			return nil
		})
		m := memStats()
		heap += int64(m.HeapAlloc) - int64(base.HeapAlloc)
		stack += int64(m.StackInuse) - int64(base.StackInuse)
		pairs += int64(len(conns))
		for _, c := range conns {
			c.Close()
		}
		conns = conns[:0]
		janustest.WaitFor(b, 30*time.Second, func() error {
			if n := tp.Stats().WSOpen; n != 0 {
				return fmt.Errorf("tap has %d WebSockets open after the clients left", n)
			}
			return nil
		})
	}

	b.ReportAllocs()
	base := memStats()
	for b.Loop() {
		c, _, err := dialRaw(addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if len(conns) == idleBatch {
			b.StopTimer()
			measure(base)
			base = memStats()
			b.StartTimer()
		}
	}
	if len(conns) > 0 {
		measure(base)
	}
	b.ReportMetric(float64(heap)/float64(pairs), "heap-B/pair")
	b.ReportMetric(float64(stack)/float64(pairs), "stack-B/pair")
	b.ReportMetric(float64(heap+stack)/float64(pairs), "B/pair")
}

// memStats collects garbage and returns the memory statistics after it.
func memStats() runtime.MemStats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}
