//go:build linux

package faults_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestTapKilled kills `janustap serve` (SIGKILL) under load three times,
// starting it again each time on the same data directory, with an external
// nats-server and with the embedded one (which dies with the tap). Clients
// see connection errors, and none hangs; every message a client saw
// forwarded has its event in the log once, and in SQLite once: the spool,
// written before forwarding, is published by the next run.
func TestTapKilled(t *testing.T) {
	t.Run("ExternalNATS", func(t *testing.T) { testTapKilled(t, true) })
	t.Run("EmbeddedNATS", func(t *testing.T) { testTapKilled(t, false) })
}

func testTapKilled(t *testing.T, external bool) {
	const kills = 3
	j := janustest.Start(t, janustest.Options{})
	data := t.TempDir()
	args := tapArgs(j)
	var ext *bustest.External
	if external {
		ext = bustest.StartExternal(t)
		args = append(args, "--nats", ext.URL())
	} else {
		args = append(args, "--nats-port", strconv.Itoa(freePorts(t, 1)[0]))
	}
	tp := startTap(t, data, args...)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	for range kills {
		l.waitOK(t, 15, 30*time.Second)
		tp.kill()
		l.waitFailed(t, 1, 30*time.Second) // the clients notice
		tp.start()
	}
	l.waitOK(t, 15, 30*time.Second)
	l.stop()

	counts := l.report(t)
	var url string
	if external {
		url = ext.URL()
	} else {
		url = embeddedURL(t, data)
	}
	js := connectLog(t, url)
	evs := settled(t, js, expect{sessions: l.sessions(), killed: true, db: filepath.Join(data, recorder.DBFile)})
	taps := tapsInOrder(evs)
	if len(taps) != kills+1 {
		t.Errorf("events of %d tap processes, want %d (killed %d times)", len(taps), kills+1, kills)
	}
	seqs := map[string][]uint64{}
	for _, ev := range evs {
		if slices.Contains(taps[:len(taps)-1], ev.Tap) {
			seqs[ev.Conn] = append(seqs[ev.Conn], ev.Seq)
		}
	}
	cut, missing := 0, 0
	for _, s := range seqs {
		if n := len(missingSeqs(sortedCopy(s))); n > 0 {
			cut++
			missing += n
		}
	}
	t.Logf("%d events in the log and the database; %d connections of killed taps lack %d events within their last %d; clients: %v",
		len(evs), cut, missing, cutTail, counts)
}

// TestRecorderKilled kills `janustap record`, the SQLite projection run as
// its own process, three times under load, and starts it again each time:
// the database ends with every event of the log once.
func TestRecorderKilled(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	dbPath := filepath.Join(t.TempDir(), "recorder.db")
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL(), "--no-record")...)
	rec := startRecorder(t, "--nats", ext.URL(), "--db", dbPath)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	for range 3 {
		l.waitOK(t, 10, 30*time.Second)
		rec.kill()
		l.waitOK(t, 5, 30*time.Second) // the log grows while no one projects it
		rec.start()
	}
	l.waitOK(t, 10, 30*time.Second)
	l.stop()

	counts := l.report(t)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: the recorder's fate must not touch signaling", n)
	}
	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: l.sessions(), db: dbPath})
	if err := integrity(t.Context(), dbPath); err != nil {
		t.Error(err)
	}
	t.Logf("%d events in the log and the database after 3 kills of the recorder; clients: %v", len(evs), counts)
}

// TestNATSKilled kills the external nats-server (SIGKILL) under load and
// starts it again on the same store: signaling is not disturbed, and the
// log and the database beside serve end with every event once.
func TestNATSKilled(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL())...)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	l.waitOK(t, 20, 30*time.Second)

	ext.Kill()
	l.waitOK(t, 20, 30*time.Second) // NATS is down: signaling goes on
	ext.Restart()
	l.waitOK(t, 20, 30*time.Second)
	l.stop()

	counts := l.report(t)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: NATS's fate must not touch signaling", n)
	}
	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: l.sessions(), db: filepath.Join(data, recorder.DBFile)})
	t.Logf("%d events in the log and the database; clients: %v", len(evs), counts)
}
