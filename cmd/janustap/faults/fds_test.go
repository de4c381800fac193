//go:build linux

package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// fdLimit is the descriptor limit (soft and hard) TestDescriptorsExhausted
// runs the tap under, and fdStalled the stalled bodies that take them all.
const (
	fdLimit   = 300
	fdStalled = 320
)

// TestDescriptorsExhausted runs `janustap serve` under prlimit
// --nofile=300:300 with no cap on connections (--max-conns -1), keeps a
// WebSocket client busy sending 256 KiB messages, and holds 320 stalled
// request bodies, so that the process runs out of descriptors and
// JetStream's file store fails to write (issue 14, finding 2). Then the
// stalled bodies go away. Recording must resume by itself, without a
// restart: every event of the busy client and of flows run afterwards
// reaches the log and SQLite, none lost or doubled.
func TestDescriptorsExhausted(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skipf("no prlimit (util-linux): %v", err)
	}
	j := janustest.Start(t, janustest.Options{})
	data := t.TempDir()
	argv := append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", fdLimit, fdLimit), janustapBin, "--log-json", "serve",
		"--listen", "127.0.0.1:0", "--data", data, "--max-conns", "-1", "--body-timeout", "-1s",
		"--nats-port", strconv.Itoa(freePorts(t, 1)[0])}, tapArgs(j)...)
	tp := &tapProc{data: data}
	tp.child = newChild(t, "janustap serve (300 descriptors)", argv, func(line string) bool {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil || r.str("msg") != "tap listening" {
			return false
		}
		tp.addr = r.str("addr")
		return true
	})
	tp.start()
	defer tp.stop()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	busy, err := dialRaw(ctx, tp.wsURL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	create, err := roundTrip(busy, websocket.TextMessage, `{"janus":"create","transaction":"busy-c"}`)
	if err != nil || !strings.Contains(string(create), `"success"`) {
		t.Fatalf("create over the busy websocket: %s %v", create, err)
	}
	pad := strings.Repeat("p", 256<<10)
	sent := 0
	send := func(n int) {
		t.Helper()
		for range n {
			sent++
			msg := fmt.Sprintf(`{"janus":"keepalive","transaction":"busy-%d","pad":"%s"}`, sent, pad)
			if _, err := roundTrip(busy, websocket.TextMessage, msg); err != nil {
				t.Fatalf("busy websocket, message %d: %v", sent, err)
			}
		}
	}
	send(10)

	// Take every descriptor.
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	for range fdStalled {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatalf("stalled body %d: %v", len(stalled)+1, err)
		}
		io.WriteString(c, "POST /janus HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"janus\"")
		stalled = append(stalled, c)
	}
	waitLog(t, tp, 30*time.Second, "the tap out of descriptors", func(r logRecord) bool {
		return strings.Contains(r.str("err"), "too many open files")
	})
	// Keep recording while no descriptor is free: JetStream's store has to
	// open files (a new block every few MiB) and cannot.
	send(60)
	// Keep recording while no descriptor is free, for -fd-hold: JetStream's
	// file store opens files to store (a new block every few MiB, its index
	// every 2 to 2.5 minutes) and cannot. At 150 s its index write fails,
	// which used to stop the log for good.
	pace := time.NewTicker(250 * time.Millisecond) // 1 MiB/s of events
	defer pace.Stop()
	for end := time.Now().Add(*fdHold); time.Now().Before(end); <-pace.C {
		send(1)
	}
	for _, c := range stalled {
		c.Close()
	}
	stalled = nil

	// Descriptors are back: recording resumes by itself.
	send(10)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), 2)
	l.waitOK(t, 6, 60*time.Second)
	l.stop()
	busy.Close()
	js := connectLog(t, embeddedURL(t, data))
	evs := settled(t, js, expect{sessions: l.sessions(), db: filepath.Join(data, recorder.DBFile)})
	var busyEvents int
	for _, ev := range evs {
		if strings.Contains(string(ev.Body), `"busy-`) {
			busyEvents++
		}
	}
	if busyEvents < 2*sent {
		t.Errorf("%d events of the busy websocket's %d messages and their answers in the log, want %d", busyEvents, sent, 2*sent)
	}
	t.Logf("%d events in the log and the database after the descriptors came back (%d of the busy websocket); publisher repairs: %d", len(evs), busyEvents, len(tp.records("jetstream repaired; sending the failed events again")))
}

// waitLog waits until the tap logs a record that match accepts.
func waitLog(t *testing.T, tp *tapProc, timeout time.Duration, what string, match func(logRecord) bool) {
	t.Helper()
	janustest.WaitFor(t, timeout, func() error {
		for _, r := range tp.records("") {
			if match(r) {
				return nil
			}
		}
		var lines []string
		for _, l := range tp.logLines() {
			if !strings.Contains(l, "accept failed") {
				lines = append(lines, l)
			}
		}
		return fmt.Errorf("no log line of %s; the tap's log (without accept failures) ends:\n%s", what, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	})
}
