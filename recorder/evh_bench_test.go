package recorder_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// statsEvent is a media statistics event as Janus 1.1.2's sampleevh posts
// it (json = "plain").
const statsEvent = `{"emitter":"MyJanusInstance","type":32,"subtype":3,"timestamp":%d,"session_id":%d,"handle_id":%d,"opaque_id":"bench-%d","event":{"mid":"%d","mindex":%d,"media":"%s","codec":"%s","base":%d,"rtt":12,"lost":%d,"lost-by-remote":0,"jitter-local":10,"jitter-remote":3,"in-link-quality":100,"in-media-link-quality":100,"out-link-quality":100,"out-media-link-quality":100,"packets-received":%d,"packets-sent":%d,"bytes-received":%d,"bytes-sent":%d,"bytes-received-lastsec":40000,"bytes-sent-lastsec":40000,"nacks-received":0,"nacks-sent":0,"retransmissions-received":0}}`

// BenchmarkEVHLoad measures what Janus's events of 100 PeerConnections with
// stats_period = 1 cost serve: every second, 100 handles × 2 mids of
// statistics (200 events/s), posted grouped every 100 ms as sampleevh
// does, in windows of one second on and one second off. Through the whole
// run it measures a keepalive's round trip through serve's tap, and reports
// its p50 and p99 with and without the load, the events ingested per second
// (spooled, published and projected into SQLite: the run waits until the
// projection holds them all) and how long the projection took to catch up
// after the last. Then a burst of the same POSTs, as fast as serve answers
// them: events per second answered and projected, and the process's CPU
// per event (receiving, spooling, publishing, projecting; the bodies are
// made before the run).
//
//	go test -run x -bench EVHLoad -benchtime 20000x ./recorder/
func BenchmarkEVHLoad(b *testing.B) {
	const handles, mids, tick = 100, 2, 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := evh.URL(ln.Addr())
	j := janustest.Start(b, janustest.Options{})
	s := serveTB(b, j, func(c *recorder.Config) { c.EVHListener = ln })
	ctx := context.Background()
	keepalive := newKeepalive(b, ctx, "http", s.http(), s.ws())

	// The POSTs, made before the run: per tick, a tenth of the handles.
	perTick := handles * mids * int(tick) / int(time.Second)
	const ticks = 2000 // more than any run needs
	posts := make([][]byte, ticks)
	t0 := time.Now().UnixMicro()
	for i := range posts {
		var body bytes.Buffer
		body.WriteByte('[')
		for k := range perTick {
			n := i*perTick + k
			h := n / mids % handles
			mid := n % mids
			media, codec, base := "audio", "opus", 48000
			if mid == 1 {
				media, codec, base = "video", "vp8", 90000
			}
			if k > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, statsEvent, t0+int64(n)*1000, 1000+h, 5000+h, h, mid, mid, media, codec, base,
				n%7, n*50, n*50, n*40000, n*40000)
		}
		body.WriteByte(']')
		posts[i] = body.Bytes()
	}

	var on atomic.Bool
	var posted, failed atomic.Int64
	var wallOn, wallOff time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{}
		next := 0
		tk := time.NewTicker(tick)
		defer tk.Stop()
		window := time.NewTicker(time.Second)
		defer window.Stop()
		mark := time.Now()
		count := func() {
			if on.Load() {
				wallOn += time.Since(mark)
			} else {
				wallOff += time.Since(mark)
			}
			mark = time.Now()
		}
		for {
			select {
			case <-stop:
				count()
				return
			case <-window.C:
				count()
				on.Store(!on.Load())
			case <-tk.C:
				if !on.Load() || next == len(posts)/2 {
					continue
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(posts[next]))
				next++
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				posted.Add(int64(perTick))
			}
		}
	})

	var lon, loff []time.Duration
	for b.Loop() {
		loaded := on.Load()
		d := keepalive(ctx)
		if loaded {
			lon = append(lon, d)
		} else {
			loff = append(loff, d)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d POSTs failed", failed.Load())
	}

	// Everything posted reaches the projection.
	start := time.Now()
	db := store.NewDB(filepath.Join(s.dir, recorder.DBFile))
	if err := db.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	want := posted.Load()
	janustest.WaitFor(b, 60*time.Second, func() error {
		_, n, err := db.JanusCounts(ctx)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("janus_stats has %d rows, %d posted", n, want)
		}
		return nil
	})
	catchUp := time.Since(start)

	p := func(l []time.Duration, q float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return l[min(len(l)-1, int(q*float64(len(l))))]
	}
	b.ReportMetric(float64(p(loff, .5).Microseconds()), "idle-p50-µs")
	b.ReportMetric(float64(p(loff, .99).Microseconds()), "idle-p99-µs")
	b.ReportMetric(float64(p(lon, .5).Microseconds()), "loaded-p50-µs")
	b.ReportMetric(float64(p(lon, .99).Microseconds()), "loaded-p99-µs")
	if wallOn > 0 {
		b.ReportMetric(float64(want)/wallOn.Seconds(), "events/s")
	}
	b.ReportMetric(float64(want), "events")
	b.ReportMetric(float64(catchUp.Milliseconds()), "catch-up-ms")
	b.Logf("%d events posted in %v of load windows (%d keepalives loaded, %d idle)", want, wallOn.Round(time.Millisecond),
		len(lon), len(loff))

	// Then a burst: the POSTs left, from two posters at once, as fast as
	// serve answers; the CPU the process used from the first POST until the
	// projection holds every event, per event.
	rest := posts[len(posts)/2:]
	cpu0, wall0 := processCPU(), time.Now()
	var next atomic.Int64
	var burst sync.WaitGroup
	for range 2 {
		burst.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(rest)); i = next.Add(1) - 1 {
				resp, err := http.Post(url, "application/json", bytes.NewReader(rest[i]))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	burst.Wait()
	answered := time.Since(wall0)
	if failed.Load() > 0 {
		b.Fatalf("%d POSTs of the burst failed", failed.Load())
	}
	want += int64(len(rest) * perTick)
	janustest.WaitFor(b, 120*time.Second, func() error {
		_, n, err := db.JanusCounts(ctx)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("janus_stats has %d rows, %d posted", n, want)
		}
		return nil
	})
	burstN := float64(len(rest) * perTick)
	b.ReportMetric(burstN/answered.Seconds(), "burst-events/s")
	b.ReportMetric(burstN/time.Since(wall0).Seconds(), "burst-projected-events/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/burstN, "cpu-µs/event")
}
