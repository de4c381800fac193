package replayer_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

var replaySessions = flag.Int("replay-sessions", 1000, "sessions in the capture BenchmarkReplay replays")

// shortFlow is the session BenchmarkReplay captures: attach echotest, one
// message and its event, detach.
func shortFlow(ctx context.Context, s *janus.Session) error {
	h, err := s.Attach(ctx, janus.EchoTest, nil)
	if err != nil {
		return err
	}
	j, _, err := s.Message(ctx, h, map[string]any{"audio": true}, nil)
	if err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
		return err
	}
	_, _, err = s.Request(ctx, "detach", h, nil)
	return err
}

// BenchmarkReplay captures -replay-sessions sessions over WebSocket, one
// after another, then in the same run replays the capture as fast as the
// gateway allows and runs the same flow directly with a plain client, and
// reports both times and their ratio (goal: replay within 1.3× of the plain
// client). The time spent planning and comparing the runs is reported
// apart.
func BenchmarkReplay(b *testing.B) {
	j := janustest.Start(b, janustest.Options{})
	tp := taptest.New(b, j, "bench")
	var evs []*schema.Event
	for range *replaySessions {
		_, e := taptest.Run(b, tp, "ws", shortFlow)
		evs = append(evs, e...)
	}
	b.Logf("captured %d sessions, %d events", *replaySessions, len(evs))
	ctx := context.Background()
	var replay, compare, plain time.Duration
	for b.Loop() {
		t0 := time.Now()
		res, err := replayer.Replay(ctx, evs, replayer.Options{Options: drive.Options{Target: drive.Target{WS: j.WS}}})
		if err != nil {
			b.Fatal(err)
		}
		// The replay itself, without the comparison that follows it.
		replay += res.Runs[0].Duration
		compare += time.Since(t0) - res.Runs[0].Duration
		if !res.Same() {
			var buf bytes.Buffer
			diff.WriteText(&buf, res.Reports[0])
			b.Fatalf("replay differs: errors %q\n%.3000s", res.Runs[0].Errors, buf.String())
		}
		if n := len(res.Runs[0].Waits); n > 0 {
			b.Logf("%d waits ran out, e.g. %s", n, res.Runs[0].Waits[0])
		}

		t0 = time.Now()
		for range *replaySessions {
			c, err := janus.DialWS(ctx, j.WS, janus.Protocol)
			if err != nil {
				b.Fatal(err)
			}
			s := &janus.Session{C: c, WS: true}
			if err := s.Create(ctx); err != nil {
				b.Fatal(err)
			}
			if err := shortFlow(ctx, s); err != nil {
				b.Fatal(err)
			}
			if err := s.Destroy(ctx); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		plain += time.Since(t0)
	}
	b.ReportMetric(replay.Seconds()/float64(b.N), "replay-s")
	b.ReportMetric(compare.Seconds()/float64(b.N), "plan+compare-s")
	b.ReportMetric(plain.Seconds()/float64(b.N), "plain-s")
	b.ReportMetric(replay.Seconds()/plain.Seconds(), "ratio")
}

var loadRuns = flag.Int("replay-runs", 1000, "runs BenchmarkReplayLoad replays")

// BenchmarkReplayLoad captures one REST echotest session (create, attach,
// message and its long-poll event, detach, destroy) and replays it
// -replay-runs times, 16 at once, against a second Janus. Every run must
// match. It reports the time per run and the heap left after the replay
// (with its result) per run; with memory flat and time linear, both stay
// the same from 1 000 to 10 000 runs.
func BenchmarkReplayLoad(b *testing.B) {
	a := janustest.Start(b, janustest.Options{})
	target := janustest.Start(b, janustest.Options{})
	tp := taptest.New(b, a, "bench")
	_, evs := taptest.Run(b, tp, "http", shortFlow)
	ctx := context.Background()
	var total time.Duration
	var heap float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		res, err := replayer.Replay(ctx, evs, replayer.Options{
			Options: drive.Options{Target: drive.Target{HTTP: target.HTTP}},
			Repeat:  *loadRuns, Concurrency: 16,
		})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if s := res.Summary(); s.Matched != *loadRuns {
			b.Fatalf("summary %+v: want every run matched", s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(res)
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "s/replay")
	b.ReportMetric(total.Seconds()/n/float64(*loadRuns)*1e6, "µs/run")
	b.ReportMetric(heap/n/float64(*loadRuns), "heap-B/run")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines-after")
	b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
}

// peakRSS returns the process's peak resident set (VmHWM), in bytes.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

var mediaPeers = flag.Int("media-peers", 10, "concurrent media peers BenchmarkMediaPeers runs")

// BenchmarkMediaPeers replays an echotest call with media -media-peers
// times at once against a second Janus (each run a peer of its own: ICE,
// DTLS, SRTP, Opus and VP8 at 50 and 20 packets a second until the call
// ends) and reports the replayer's CPU time and peak RSS per peer.
func BenchmarkMediaPeers(b *testing.B) {
	a := janustest.Start(b, janustest.Options{})
	target := janustest.Start(b, janustest.Options{})
	tp := taptest.New(b, a, "bench")
	_, evs := taptest.Run(b, tp, "ws", echoWithMedia)
	ctx := context.Background()
	rss0 := peakRSS()
	var cpu time.Duration
	var wall time.Duration
	for b.Loop() {
		c0 := cpuTime()
		t0 := time.Now()
		res, err := replayer.Replay(ctx, evs, replayer.Options{
			Options: drive.Options{Target: drive.Target{WS: target.WS}, Wait: 10 * time.Second, Media: &media.Options{}},
			Repeat:  *mediaPeers, Concurrency: *mediaPeers,
		})
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if s := res.Summary(); s.Matched != *mediaPeers {
			b.Fatalf("summary %+v: want every run matched", s)
		}
	}
	n := float64(b.N * *mediaPeers)
	b.ReportMetric(cpu.Seconds()*1000/n, "CPU-ms/peer")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/replay")
	b.ReportMetric((peakRSS()-rss0)/(1<<10)/float64(*mediaPeers), "peak-RSS-KiB/peer")
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
