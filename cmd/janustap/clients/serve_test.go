package clients_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// gateway is the name serve records the private Janus under.
const gateway = "clients"

// served is `janustap serve` (tap, spool, embedded JetStream and the SQLite
// recorder) running in this process in front of a private Janus.
type served struct {
	addr string
	dir  string
	js   jetstream.JetStream // the embedded server's event stream
	db   *store.DB           // a reader of the recorder's database
}

func (s *served) http() string { return "http://" + s.addr + "/janus" }
func (s *served) ws() string   { return "ws://" + s.addr + "/" }

// serve runs recorder.Run in front of j until the test ends, as
// recorder_test's serveTB does, and connects to its log and database.
func serve(t *testing.T, j *janustest.Janus, opts ...func(*recorder.Config)) *served {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	recording := make(chan struct{})
	log := &watchLog{
		Handler: slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}),
		msg:     recorderRunning, seen: sync.OnceFunc(func() { close(recording) }),
	}
	cfg := recorder.Config{
		Tap:          tap.Config{Gateway: gateway, JanusHTTP: j.HTTP, JanusWS: j.WS, AdminHTTP: j.AdminHTTP, AdminWS: j.AdminWS},
		Listen:       []string{"127.0.0.1:0"},
		DataDir:      dir,
		EmbeddedPort: -1,
		Logger:       slog.New(log),
		Ready:        func(a []net.Addr) { ready <- a },
	}
	for _, o := range opts {
		o(&cfg)
	}
	go func() { done <- recorder.Run(ctx, cfg) }()
	s := &served{dir: dir}
	select {
	case addrs := <-ready:
		s.addr = addrs[0].String()
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	// The log, as another process finds it: the URL and credentials are in
	// the data directory. Run writes them before it calls Ready.
	url, err := os.ReadFile(filepath.Join(dir, recorder.URLFile))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, err := bus.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(t.Context(), strings.TrimSpace(string(url)), bus.ConnectOptions{User: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if s.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	// Run opens (creates and migrates) the database after Ready; open a
	// reader of it once the recorder runs. Opening it earlier would race
	// with Run's migration (see watchLog).
	select {
	case <-recording:
	case err := <-done:
		t.Fatalf("serve stopped before its recorder ran: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log %q within 30s", recorderRunning)
	}
	s.db = store.NewDB(filepath.Join(dir, recorder.DBFile))
	if err := s.db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	return s
}

// recorderRunning is what recorder.Run logs once its database is open.
const recorderRunning = "recorder running"

// watchLog is a slog.Handler that calls seen when a record with message msg
// goes by (at any level), and hands the records at its Handler's level
// on to it.
//
// serve waits for Run's "recorder running" before it opens the database
// itself: two store.DB.Open of a new file at once both read user_version 0
// and both apply the first migration; the second fails with "table progress
// already exists", which kills Run.
type watchLog struct {
	slog.Handler
	msg  string
	seen func()
}

func (h *watchLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *watchLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.seen()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *watchLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &watchLog{Handler: h.Handler.WithAttrs(as), msg: h.msg, seen: h.seen}
}

func (h *watchLog) WithGroup(name string) slog.Handler {
	return &watchLog{Handler: h.Handler.WithGroup(name), msg: h.msg, seen: h.seen}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// readStream returns every event the stream holds now.
func readStream(ctx context.Context, js jetstream.JetStream) ([]*schema.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r := &bus.Reader{JS: js, UntilCaughtUp: true}
	var evs []*schema.Event
	for d, err := range r.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("stream message %d is not an event: %w", d.StreamSeq, d.Err)
		}
		evs = append(evs, d.Event)
	}
	return evs, nil
}

// dbEvents returns the events of the recorder's database that f selects,
// decoded, in stream order.
func dbEvents(ctx context.Context, db *store.DB, f store.EventFilter) ([]*schema.Event, error) {
	var evs []*schema.Event
	for raw, err := range db.Events(ctx, f) {
		if err != nil {
			return nil, err
		}
		ev, err := schema.Decode(raw.Raw)
		if err != nil {
			return nil, fmt.Errorf("event %s at stream sequence %d: %w", raw.ID, raw.StreamSeq, err)
		}
		if ev.ID != raw.ID {
			return nil, fmt.Errorf("row %s at stream sequence %d holds event %s", raw.ID, raw.StreamSeq, ev.ID)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// caughtUp checks that the database holds exactly the events of the stream,
// each once, and returns them.
func (s *served) caughtUp(ctx context.Context) (stream, db []*schema.Event, err error) {
	if stream, err = readStream(ctx, s.js); err != nil {
		return nil, nil, err
	}
	if db, err = dbEvents(ctx, s.db, store.EventFilter{}); err != nil {
		return nil, nil, err
	}
	if len(db) != len(stream) || len(stream) == 0 {
		return nil, nil, fmt.Errorf("database has %d events, stream %d", len(db), len(stream))
	}
	ids := map[string]bool{}
	for i, ev := range stream {
		if ids[ev.ID] {
			return nil, nil, fmt.Errorf("event %s is in the stream twice", ev.ID)
		}
		ids[ev.ID] = true
		if db[i].ID != ev.ID {
			return nil, nil, fmt.Errorf("event %d of the database is %s, of the stream %s", i+1, db[i].ID, ev.ID)
		}
	}
	return stream, db, nil
}

// byType returns the Janus API messages from the gateway of the session
// among evs, by their janus type.
func byType(evs []*schema.Event, session uint64) map[string][]*schema.Event {
	out := map[string][]*schema.Event{}
	for _, ev := range evs {
		if ev.Direction == schema.ToClient && ev.Janus != nil && ev.Janus.SessionID == session && !ev.Transport.IsAdmin() {
			out[ev.Janus.Janus] = append(out[ev.Janus.Janus], ev)
		}
	}
	return out
}

// checkOnce checks that the session's events in the database are those of
// the stream, each once: no id twice, the same number of each janus type.
func checkOnce(stream, inDB []*schema.Event, session uint64) error {
	seen := map[string]bool{}
	for _, ev := range inDB {
		if seen[ev.ID] {
			return fmt.Errorf("session %d: event %s is in the database twice", session, ev.ID)
		}
		seen[ev.ID] = true
	}
	want := 0
	for _, ev := range stream {
		if ev.SessionID() == session {
			want++
			if !seen[ev.ID] {
				return fmt.Errorf("session %d: event %s (%s %s) of the stream is not among the session's events in the database", session, ev.ID, ev.Kind, ev.Janus.Janus)
			}
		}
	}
	if want == 0 {
		return fmt.Errorf("the stream has no event of session %d", session)
	}
	a, b := byType(stream, session), byType(inDB, session)
	for typ, evs := range a {
		if len(b[typ]) != len(evs) {
			return fmt.Errorf("session %d: %d %q events in the database, %d in the stream", session, len(b[typ]), typ, len(evs))
		}
	}
	return nil
}

// sessionDone returns the session's detail once the recorder has seen it
// destroyed and every one of its transactions answered.
func (s *served) sessionDone(ctx context.Context, id uint64, handles int) (*store.SessionDetail, error) {
	d, err := s.db.Session(ctx, gateway, id)
	if err != nil {
		return nil, err
	}
	if d.Ended != store.EndDestroyed || d.CreatedAt.IsZero() {
		return d, fmt.Errorf("session %d: ended %q created %v, want destroyed after a create", id, d.Ended, d.CreatedAt)
	}
	if len(d.Handles) != handles {
		return d, fmt.Errorf("session %d has %d handles, want %d: %+v", id, len(d.Handles), handles, d.Handles)
	}
	for _, h := range d.Handles {
		if h.DetachedAt.IsZero() {
			return d, fmt.Errorf("session %d: handle %d (%s) not detached", id, h.ID, h.Plugin)
		}
	}
	if len(d.Transactions) == 0 {
		return d, fmt.Errorf("session %d has no transaction", id)
	}
	for _, tx := range d.Transactions {
		if tx.Reply == "" || tx.ReplyLatency <= 0 {
			return d, fmt.Errorf("session %d: transaction %q (%s %s) has reply %q latency %v", id, tx.Transaction, tx.Janus, tx.PluginRequest, tx.Reply, tx.ReplyLatency)
		}
	}
	return d, nil
}

// replaySessions replays the captured sessions (events as the database holds
// them) on target over the captured transports.
func replaySessions(t *testing.T, captured []*schema.Event, sessions []uint64, opts drive.Options) (*replayer.Result, []*schema.Event) {
	t.Helper()
	evs := replayer.Select(captured, replayer.Selection{Gateway: gateway, Sessions: sessions})
	if len(evs) == 0 {
		t.Fatalf("no event selected for sessions %v", sessions)
	}
	if opts.Wait == 0 {
		opts.Wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := replayer.Replay(ctx, evs, replayer.Options{Options: opts})
	if err != nil {
		if res != nil && len(res.Runs) > 0 && res.Runs[0] != nil {
			t.Logf("replay waits %q errors %q", res.Runs[0].Waits, res.Runs[0].Errors)
		}
		t.Fatalf("replay of sessions %v: %v", sessions, err)
	}
	return res, evs
}

// reportText is the diff report as `janustap diff` prints it.
func reportText(rep *diff.Report) string {
	var buf bytes.Buffer
	diff.WriteText(&buf, rep)
	return buf.String()
}

// checkReplay checks that the replay matched the capture and could send
// every request, and returns the janus types of the media-dependent notes.
// Waits that ran out are timing notes, not differences (see
// replayer.Result.Same): they are logged, with the captured flow.
func checkReplay(t *testing.T, res *replayer.Result) map[string]int {
	t.Helper()
	run, rep := res.Runs[0], res.Reports[0]
	if len(run.Errors) > 0 {
		t.Errorf("replay errors %q", run.Errors)
	}
	if len(run.Waits) > 0 {
		t.Logf("replay waits (timing notes): %q", run.Waits)
	}
	if !res.Same() || len(run.Waits) > 0 {
		var flow strings.Builder
		for i, ev := range res.Captured {
			fmt.Fprintf(&flow, "  %3d %s %s\n", i+1, ev.Time.Format("15:04:05.000000"), schema.Summary(ev))
		}
		t.Logf("the captured flow:\n%s", flow.String())
	}
	if !rep.Same {
		for _, d := range rep.Differences {
			t.Logf("difference: %+v", d)
		}
		t.Errorf("replay differs from the capture:\n%s", reportText(rep))
	}
	notes := map[string]int{}
	for _, n := range rep.NeedsMedia {
		notes[n.Janus]++
	}
	t.Logf("replay: %d messages matched (%d captured, %d new; %d only captured, %d only new), %d and %d skipped as transport noise; needs media: %v",
		rep.Matched, rep.MessagesA, rep.MessagesB, rep.OnlyA, rep.OnlyB, rep.SkippedA, rep.SkippedB, notes)
	for _, n := range rep.NeedsMedia {
		t.Logf("needs media: %+v", n)
	}
	for _, n := range rep.Racing {
		t.Logf("racing the destroy: %+v", n)
	}
	return notes
}

// browserTiming is one line of the browser timings table.
func browserTiming(name string, r clienttest.BrowserResult) string {
	return fmt.Sprintf("%-12s | %13s | %13s | %13s | %13s", name,
		r.BrowserStart.Round(time.Millisecond), r.WebRTCUp.Round(time.Millisecond),
		r.Scenario.Round(time.Millisecond), r.Total.Round(time.Millisecond))
}

// TestBrowserThroughServe runs janus.js's echotest in headless Chromium
// through `janustap serve` (tap, spool, JetStream, SQLite recorder) over
// REST and WebSockets, and directly for comparison. For each tapped run it
// checks the recorder's view of the session (destroyed; one echotest handle
// that came up, got media and hung up; every transaction answered; the
// webrtcup once and each media event once, as the stream holds them), and
// replays the captured session on a second Janus: no differences in
// signalling, the media-dependent events noted apart.
func TestBrowserThroughServe(t *testing.T) {
	clienttest.Require(t)
	j := janustest.Start(t, janustest.Options{})
	j2 := janustest.Start(t, janustest.Options{})
	s := serve(t, j)
	page := clienttest.ServePage(t)

	cases := []struct {
		name      string
		server    string
		transport schema.Transport // "" when the tap is bypassed
	}{
		{"tap_http", s.http(), schema.HTTP},
		{"tap_ws", s.ws(), schema.WS},
		{"direct_http", j.HTTP, ""},
		{"direct_ws", j.WS, ""},
	}
	timings := map[string]clienttest.BrowserResult{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			res, err := clienttest.RunBrowser(ctx, clienttest.EchoTestURL(page, c.server))
			if err != nil {
				t.Logf("browser output:\n%s", res.Stderr)
				t.Fatal(err)
			}
			timings[c.name] = res
			for _, name := range browserSteps {
				if _, ok := res.Step(name); !ok {
					t.Errorf("browser result lacks step %s", name)
				}
			}
			id := sessionOf(t, res)

			var d *store.SessionDetail
			var stream, inDB []*schema.Event
			janustest.WaitFor(t, 30*time.Second, func() (err error) {
				if stream, _, err = s.caughtUp(ctx); err != nil {
					return err
				}
				if c.transport == "" {
					return nil
				}
				if d, err = s.sessionDone(ctx, id, 1); err != nil {
					return err
				}
				if inDB, err = dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway, SessionID: id}); err != nil {
					return err
				}
				return checkOnce(stream, inDB, id)
			})
			if c.transport == "" {
				if n, err := s.db.CountEvents(ctx, store.EventFilter{SessionID: id}); err != nil || n != 0 {
					t.Errorf("recorder has %d events (%v) of session %d, which bypassed the tap", n, err, id)
				}
				return
			}

			// The recorder's view of the session.
			if d.Transport != c.transport {
				t.Errorf("session %d has transport %s, want %s", id, d.Transport, c.transport)
			}
			if !slices.Equal(d.Plugins, []string{"janus.plugin.echotest"}) {
				t.Errorf("session %d has plugins %v", id, d.Plugins)
			}
			h := d.Handles[0]
			if attach, ok := res.Step("attach"); ok {
				var a struct {
					ID uint64 `json:"id"`
				}
				if json.Unmarshal(attach.Detail, &a) == nil && a.ID != h.ID {
					t.Errorf("handle %d in the recorder, the page attached %d", h.ID, a.ID)
				}
			}
			if h.Plugin != "janus.plugin.echotest" || !strings.HasPrefix(h.OpaqueID, "janustap-echotest-") || h.AttachedAt.IsZero() {
				t.Errorf("handle %+v, want an attached echotest handle with the page's opaque_id", h)
			}
			if h.WebRTCUpAt.IsZero() || h.HangupAt.IsZero() || h.Media < 2 {
				t.Errorf("handle %d: webrtcup at %v, hangup at %v (%q), %d media events; want webrtcup, hangup and 2 or more media",
					h.ID, h.WebRTCUpAt, h.HangupAt, h.HangupReason, h.Media)
			}
			verbs := map[string]int{}
			for _, tx := range d.Transactions {
				verbs[tx.Janus]++
				if tx.Transport != c.transport {
					t.Errorf("transaction %q (%s) over %s, want %s", tx.Transaction, tx.Janus, tx.Transport, c.transport)
				}
			}
			for _, v := range []string{"create", "attach", "message", "trickle", "hangup", "detach", "destroy"} {
				if verbs[v] == 0 {
					t.Errorf("session %d has no %q transaction: %v", id, v, verbs)
				}
			}
			if verbs["message"] < 2 {
				t.Errorf("session %d has %d message transactions, want the offer and the bitrate change", id, verbs["message"])
			}

			// The events that need media, each once, as janus.js got them.
			got := byType(inDB, id)
			if n := len(got["webrtcup"]); n != 1 {
				t.Errorf("session %d has %d webrtcup events in the recorder, want 1", id, n)
			}
			if n := len(got["media"]); n != h.Media {
				t.Errorf("session %d has %d media events, its handle counts %d", id, n, h.Media)
			}
			if len(got["hangup"]) == 0 {
				t.Errorf("session %d has no hangup event", id)
			}
			receiving := map[string]bool{}
			for _, ev := range slices.Concat(got["webrtcup"], got["media"], got["hangup"]) {
				if ev.Transport != c.transport || ev.Janus.Sender != h.ID {
					t.Errorf("event %s (%s) over %s from %d, want %s from handle %d", ev.ID, ev.Janus.Janus, ev.Transport, ev.Janus.Sender, c.transport, h.ID)
				}
				if ev.Janus.Janus == "media" {
					var m struct {
						Type      string `json:"type"`
						Receiving bool   `json:"receiving"`
					}
					if err := json.Unmarshal(ev.Body, &m); err != nil {
						t.Errorf("media event %s: %v", ev.ID, err)
					}
					receiving[m.Type] = receiving[m.Type] || m.Receiving
				}
			}
			if !receiving["audio"] || !receiving["video"] {
				t.Errorf("media events say receiving %v, want audio and video", receiving)
			}
			t.Logf("session %d: %d events, %d transactions %v; handle %d: webrtcup +%v, %d media, hangup %q",
				id, len(inDB), len(d.Transactions), verbs, h.ID, h.WebRTCUpAt.Sub(h.AttachedAt).Round(time.Millisecond), h.Media, h.HangupReason)

			// Replay the captured session, as the database holds it, on
			// another Janus over the transport it was captured on.
			all, err := dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway})
			if err != nil {
				t.Fatal(err)
			}
			rres, sel := replaySessions(t, all, []uint64{id}, drive.Options{
				Target: drive.Target{HTTP: j2.HTTP, WS: j2.WS},
			})
			if first := sel[0]; first.Kind != schema.Open && (first.Janus == nil || first.Janus.Janus != "create") {
				t.Errorf("the selected flow starts with %s %s, want the create (or the WebSocket's open)", sel[0].Kind, sel[0].ID)
			}
			notes := checkReplay(t, rres)
			if notes["webrtcup"] != 1 || notes["media"] != h.Media {
				t.Errorf("needs media notes %v, want the webrtcup and the %d media events", notes, h.Media)
			}
			for _, n := range rres.Reports[0].NeedsMedia {
				if n.Kind == diff.Extra && (n.Janus == "webrtcup" || n.Janus == "media") {
					t.Errorf("replay without a browser has a %s the capture lacks: %+v", n.Janus, n)
				}
			}
		})
	}

	// The timings, through serve and directly, in this one run.
	t.Logf("browser timings (Chromium %s):", timings["tap_http"].BrowserVersion)
	t.Logf("%-12s | %13s | %13s | %13s | %13s", "run", "browser start", "webrtcup at", "scenario", "total")
	for _, c := range cases {
		if r, ok := timings[c.name]; ok {
			t.Logf("%s", browserTiming(c.name, r))
		}
	}
}

