package bus_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

func TestPublisherShipsSpoolInOrder(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(300, &gen)

	// Some events are in the spool before the publisher starts, some after.
	seqs := appendEvents(t, sp, evs[:100])
	p := &bus.Publisher{JS: js, Spool: sp, Window: 16, Logger: testLogger(t)}
	runPublisher(t, p)
	seqs = append(seqs, appendEvents(t, sp, evs[100:])...)
	last := seqs[len(seqs)-1]
	waitShipped(t, p, last)

	checkStream(t, stream, evs, true)
	st := p.Stats()
	if st.Published != uint64(len(evs)) || st.Duplicates != 0 || st.Errors != 0 || st.Retries != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v, want %d published and nothing else", st, len(evs))
	}
	if got, want := sp.Stats().FirstUnacked, last+1; got != want {
		t.Errorf("spool's first unacked record %d, want %d", got, want)
	}

	t.Run("republish", func(t *testing.T) {
		// A publisher that starts over, as after a crash before the spool
		// saved its ack point, sends every event again: the stream keeps one
		// of each.
		again := &bus.Publisher{JS: js, Spool: sp, Logger: testLogger(t)}
		runPublisher(t, again)
		waitShipped(t, again, last)
		checkStream(t, stream, evs, true)
		if st := again.Stats(); st.Published != uint64(len(evs)) || st.Duplicates != uint64(len(evs)) {
			t.Errorf("stats %+v, want every event published as a duplicate", st)
		}
	})
}

func TestPublisherResumesAfterAckPoint(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(20, &gen)
	seqs := appendEvents(t, sp, evs)

	p := &bus.Publisher{JS: js, Spool: sp, After: seqs[9], Logger: testLogger(t)}
	runPublisher(t, p)
	waitShipped(t, p, seqs[19])
	checkStream(t, stream, evs[10:], true)
}

func TestPublisherCutsEventsOverMaxPayload(t *testing.T) {
	const maxPayload = 16 << 10
	srv := startServer(t, t.TempDir(), func(s *bus.Server) { s.MaxPayload = maxPayload })
	_, js := connect(t, srv.ClientURL(), srv.ConnectOptions())
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(4, &gen)
	text := []byte(`{"janus":"message","jsep":{"type":"offer","sdp":"` + strings.Repeat("a=candidate:1 1 udp 2113937151 192.0.2.1 54400 typ host\\r\\n", 1000) + `"}}`)
	binary := bytes.Repeat([]byte{0xff, 0x00, 0xfe}, 20<<10)
	cutByTap := bytes.Repeat([]byte("é"), 30<<10)
	evs[1].Body = text
	evs[2].Body = binary
	evs[3].Body, evs[3].Truncated, evs[3].BodySize, evs[3].BodySHA256 = cutByTap, true, 1<<20, "tap's hash"
	seqs := appendEvents(t, sp, evs)

	p := &bus.Publisher{JS: js, Spool: sp, Logger: testLogger(t)}
	runPublisher(t, p)
	waitShipped(t, p, seqs[len(seqs)-1])
	checkStream(t, stream, evs, true)
	if got, want := p.Stats().Truncated, uint64(3); got != want {
		t.Errorf("%d events cut, want %d", got, want)
	}

	msgs := streamMsgs(t, stream)
	for i, m := range msgs {
		ev, err := schema.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		orig := evs[i]
		if i == 0 {
			if ev.Truncated || !bytes.Equal(ev.Body, orig.Body) {
				t.Errorf("small event changed: %+v", ev)
			}
			continue
		}
		if !ev.Truncated {
			t.Errorf("event %d not marked truncated", i)
		}
		if len(m.Data) > maxPayload || len(ev.Body) == 0 || !bytes.HasPrefix(orig.Body, ev.Body) {
			t.Errorf("event %d: %d bytes with a body of %d, want at most %d with the start of the body", i, len(m.Data), len(ev.Body), maxPayload)
		}
		if len(m.Data) < maxPayload/2 {
			t.Errorf("event %d cut to %d bytes, more than needed for %d", i, len(m.Data), maxPayload)
		}
		wantSize, wantSum := len(orig.Body), sha256.Sum256(orig.Body)
		wantHex := hex.EncodeToString(wantSum[:])
		if orig.Truncated {
			wantSize, wantHex = orig.BodySize, orig.BodySHA256
		}
		if ev.BodySize != wantSize || ev.BodySHA256 != wantHex {
			t.Errorf("event %d: body size %d sha256 %s, want %d %s", i, ev.BodySize, ev.BodySHA256, wantSize, wantHex)
		}
	}
}

