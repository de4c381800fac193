package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/spool"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// testLogger logs to the test's output until the test ends; lines logged
// after, such as those of nats.go's asynchronous callbacks, are dropped.
func testLogger(t testing.TB) *slog.Logger {
	w := &testOutput{w: t.Output()}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testOutput writes to a test's output until closed.
type testOutput struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (o *testOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return len(p), nil
	}
	return o.w.Write(p)
}

func (o *testOutput) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
}

// connect connects to url for the test, reconnecting quickly, and closes the
// connection when the test ends.
func connect(t testing.TB, url string, opts bus.ConnectOptions) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts.ReconnectWait = 20 * time.Millisecond
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	nc, err := bus.Connect(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// ensureStream creates the default stream.
func ensureStream(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := bus.EnsureStream(t.Context(), js, bus.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openSpool opens a spool in a new directory and closes it when the test ends.
func openSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp := spool.New(filepath.Join(t.TempDir(), "spool"))
	sp.Logger = testLogger(t)
	if err := sp.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sp.Close(); err != nil {
			t.Error(err)
		}
	})
	return sp
}

// events makes n events of a few gateways, transports and directions, with
// ids that sort in the order they are made.
func events(n int, gen *schema.IDGen) []*schema.Event {
	gateways := []string{"gw-a", "gw.b"} // the dot becomes _ in the subject
	transports := []schema.Transport{schema.HTTP, schema.WS, schema.AdminHTTP}
	dirs := []schema.Direction{schema.ToGateway, schema.ToClient}
	evs := make([]*schema.Event, n)
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for i := range evs {
		at := start.Add(time.Duration(i) * time.Millisecond)
		evs[i] = &schema.Event{
			ID:        gen.New(at),
			Gateway:   gateways[i%len(gateways)],
			Conn:      "c" + strconv.Itoa(i/4),
			Seq:       uint64(i%4 + 1),
			Time:      at,
			Transport: transports[i%len(transports)],
			Direction: dirs[i%len(dirs)],
			Kind:      schema.Frame,
			Body:      fmt.Appendf(nil, `{"janus":"keepalive","transaction":"t%d"}`, i),
		}
	}
	return evs
}

// appendEvents encodes evs into the spool and returns their sequences.
func appendEvents(t testing.TB, sp *spool.Spool, evs []*schema.Event) []uint64 {
	t.Helper()
	seqs := make([]uint64, len(evs))
	for i, ev := range evs {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if seqs[i], err = sp.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	return seqs
}

// runPublisher runs p until the test ends and checks that Run returns nil.
func runPublisher(t testing.TB, p *bus.Publisher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("publisher: %v", err)
		}
	})
}

// waitShipped waits until p has acknowledged the spool up to seq.
func waitShipped(t testing.TB, p *bus.Publisher, seq uint64) {
	t.Helper()
	janustest.WaitFor(t, 20*time.Second, func() error {
		if st := p.Stats(); st.LastAcked < seq {
			return fmt.Errorf("publisher acked up to %d, want %d (stats %+v)", st.LastAcked, seq, st)
		}
		return nil
	})
}

// streamMsgs returns every message of the stream, in order.
func streamMsgs(t testing.TB, s jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("get stream message %d: %v", seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// checkStream checks that the stream holds exactly evs, once each, with
// their subjects and msg ids. With inOrder, they must be in the order of evs.
func checkStream(t testing.TB, s jetstream.Stream, evs []*schema.Event, inOrder bool) {
	t.Helper()
	msgs := streamMsgs(t, s)
	if got, want := len(msgs), len(evs); got != want {
		t.Errorf("stream holds %d messages, want %d", got, want)
	}
	byID := make(map[string]*schema.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	seen := make(map[string]uint64, len(msgs))
	for i, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		if first, dup := seen[id]; dup {
			t.Errorf("stream message %d repeats event %s of message %d", m.Sequence, id, first)
			continue
		}
		seen[id] = m.Sequence
		ev, ok := byID[id]
		if !ok {
			t.Errorf("stream message %d has msg id %q, not one of the events", m.Sequence, id)
			continue
		}
		if got, want := m.Subject, ev.Subject(bus.DefaultPrefix); got != want {
			t.Errorf("event %s on subject %s, want %s", id, got, want)
		}
		got, err := schema.Decode(m.Data)
		if err != nil {
			t.Errorf("stream message %d: %v", m.Sequence, err)
		} else if got.ID != id {
			t.Errorf("stream message %d holds event %s under msg id %s", m.Sequence, got.ID, id)
		}
		if inOrder && i < len(evs) && id != evs[i].ID {
			t.Errorf("stream message %d is event %s, want %s (the spool's order)", m.Sequence, id, evs[i].ID)
		}
	}
	for _, ev := range evs {
		if _, ok := seen[ev.ID]; !ok {
			t.Errorf("event %s missing from the stream", ev.ID)
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "%d %s %s\n", m.Sequence, m.Subject, m.Header.Get(jetstream.MsgIDHeader))
		}
		t.Logf("stream:\n%s", b.String())
	}
}
