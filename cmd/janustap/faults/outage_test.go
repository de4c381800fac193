//go:build linux

package faults_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestNATSOutage makes NATS unreachable for -nats-outage (5s by default;
// the figure is 30s) under load, twice: once with the server gone
// (connections refused) and once with it hung (SIGSTOP: connections open,
// nothing answers). Signaling is not disturbed: no flow fails, and the
// requests' p99 during the outage stays within the bound below of the p99
// before it. The events of the outage wait in the spool and are all in the
// log and the database, once, after it.
func TestNATSOutage(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL())...)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	l.waitOK(t, 10, 30*time.Second) // warmed up

	window := min(*natsOutage, 5*time.Second)
	type period struct {
		name       string
		start, end time.Time
	}
	var periods []period
	measure := func(name string, d time.Duration) {
		p := period{name: name, start: time.Now()}
		time.Sleep(d) // the measured period (an outage: the fault itself)
		p.end = time.Now()
		periods = append(periods, p)
	}
	measure("before", window)
	ext.Stop()
	measure("nats stopped", *natsOutage)
	ext.Restart()
	l.waitOK(t, 10, 30*time.Second)
	ext.Pause()
	measure("nats hung", *natsOutage)
	ext.Resume()
	l.waitOK(t, 10, 30*time.Second)
	l.stop()

	counts := l.report(t)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: NATS being unreachable must not touch signaling", n)
	}
	flows := l.all()
	base := latencies(flows, periods[0].start, periods[0].end)
	baseP99 := percentile(base, 0.99)
	// A tap that waited on NATS would add seconds (the publisher's ack
	// timeout is 10s); the noise of a shared 2-core machine is a few ms.
	bound := max(3*baseP99, baseP99+50*time.Millisecond)
	for _, p := range periods {
		lat := latencies(flows, p.start, p.end)
		p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
		t.Logf("%-13s %5d requests  p50 %8v  p99 %8v  max %8v", p.name, len(lat), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), percentile(lat, 1).Round(10*time.Microsecond))
		if len(lat) == 0 {
			t.Errorf("%s: no request answered", p.name)
		}
		if p99 > bound {
			t.Errorf("%s: p99 %v over %v (3× the p99 before the outage, or it plus 50ms)", p.name, p99, bound)
		}
	}

	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: l.sessions(), db: filepath.Join(data, recorder.DBFile)})
	for _, p := range periods[1:] {
		n := 0
		for _, ev := range evs {
			if !ev.Time.Before(p.start) && ev.Time.Before(p.end) {
				n++
			}
		}
		t.Logf("%s: %d events recorded during the outage, all published after it", p.name, n)
		if n == 0 {
			t.Errorf("%s: no event recorded during the outage", p.name)
		}
	}
	t.Logf("%d events in the log and the database; clients: %v", len(evs), counts)
}