func TestPublisherKeepsRecordsThatAreNotEvents(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(2, &gen)

	bad := [][]byte{
		[]byte("not json"),
		[]byte(`{"v":1,"gateway":"gw","transport":"http","dir":"c2g"}`),               // no id
		[]byte(`{"v":1,"id":"X","gateway":"gw","transport":"h t","dir":"c2g"}`),       // bad subject
		[]byte(`{"v":1,"id":"Y","gateway":"gw","transport":"http","dir":"c2g.more"}`), // bad subject
	}
	appendEvents(t, sp, evs[:1])
	for _, b := range bad {
		if _, err := sp.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	seqs := appendEvents(t, sp, evs[1:])

	p := &bus.Publisher{JS: js, Spool: sp, Logger: testLogger(t)}
	runPublisher(t, p)
	waitShipped(t, p, seqs[0])
	if got, want := p.Stats().Invalid, uint64(len(bad)); got != want {
		t.Errorf("%d invalid records, want %d", got, want)
	}

	msgs := streamMsgs(t, stream)
	if got, want := len(msgs), len(evs)+len(bad); got != want {
		t.Fatalf("stream holds %d messages, want %d", got, want)
	}
	for i, b := range bad {
		m := msgs[1+i]
		sum := sha256.Sum256(b)
		if got, want := m.Subject, bus.DefaultPrefix+"."+bus.InvalidToken; got != want {
			t.Errorf("record %q on %s, want %s", b, got, want)
		}
		if got, want := m.Header.Get(jetstream.MsgIDHeader), "invalid-"+hex.EncodeToString(sum[:]); got != want {
			t.Errorf("record %q has msg id %s, want %s", b, got, want)
		}
		if !bytes.Equal(m.Data, b) {
			t.Errorf("record %q stored as %q", b, m.Data)
		}
	}
}

// TestPublisherOutlivesServer stops, kills and freezes a real nats-server
// process while the publisher ships: the spool keeps taking events, the
// publisher retries, and in the end the stream holds every event once.
func TestPublisherOutlivesServer(t *testing.T) {
	stop := func(t *testing.T, ext *bustest.External, p *bus.Publisher, appendMore func()) {
		ext.Stop()
		appendMore()
	}
	killWhileHung := func(t *testing.T, ext *bustest.External, p *bus.Publisher, appendMore func()) {
		ext.Pause()
		appendMore()
		// The publisher has sent some; the server has not read them.
		janustest.WaitFor(t, 10*time.Second, func() error {
			if n := p.Stats().InFlight; n == 0 {
				return fmt.Errorf("nothing in flight")
			}
			return nil
		})
		ext.Kill()
		appendMore()
	}
	hung := func(t *testing.T, ext *bustest.External, p *bus.Publisher, appendMore func()) {
		ext.Pause()
		appendMore()
		janustest.WaitFor(t, 10*time.Second, func() error {
			if p.Stats().Errors == 0 {
				return fmt.Errorf("no publish timed out yet")
			}
			return nil
		})
	}
	restart := func(t *testing.T, ext *bustest.External) { ext.Restart() }
	resume := func(t *testing.T, ext *bustest.External) { ext.Resume() }

	for _, tc := range []struct {
		name string
		// fault breaks the server, appending events before and after;
		// repair brings it back.
		fault  func(*testing.T, *bustest.External, *bus.Publisher, func())
		repair func(*testing.T, *bustest.External)
		// bufSize is the connection's ReconnectBufSize; only without a
		// buffer is the spool's order kept.
		bufSize int
		retries bool // whether publishes must have been retried
	}{
		{name: "stop", fault: stop, repair: restart, bufSize: -1},
		{name: "kill-while-hung", fault: killWhileHung, repair: restart, bufSize: -1, retries: true},
		{name: "kill-while-hung-buffered", fault: killWhileHung, repair: restart, retries: true},
		// The server stores the first sends, then drops the resends as
		// duplicates.
		{name: "hung", fault: hung, repair: resume, bufSize: -1, retries: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := bustest.StartExternal(t)
			_, js := connect(t, ext.URL(), bus.ConnectOptions{ReconnectBufSize: tc.bufSize})
			ensureStream(t, js)
			sp := openSpool(t)
			var gen schema.IDGen
			evs := events(400, &gen)
			next := 0
			appendMore := func() {
				t.Helper()
				appendEvents(t, sp, evs[next:next+100]) // the spool takes them, whatever NATS does
				next += 100
			}

			p := &bus.Publisher{
				JS: js, Spool: sp, Window: 32,
				AckTimeout: 500 * time.Millisecond,
				MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
				Logger: testLogger(t),
			}
			runPublisher(t, p)
			appendMore()
			waitShipped(t, p, sp.Stats().LastSeq)

			tc.fault(t, ext, p, appendMore)
			if got, want := p.Stats().LastAcked, sp.Stats().LastSeq; got >= want {
				t.Fatalf("publisher acked up to %d while the server was down, the spool holds up to %d", got, want)
			}
			tc.repair(t, ext)
			appendMore()
			waitShipped(t, p, sp.Stats().LastSeq)

			stream, err := js.Stream(t.Context(), bus.DefaultStream)
			if err != nil {
				t.Fatal(err)
			}
			checkStream(t, stream, evs[:next], tc.bufSize < 0)
			st := p.Stats()
			t.Logf("stats %+v", st)
			if tc.retries && (st.Errors == 0 || st.Retries == 0) {
				t.Errorf("stats %+v, want errors and retries", st)
			}
		})
	}
}

