package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// publish puts evs into the stream directly, and returns the stream
// sequence of each.
func publish(t testing.TB, js jetstream.JetStream, evs []*schema.Event) []uint64 {
	t.Helper()
	seqs := make([]uint64, len(evs))
	for i, ev := range evs {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(t.Context(), ev.Subject(bus.DefaultPrefix), b, jetstream.WithMsgID(ev.ID))
		if err != nil {
			t.Fatal(err)
		}
		seqs[i] = ack.Sequence
	}
	return seqs
}

// readAll reads with r until the sequence ends, and fails the test on an
// error.
func readAll(t testing.TB, ctx context.Context, r *bus.Reader) []bus.Delivery {
	t.Helper()
	var ds []bus.Delivery
	for d, err := range r.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// checkDeliveries checks that ds are evs, with the stream sequences seqs.
func checkDeliveries(t testing.TB, ds []bus.Delivery, evs []*schema.Event, seqs []uint64) {
	t.Helper()
	if got, want := len(ds), len(evs); got != want {
		t.Errorf("%d deliveries, want %d", got, want)
	}
	for i := range min(len(ds), len(evs)) {
		d := ds[i]
		if d.Err != nil {
			t.Errorf("delivery %d: %v", i, d.Err)
			continue
		}
		if got, want := d.Event.ID, evs[i].ID; got != want {
			t.Errorf("delivery %d is event %s, want %s", i, got, want)
		}
		if got, want := d.StreamSeq, seqs[i]; got != want {
			t.Errorf("delivery %d has stream sequence %d, want %d", i, got, want)
		}
		if got, want := d.Subject, evs[i].Subject(bus.DefaultPrefix); got != want {
			t.Errorf("delivery %d on %s, want %s", i, got, want)
		}
		if d.Time.IsZero() || time.Since(d.Time) > time.Minute {
			t.Errorf("delivery %d stored at %v", i, d.Time)
		}
	}
}

func TestReaderUntilCaughtUp(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	ensureStream(t, js)
	var gen schema.IDGen
	evs := events(50, &gen)
	seqs := publish(t, js, evs)

	// gw.b has the odd events; the last event of the stream is gw.b's, so
	// gw-a's reader must stop at its own last event.
	var gwa []*schema.Event
	var gwaSeqs []uint64
	for i, ev := range evs {
		if ev.Gateway == "gw-a" {
			gwa, gwaSeqs = append(gwa, ev), append(gwaSeqs, seqs[i])
		}
	}

	for _, tc := range []struct {
		name string
		r    bus.Reader
		evs  []*schema.Event
		seqs []uint64
	}{
		{"all", bus.Reader{}, evs, seqs},
		{"gateway", bus.Reader{Filter: bus.GatewayFilter("", "gw-a")}, gwa, gwaSeqs},
		{"from-seq", bus.Reader{Start: bus.StartSeq, StartSeq: seqs[30]}, evs[30:], seqs[30:]},
		{"past-end", bus.Reader{Start: bus.StartSeq, StartSeq: seqs[49] + 1}, nil, nil},
		{"new", bus.Reader{Start: bus.StartNew}, nil, nil},
		{"no-match", bus.Reader{Filter: bus.GatewayFilter("", "gw-c")}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.JS, r.UntilCaughtUp = js, true
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			ds := readAll(t, ctx, &r)
			if ctx.Err() != nil {
				t.Fatal("reader did not stop when caught up")
			}
			checkDeliveries(t, ds, tc.evs, tc.seqs)
		})
	}

	t.Run("empty-stream", func(t *testing.T) {
		if _, err := bus.EnsureStream(t.Context(), js, bus.StreamConfig{Name: "EMPTY", Prefix: "empty"}); err != nil {
			t.Fatal(err)
		}
		r := &bus.Reader{JS: js, Stream: "EMPTY", Prefix: "empty", UntilCaughtUp: true}
		if ds := readAll(t, t.Context(), r); len(ds) != 0 {
			t.Errorf("%d deliveries from an empty stream", len(ds))
		}
	})
}

func TestReaderFollows(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	ensureStream(t, js)
	var gen schema.IDGen
	evs := events(40, &gen)
	seqs := publish(t, js, evs[:10])

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &bus.Reader{JS: js}
	type result struct {
		d   bus.Delivery
		err error
	}
	got := make(chan result)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d, err := range r.Events(ctx) {
			got <- result{d, err}
		}
	}()

	var ds []bus.Delivery
	receive := func(n int) {
		t.Helper()
		for range n {
			select {
			case res := <-got:
				if res.err != nil {
					t.Fatal(res.err)
				}
				ds = append(ds, res.d)
			case <-time.After(20 * time.Second):
				t.Fatalf("no delivery after %d", len(ds))
			}
		}
	}
	receive(10)
	seqs = append(seqs, publish(t, js, evs[10:])...) // published while the reader waits
	receive(30)
	checkDeliveries(t, ds, evs, seqs)

	cancel()
	select {
	case res := <-got:
		t.Errorf("delivery after cancel: %+v", res)
	case <-done:
	}
}

