//go:build linux

package faults_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestDiskFull fills the disk under the spool, then under the SQLite
// projection (a small tmpfs each), and fills the spool to its --spool-max
// cap: traffic is forwarded all along, the tap says what it lost (a log
// line with the error, and a count), the log holds no event twice, and once
// there is room again events are recorded again and the database is whole.
// Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it the tmpfs
// subtests are skipped and SpoolMax alone emulates a full disk.
func TestDiskFull(t *testing.T) {
	t.Run("Spool", testSpoolDiskFull)
	t.Run("SQLite", testSQLiteDiskFull)
	t.Run("SpoolMax", testSpoolMax)
}

func testSpoolDiskFull(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	spoolDir := filepath.Join(data, "spool")
	mountTmpfs(t, spoolDir, 1<<20)
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL())...)

	full := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	lost := waitLost(t, tp, "no space left on device")
	full.waitOK(t, 20, 30*time.Second) // with the spool's disk full
	full.stop()
	full.report(t)
	if n := full.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: a full disk must not stop traffic", n)
	}
	t.Logf("first loss logged: %v", lost)

	remountTmpfs(t, spoolDir, 64<<20)
	room := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	room.waitOK(t, 20, 30*time.Second)
	room.stop()
	room.report(t)

	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: room.sessions(), lossy: true, db: filepath.Join(data, recorder.DBFile)})
	checkLost(t, tp, evs)
}

func testSQLiteDiskFull(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	dbDir := filepath.Join(t.TempDir(), "db")
	mountTmpfs(t, dbDir, 1<<20)
	dbPath := filepath.Join(dbDir, "janustap.db")
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL(), "--db", dbPath)...)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	janustest.WaitFor(t, 60*time.Second, func() error {
		for _, r := range tp.records("recorder stopped; starting again") {
			if strings.Contains(r.str("err"), "full") {
				t.Logf("recorder: %s", r.str("err"))
				return nil
			}
		}
		return errors.New("the recorder has not reported a full disk")
	})
	l.waitOK(t, 20, 30*time.Second) // with the database's disk full
	if err := integrity(t.Context(), dbPath); err != nil {
		t.Errorf("with its disk full: %v", err)
	}
	remountTmpfs(t, dbDir, 64<<20)
	l.waitOK(t, 20, 30*time.Second)
	l.stop()
	l.report(t)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: a full disk under the database must not touch signaling", n)
	}
	js := connectLog(t, ext.URL())
	evs := settled(t, js, expect{sessions: l.sessions(), db: dbPath})
	if err := integrity(t.Context(), dbPath); err != nil {
		t.Error(err)
	}
	t.Logf("%d events in the log and, once there was room, in the database", len(evs))
}

// testSpoolMax fills the spool to its cap (--spool-max) while NATS is hung,
// so that nothing is acknowledged: events are dropped with spool.ErrFull
// and counted, traffic goes on, and once NATS answers the spool drains and
// records again.
func testSpoolMax(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	ext := bustest.StartExternal(t)
	data := t.TempDir()
	tp := startTap(t, data, append(tapArgs(j), "--nats", ext.URL(), "--spool-max", "262144")...)
	full := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	full.waitOK(t, 5, 30*time.Second)
	ext.Pause()
	waitLost(t, tp, "spool full")
	full.waitOK(t, 20, 30*time.Second) // with the spool full
	ext.Resume()
	full.stop()
	full.report(t)
	if n := full.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: a full spool must not stop traffic", n)
	}

	js := connectLog(t, ext.URL())
	janustest.WaitFor(t, 60*time.Second, func() error { return caughtUp(t.Context(), js, "") })
	room := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	room.waitOK(t, 20, 30*time.Second)
	room.stop()
	room.report(t)
	evs := settled(t, js, expect{sessions: room.sessions(), lossy: true, db: filepath.Join(data, recorder.DBFile)})
	checkLost(t, tp, evs)
}

// waitLost waits for the tap's first "event lost" line and checks that its
// error says why: want.
func waitLost(t *testing.T, tp *tapProc, want string) string {
	t.Helper()
	var r logRecord
	janustest.WaitFor(t, 60*time.Second, func() error {
		rs := tp.records("event lost")
		if len(rs) == 0 {
			return errors.New("no event lost yet")
		}
		r = rs[0]
		return nil
	})
	if !strings.Contains(r.str("err"), want) || r.str("level") != "ERROR" {
		t.Errorf("the tap logged %v; want an error saying %q", r, want)
	}
	return fmt.Sprint(r)
}

// checkLost stops the tap and checks its count of lost events against the
// log: every event it recorded is there, and no more are missing than it
// says it lost.
func checkLost(t *testing.T, tp *tapProc, evs []logEvent) {
	t.Helper()
	tp.stop()
	recorded, lost, unpublished, ok := tp.stopped()
	if !ok {
		t.Fatalf("the tap did not log its counters as it stopped:\n%s", tp.tail(10))
	}
	missing := 0
	seqs := map[string][]uint64{}
	for _, ev := range evs {
		seqs[ev.Conn] = append(seqs[ev.Conn], ev.Seq)
	}
	for _, s := range seqs {
		missing += len(missingSeqs(sortedCopy(s)))
	}
	t.Logf("tap stopped: %d events recorded, %d lost (counted), %d unpublished; the log has %d events and lacks %d inside connections",
		recorded, lost, unpublished, len(evs), missing)
	switch {
	case lost == 0:
		t.Error("the tap counted no lost event")
	case int64(missing) > lost:
		t.Errorf("%d events missing inside connections, more than the %d the tap counted", missing, lost)
	case recorded != int64(len(evs)) || unpublished != 0:
		t.Errorf("the tap recorded %d events (%d unpublished), the log has %d", recorded, unpublished, len(evs))
	}
}

// mountTmpfs mounts a tmpfs of size bytes on dir, creating it, and unmounts
// it when the test ends (after the processes started later are gone). It
// skips the test when mounting is not permitted.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs on %s (%v): not root? SpoolMax emulates a full spool without one", dir, err)
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// remountTmpfs gives the tmpfs on dir a new size: room again.
func remountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("remount %s: %v", dir, err)
	}
}
