//go:build linux

package faults_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, for integrity_check
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/schema"
)

// connectLog connects the test to the event log at url.
func connectLog(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := bus.Connect(t.Context(), url, bus.ConnectOptions{Name: "faults test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// logEvent is an event with its stream sequence.
type logEvent struct {
	*schema.Event
	streamSeq uint64
}

// readStream returns every event of the default stream, in stream order.
func readStream(ctx context.Context, js jetstream.JetStream) ([]logEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r := &bus.Reader{JS: js, UntilCaughtUp: true}
	var evs []logEvent
	for d, err := range r.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("stream message %d is not an event: %w", d.StreamSeq, d.Err)
		}
		evs = append(evs, logEvent{d.Event, d.StreamSeq})
	}
	return evs, nil
}

// tapsInOrder returns the tap process ids of the events in the order they
// first appear. The spool publishes in the order it was written, across
// restarts on the same data directory, so this is the order of the runs.
func tapsInOrder(evs []logEvent) []string {
	var taps []string
	for _, ev := range evs {
		if !slices.Contains(taps, ev.Tap) {
			taps = append(taps, ev.Tap)
		}
	}
	return taps
}

// cutTail is how many of the last events of a connection cut by a kill may
// be missing: those of messages that were being recorded when the process
// died, which were therefore never forwarded. A WebSocket relays both ways
// at once, and each way records before it forwards.
const cutTail = 3

// checkLog checks the stream against what the clients saw:
//   - every event is in the stream once (by id, and by connection and seq);
//   - each connection's events are numbered 1, 2, 3... without a gap, except
//     that a connection of a tap in cut (a killed process) may lack some of
//     its last cutTail events, and that with lossy (the tap lost events, and
//     counted them) gaps are allowed;
//   - every request that got an answer, every answer and every event a
//     client received is in the stream exactly once, with its bytes and
//     direction; a request that got no answer is there at most once.
func checkLog(evs []logEvent, sessions []*janus.Session, cut []string, lossy bool) error {
	ids := map[string]bool{}
	seqs := map[string][]uint64{}
	tapOf := map[string]string{}
	for _, ev := range evs {
		if ids[ev.ID] {
			return fmt.Errorf("event %s is in the stream twice", ev.ID)
		}
		ids[ev.ID] = true
		seqs[ev.Conn] = append(seqs[ev.Conn], ev.Seq)
		tapOf[ev.Conn] = ev.Tap
	}
	for conn, s := range seqs {
		slices.Sort(s)
		for i := 1; i < len(s); i++ {
			if s[i] == s[i-1] {
				return fmt.Errorf("conn %s: two events with seq %d", conn, s[i])
			}
		}
		last := s[len(s)-1]
		if missing := missingSeqs(s); len(missing) > 0 && !lossy {
			if !slices.Contains(cut, tapOf[conn]) || missing[0]+cutTail <= last {
				return fmt.Errorf("conn %s: events %v missing of 1..%d", conn, missing, last)
			}
		}
	}

	type key struct {
		dir  schema.Direction
		body string
	}
	count := map[key]int{}
	for _, ev := range evs {
		if !ev.Truncated {
			count[key{ev.Direction, string(ev.Body)}]++
		}
	}
	for _, s := range sessions {
		for _, x := range s.T.Exchanges {
			n := count[key{schema.ToGateway, string(x.Request)}]
			if x.Err != nil {
				if n > 1 {
					return fmt.Errorf("request %s (unanswered: %v) is in the stream %d times", x.Request, x.Err, n)
				}
				continue
			}
			if n != 1 {
				return fmt.Errorf("request %s is in the stream %d times", x.Request, n)
			}
			if x.Reply.Status == http.StatusBadGateway {
				continue // the tap's own answer: a Failure event says why
			}
			if n := count[key{schema.ToClient, string(x.Reply.Body)}]; n != 1 {
				return fmt.Errorf("reply %s is in the stream %d times", x.Reply.Body, n)
			}
		}
		for _, e := range s.T.Events {
			if n := count[key{schema.ToClient, string(e)}]; n != 1 {
				return fmt.Errorf("event %s is in the stream %d times", e, n)
			}
		}
	}
	return nil
}

func sortedCopy(s []uint64) []uint64 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// missingSeqs returns the numbers in 1..max(s) that sorted s lacks.
func missingSeqs(s []uint64) []uint64 {
	var missing []uint64
	next := uint64(1)
	for _, n := range s {
		for ; next < n; next++ {
			missing = append(missing, next)
		}
		next = n + 1
	}
	return missing
}

// dbHolds checks the SQLite projection at path against the stream: the same
// events, each once, up to the stream's last sequence, and nothing applied
// twice.
func dbHolds(ctx context.Context, path string, evs []logEvent) error {
	if len(evs) == 0 {
		return fmt.Errorf("the stream is empty")
	}
	db := store.NewDB(path)
	if err := db.Open(ctx); err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Count(ctx)
	if err != nil {
		return err
	}
	if c.Events != len(evs) {
		return fmt.Errorf("database has %d events, the stream %d", c.Events, len(evs))
	}
	want := map[string]bool{}
	for _, ev := range evs {
		want[ev.ID] = true
	}
	for e, err := range db.Events(ctx, store.EventFilter{}) {
		if err != nil {
			return err
		}
		if !want[e.ID] {
			return fmt.Errorf("database has event %s (stream seq %d) twice or the stream lacks it", e.ID, e.StreamSeq)
		}
		delete(want, e.ID)
	}
	if len(want) != 0 {
		return fmt.Errorf("database lacks %d events of the stream", len(want))
	}
	p, err := db.Progress(ctx)
	if err != nil {
		return err
	}
	if last := evs[len(evs)-1].streamSeq; p.LastSeq != last {
		return fmt.Errorf("database is at stream seq %d, the stream at %d", p.LastSeq, last)
	}
	if p.Duplicates != 0 || p.Undecodable != 0 {
		return fmt.Errorf("database skipped %d duplicates and %d undecodable items: the log holds doubles", p.Duplicates, p.Undecodable)
	}
	return nil
}

// integrity runs SQLite's integrity_check on the database at path,
// read-only.
func integrity(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("integrity check of %s: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("integrity check of %s: %s", path, res)
	}
	return nil
}

// expect is what settled expects of the log.
type expect struct {
	sessions []*janus.Session // what the clients saw
	killed   bool             // every tap process but the last was killed
	lossy    bool             // the tap lost events (and counted them)
	db       string           // the SQLite projection to check; "" for none
}

// settled waits until the stream holds what the clients saw (checkLog) and
// the database the same events, and returns the stream.
func settled(t testing.TB, js jetstream.JetStream, x expect) []logEvent {
	t.Helper()
	var evs []logEvent
	var lastErr error
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		err := caughtUp(t.Context(), js, x.db)
		if err == nil {
			evs, err = readStream(t.Context(), js)
		}
		if err == nil {
			var cut []string
			if taps := tapsInOrder(evs); x.killed && len(taps) > 0 {
				cut = taps[:len(taps)-1]
			}
			err = checkLog(evs, x.sessions, cut, x.lossy)
		}
		if err == nil && x.db != "" {
			err = dbHolds(t.Context(), x.db, evs)
		}
		if err == nil {
			t.Logf("log and database settled %v after the load stopped", time.Since(start).Round(time.Millisecond))
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not settled within 60s: %v", err)
		}
		if lastErr == nil || err.Error() != lastErr.Error() {
			t.Logf("not settled yet: %v", err)
		}
		lastErr = err
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(200 * time.Millisecond): // poll interval
		}
	}
}