// TestPublisherStartsBeforeServer starts the tap's side first, as when the
// machine boots before NATS: the connection comes up later, the stream
// later still, and the publisher ships everything once both are there.
func TestPublisherStartsBeforeServer(t *testing.T) {
	ext := bustest.StartExternal(t)
	ext.Stop()
	nc, js := connect(t, ext.URL(), bus.ConnectOptions{RetryOnFailedConnect: true, ReconnectBufSize: -1})
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(50, &gen)
	// One publish in flight at a time: with a window, publishes sent
	// while the stream does not exist fail, and later ones already in
	// flight when the test creates it would be stored first. That race
	// needs a stream created in the middle of a window, which serve never
	// does (it publishes only once the stream exists); what this test
	// holds is that nothing is lost or doubled and order is kept across
	// the failures.
	p := &bus.Publisher{
		JS: js, Spool: sp, Window: 1,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: testLogger(t),
	}
	runPublisher(t, p)
	seqs := appendEvents(t, sp, evs)

	ext.Restart()
	janustest.WaitFor(t, 10*time.Second, func() error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected: %v", nc.Status())
		}
		return nil
	})
	// No stream yet: the publishes find no one to store them.
	janustest.WaitFor(t, 10*time.Second, func() error {
		if st := p.Stats(); st.Errors == 0 {
			return fmt.Errorf("no publish failed yet: %+v", st)
		}
		return nil
	})
	stream := ensureStream(t, js)
	waitShipped(t, p, seqs[len(seqs)-1])
	checkStream(t, stream, evs, true)
}
