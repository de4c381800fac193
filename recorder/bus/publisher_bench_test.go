package bus_test

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/schema"
)

// BenchmarkPublish ships events from a spool to the embedded JetStream
// server, as serve does (in-process connection, the default stream), and
// reports the process's CPU per event (cpu-µs/event: the publisher, the
// NATS client and the server's store, acks and dedupe together). Each
// iteration appends burst events, then waits for the next tick of a 2 ms
// ticker, so that the publishes go out in small groups as under paced
// traffic (burst 8: 4 000 events/s), not in full windows; the
// benchmark ends once the publisher has acknowledged every event.
//
//	go test -run x -bench Publish -benchtime 3000x ./recorder/bus/
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct {
		burst  int
		linger time.Duration
	}{{8, 0}, {8, 2 * time.Millisecond}, {8, 20 * time.Millisecond}} {
		burst := c.burst
		b.Run(fmt.Sprintf("burst=%d/linger=%s", burst, c.linger), func(b *testing.B) {
			srv := &bus.Server{Dir: b.TempDir(), Logger: testLogger(b)}
			if err := srv.Start(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			_, js := connect(b, srv.ClientURL(), srv.ConnectOptions())
			ensureStream(b, js)
			sp := openSpool(b)
			p := &bus.Publisher{JS: js, Spool: sp, Linger: c.linger, Logger: testLogger(b)}
			runPublisher(b, p)

			var gen schema.IDGen
			body := bytes.Repeat([]byte(`{"janus":"message","body":{"request":"x"},"transaction":"t"} `), 16) // about 1 KiB
			recs := make([][]byte, burst)
			var last uint64
			var start syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &start); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for b.Loop() {
				for i := range recs {
					ev := events(1, &gen)[0]
					ev.Body = body
					var err error
					if recs[i], err = schema.Encode(ev); err != nil {
						b.Fatal(err)
					}
				}
				for _, rec := range recs {
					seq, err := sp.Append(rec)
					if err != nil {
						b.Fatal(err)
					}
					last = seq
				}
				n += burst
				<-tick.C // pacing, not synchronisation
			}
			waitShipped(b, p, last)
			var end syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil {
				b.Fatal(err)
			}
			cpu := time.Duration(end.Utime.Nano()+end.Stime.Nano()-start.Utime.Nano()-start.Stime.Nano()) * time.Nanosecond
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/event")
			b.ReportMetric(float64(end.Minflt-start.Minflt)/float64(n), "faults/event")
		})
	}
}