// caughtUp is the cheap part of settled, so that it reads the whole stream
// only once it may be done: the stream's count has not moved since the last
// look, and the database (unless dbPath is "") has as many events.
func caughtUp(ctx context.Context, js jetstream.JetStream, dbPath string) error {
	count := func() (uint64, error) {
		s, err := js.Stream(ctx, bus.DefaultStream)
		if err != nil {
			return 0, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.State.Msgs, nil
	}
	n, err := count()
	if err != nil {
		return err
	}
	if dbPath != "" {
		db := store.NewDB(dbPath)
		if err := db.Open(ctx); err != nil {
			return err
		}
		p, err := db.Progress(ctx)
		db.Close()
		if err != nil {
			return err
		}
		if uint64(p.Events+p.Duplicates+p.Undecodable) < n {
			return fmt.Errorf("database has %d of the stream's %d events", p.Events, n)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond): // the publisher's pace, to notice it still moves
	}
	if m, err := count(); err != nil {
		return err
	} else if m != n {
		return fmt.Errorf("the stream grows: %d events, %d a moment ago", m, n)
	}
	return nil
}

// eventsOf counts the events of each kind.
func eventsOf(evs []logEvent) map[schema.Kind]int {
	n := map[schema.Kind]int{}
	for _, ev := range evs {
		n[ev.Kind]++
	}
	return n
}