// janodeIDs are the ids janode reported in its steps.
type janodeIDs struct {
	session, subSession uint64 // the session of echotest, videoroom publisher and textroom; the subscriber's
	echo                uint64 // the echotest handle
}

func janodeIDsOf(t *testing.T, res clienttest.JanodeResult) janodeIDs {
	t.Helper()
	get := func(step, key string) uint64 {
		s, ok := res.Step(step)
		if !ok {
			t.Fatalf("janode result has no step %s", step)
		}
		var d map[string]json.Number
		if err := json.Unmarshal(s.Detail, &d); err != nil {
			t.Fatalf("janode step %s detail %s: %v", step, s.Detail, err)
		}
		n, err := strconv.ParseUint(string(d[key]), 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("janode step %s detail %s: no %s (%v)", step, s.Detail, key, err)
		}
		return n
	}
	return janodeIDs{
		session:    get("create", "session"),
		subSession: get("videoroom.subscriber-session", "session"),
		echo:       get("echotest.attach", "handle"),
	}
}

// TestJanodeThroughServe runs janode's scenario (echotest, videoroom,
// textroom, admin API) through `janustap serve` over WebSockets, and
// directly for comparison. It checks the recorder's view of its two sessions
// (handles with their plugins, every transaction answered, the admin
// requests linked to the sessions and handles they name) and replays them on
// a second Janus, admin requests included: no differences.
func TestJanodeThroughServe(t *testing.T) {
	clienttest.Require(t)
	j := janustest.Start(t, janustest.Options{})
	j2 := janustest.Start(t, janustest.Options{})
	s := serve(t, j)

	cases := []struct {
		name        string
		ws, adminWS string
		tapped      bool
	}{
		{"tap", s.ws(), s.ws(), true},
		{"direct", j.WS, j.AdminWS, false},
	}
	timings := map[string]clienttest.JanodeResult{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			res, err := clienttest.RunJanode(ctx, clienttest.JanodeArgs{WS: c.ws, AdminWS: c.adminWS, AdminSecret: j.AdminSecret})
			if err != nil {
				t.Logf("janode output:\n%s", res.Stderr)
				t.Fatal(err)
			}
			timings[c.name] = res
			for _, name := range janodeSteps {
				if st, ok := res.Step(name); !ok || !st.OK {
					t.Errorf("janode step %s: ok=%v found=%v", name, st.OK, ok)
				}
			}
			ids := janodeIDsOf(t, res)

			var main, sub *store.SessionDetail
			var stream []*schema.Event
			var inDB [2][]*schema.Event
			janustest.WaitFor(t, 30*time.Second, func() (err error) {
				if stream, _, err = s.caughtUp(ctx); err != nil {
					return err
				}
				if !c.tapped {
					return nil
				}
				if main, err = s.sessionDone(ctx, ids.session, 3); err != nil {
					return err
				}
				if sub, err = s.sessionDone(ctx, ids.subSession, 1); err != nil {
					return err
				}
				for i, id := range []uint64{ids.session, ids.subSession} {
					if inDB[i], err = dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway, SessionID: id}); err != nil {
						return err
					}
					if err := checkOnce(stream, inDB[i], id); err != nil {
						return err
					}
				}
				return nil
			})
			if !c.tapped {
				for _, id := range []uint64{ids.session, ids.subSession} {
					if n, err := s.db.CountEvents(ctx, store.EventFilter{SessionID: id}); err != nil || n != 0 {
						t.Errorf("recorder has %d events (%v) of session %d, which bypassed the tap", n, err, id)
					}
				}
				return
			}

			// Sessions, handles and plugins.
			plugins := func(d *store.SessionDetail) []string {
				var ps []string
				for _, h := range d.Handles {
					ps = append(ps, h.Plugin)
				}
				return ps
			}
			if got, want := plugins(main), []string{"janus.plugin.echotest", "janus.plugin.videoroom", "janus.plugin.textroom"}; !slices.Equal(got, want) {
				t.Errorf("session %d has handles of %v, want %v in that order", ids.session, got, want)
			}
			if main.Handles[0].ID != ids.echo {
				t.Errorf("session %d: first handle %d, janode attached echotest as %d", ids.session, main.Handles[0].ID, ids.echo)
			}
			if got, want := plugins(sub), []string{"janus.plugin.videoroom"}; !slices.Equal(got, want) {
				t.Errorf("session %d has handles of %v, want %v", ids.subSession, got, want)
			}
			for _, d := range []*store.SessionDetail{main, sub} {
				if d.Transport != schema.WS {
					t.Errorf("session %d created over %s, want ws", d.ID, d.Transport)
				}
				for _, h := range d.Handles {
					// janode sends no ICE: no PeerConnection comes up.
					if !h.WebRTCUpAt.IsZero() || h.Media != 0 {
						t.Errorf("handle %d (%s) has webrtcup %v and %d media events without a PeerConnection", h.ID, h.Plugin, h.WebRTCUpAt, h.Media)
					}
				}
			}

			// Transactions: every request answered (sessionDone), and the
			// plugin requests janode made, each with its result.
			requests := map[string]store.TransactionRow{}
			admin := map[string][]store.TransactionRow{}
			for _, tx := range slices.Concat(main.Transactions, sub.Transactions) {
				if tx.Transport == schema.AdminWS {
					admin[tx.Janus] = append(admin[tx.Janus], tx)
					continue
				}
				key := tx.Janus
				if tx.PluginRequest != "" {
					key = strings.TrimPrefix(tx.Plugin, "janus.plugin.") + "/" + tx.PluginRequest
				}
				if _, dup := requests[key]; !dup || tx.Result == "error" {
					requests[key] = tx
				}
			}
			for key, result := range map[string]string{
				"create": "success", "attach": "success", "detach": "success", "destroy": "success",
				"echotest/": "event", "videoroom/create": "success", "videoroom/joinandconfigure": "event",
				"videoroom/listparticipants": "success", "videoroom/join": "event", "videoroom/leave": "event",
				"videoroom/destroy": "success", "textroom/setup": "event", "textroom/ack": "event",
			} {
				tx, ok := requests[key]
				if key == "echotest/" { // the echotest's message has no "request"
					tx, ok = requests["message"]
				}
				if !ok {
					t.Errorf("no %s transaction in sessions %d and %d: %v", key, ids.session, ids.subSession, slices.Sorted(maps.Keys(requests)))
					continue
				}
				if tx.Result != result {
					t.Errorf("transaction %s (%q): result %q, want %q", key, tx.Transaction, tx.Result, result)
				}
			}
			if tx := requests["videoroom/join"]; tx.PluginError != 428 {
				t.Errorf("subscriber join: plugin error %d, want 428 (no such feed)", tx.PluginError)
			}

			// The admin requests that name a session are linked to it, and
			// handle_info to the handle too.
			if len(admin["list_handles"]) != 1 || len(admin["handle_info"]) != 1 {
				t.Errorf("session %d's admin transactions: %v, want one list_handles and one handle_info", ids.session, admin)
			} else {
				lh, hi := admin["list_handles"][0], admin["handle_info"][0]
				if lh.SessionID != ids.session || lh.Reply != "success" {
					t.Errorf("list_handles: session %d reply %q, want %d success", lh.SessionID, lh.Reply, ids.session)
				}
				if hi.SessionID != ids.session || hi.HandleID != ids.echo || hi.Reply != "success" {
					t.Errorf("handle_info: session %d handle %d reply %q, want %d/%d success", hi.SessionID, hi.HandleID, hi.Reply, ids.session, ids.echo)
				}
			}
			adminEvs, err := dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway, Transport: schema.AdminWS})
			if err != nil {
				t.Fatal(err)
			}
			adminVerbs := map[string]int{}
			for _, ev := range adminEvs {
				if ev.Janus != nil && ev.Direction == schema.ToGateway {
					adminVerbs[ev.Janus.Janus]++
					if strings.Contains(string(ev.Body), j.AdminSecret) {
						t.Errorf("admin request %s holds the admin secret: %s", ev.ID, ev.Body)
					}
				}
			}
			if adminVerbs["list_sessions"] != 1 || adminVerbs["list_handles"] != 1 || adminVerbs["handle_info"] != 1 {
				t.Errorf("admin requests recorded: %v", adminVerbs)
			}
			t.Logf("sessions %d (%d events, %d transactions) and %d (%d events, %d transactions); admin requests %v",
				ids.session, len(inDB[0]), len(main.Transactions), ids.subSession, len(inDB[1]), len(sub.Transactions), adminVerbs)

			// Replay both sessions, with the admin requests naming them, on
			// another Janus.
			all, err := dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway})
			if err != nil {
				t.Fatal(err)
			}
			rres, sel := replaySessions(t, all, []uint64{ids.session, ids.subSession}, drive.Options{
				Target:  drive.Target{HTTP: j2.HTTP, WS: j2.WS, AdminHTTP: j2.AdminHTTP, AdminWS: j2.AdminWS},
				Secrets: rewrite.Secrets{AdminSecret: j2.AdminSecret},
			})
			selAdmin := 0
			for _, ev := range sel {
				if ev.Transport == schema.AdminWS && ev.Direction == schema.ToGateway && ev.Janus != nil {
					selAdmin++
				}
			}
			if selAdmin != 2 {
				t.Errorf("the selected flow has %d admin requests, want list_handles and handle_info", selAdmin)
			}
			// No PeerConnection came up: no webrtcup or media to note. The
			// hangups ("Detach") of handles whose ICE never completed, and
			// the echotest's teardown event ("result": "done"), come or not
			// depending on how far ICE got: the rules note them with media.
			if notes := checkReplay(t, rres); notes["webrtcup"]+notes["media"] != 0 {
				t.Errorf("janode's flow had no PeerConnection, the report notes %v", notes)
			}
		})
	}

	t.Logf("janode timings:")
	t.Logf("%-8s | %10s | %s", "run", "scenario", "steps")
	for _, c := range cases {
		r, ok := timings[c.name]
		if !ok {
			continue
		}
		var took []string
		for _, name := range []string{"connect", "echotest.start", "videoroom.publish", "textroom.setup", "admin.connect", "admin.handle-info", "destroy"} {
			if st, ok := r.Step(name); ok {
				took = append(took, fmt.Sprintf("%s %v", name, st.Took.Round(100*time.Microsecond)))
			}
		}
		t.Logf("%-8s | %10s | %s", c.name, r.Total.Round(time.Millisecond), strings.Join(took, ", "))
	}
}