func TestReaderDurable(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	ensureStream(t, js)
	var gen schema.IDGen
	evs := events(20, &gen)
	seqs := publish(t, js, evs)
	newReader := func() *bus.Reader {
		return &bus.Reader{JS: js, Durable: "store", AckWait: 200 * time.Millisecond}
	}

	// The first run acknowledges 8 events and stops.
	var first []bus.Delivery
	err := newReader().Consume(t.Context(), func(d bus.Delivery) error {
		first = append(first, d)
		if err := d.Ack(); err != nil {
			return err
		}
		if len(first) == 8 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("consume: %v, want %v", err, errStop)
	}
	checkDeliveries(t, first, evs[:8], seqs[:8])
	cons, err := js.Consumer(t.Context(), bus.DefaultStream, "store")
	if err != nil {
		t.Fatal(err)
	}
	waitAcked := func(floor uint64) {
		t.Helper()
		janustest.WaitFor(t, 10*time.Second, func() error { // Ack does not wait for the server
			info, err := cons.Info(t.Context())
			if err == nil && info.AckFloor.Stream != floor {
				err = fmt.Errorf("ack floor %d, want %d", info.AckFloor.Stream, floor)
			}
			return err
		})
	}
	waitAcked(seqs[7])

	// The second run gets the other 12: those the first did not fetch, and
	// those it fetched without acknowledging them, again, maybe after the
	// first ones.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(map[uint64]string)
	err = newReader().Consume(ctx, func(d bus.Delivery) error {
		if d.Err != nil {
			return d.Err
		}
		got[d.StreamSeq] = d.Event.ID
		if len(got) == 12 {
			cancel()
		}
		return d.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 8; i < 20; i++ {
		if got[seqs[i]] != evs[i].ID {
			t.Errorf("stream sequence %d delivered as %q, want event %s", seqs[i], got[seqs[i]], evs[i].ID)
		}
	}
	waitAcked(seqs[19])

	t.Run("other-filter", func(t *testing.T) {
		r := newReader()
		r.Filter = bus.GatewayFilter("", "gw-a")
		for _, err := range r.Events(t.Context()) {
			if err == nil {
				t.Fatal("durable read with another filter than it was made with")
			}
		}
	})

	t.Run("until-caught-up", func(t *testing.T) {
		r := newReader()
		r.UntilCaughtUp = true
		if err := r.Consume(t.Context(), func(bus.Delivery) error { return nil }); err == nil {
			t.Fatal("durable read until caught up")
		}
	})
}

var errStop = errors.New("stop here")

func TestReaderYieldsRecordsThatAreNotEvents(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	ensureStream(t, js)
	var gen schema.IDGen
	evs := events(2, &gen)
	publish(t, js, evs[:1])
	if _, err := js.Publish(t.Context(), bus.DefaultPrefix+"."+bus.InvalidToken, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	publish(t, js, evs[1:])

	ds := readAll(t, t.Context(), &bus.Reader{JS: js, UntilCaughtUp: true})
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3", len(ds))
	}
	if ds[0].Err != nil || ds[2].Err != nil {
		t.Errorf("events delivered with errors: %v, %v", ds[0].Err, ds[2].Err)
	}
	var de *schema.DecodeError
	if ds[1].Event != nil || !errors.As(ds[1].Err, &de) || string(ds[1].Data) != "not json" {
		t.Errorf("record that is not an event delivered as %+v", ds[1])
	}
}

func TestReaderEndsWithErrorWithoutStream(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	var errs []error
	for d, err := range (&bus.Reader{JS: js}).Events(t.Context()) {
		if err == nil {
			t.Fatalf("delivery %+v from no stream", d)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], jetstream.ErrStreamNotFound) {
		t.Errorf("errors %v, want one saying the stream is not found", errs)
	}
}

// TestReaderIdle checks IdleAfter: once the stream has nothing more, the
// reader says so with one idle delivery, then goes on with what comes
// next; its end (ctx) still ends the reading.
func TestReaderIdle(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	ensureStream(t, js)
	var gen schema.IDGen
	evs := events(6, &gen)
	seqs := publish(t, js, evs[:3])

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &bus.Reader{JS: js, IdleAfter: 20 * time.Millisecond}
	got := make(chan bus.Delivery)
	done := make(chan error, 1)
	go func() {
		for d, err := range r.Events(ctx) {
			if err != nil {
				done <- err
				return
			}
			got <- d
		}
		done <- nil
	}()
	next := func() bus.Delivery {
		t.Helper()
		select {
		case d := <-got:
			return d
		case err := <-done:
			t.Fatalf("reading ended: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("no delivery in 20s")
		}
		return bus.Delivery{}
	}
	// read returns the next n events, skipping idle deliveries (one may come
	// before the first event when the consumer is slow to start).
	read := func(n int) []bus.Delivery {
		t.Helper()
		var ds []bus.Delivery
		for len(ds) < n {
			if d := next(); !d.Idle {
				ds = append(ds, d)
			}
		}
		return ds
	}
	ds := read(3)
	if d := next(); !d.Idle || d.Event != nil || d.StreamSeq != 0 {
		t.Fatalf("after the last event: %+v, want an idle delivery", d)
	}
	seqs = append(seqs, publish(t, js, evs[3:])...)
	// Once per quiet spell: what follows the idle delivery is the events.
	for i, d := range [3]bus.Delivery{next(), next(), next()} {
		if d.Idle {
			t.Fatalf("delivery %d after the new events: idle again", i)
		}
		ds = append(ds, d)
	}
	if d := next(); !d.Idle {
		t.Fatalf("after the new events: %+v, want an idle delivery", d)
	}
	checkDeliveries(t, ds, evs, seqs)

	cancel()
	for {
		select {
		case d := <-got:
			if !d.Idle {
				t.Fatalf("delivery after cancel: %+v", d)
			}
			continue
		case err := <-done:
			if err != nil {
				t.Fatalf("reading ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("reading did not end with its context")
		}
		break
	}
}
