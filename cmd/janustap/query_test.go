package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// runCmd runs the command line args (without the program name) and returns
// its stdout and stderr.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdInput(t, nil, args...)
}

// runCmdInput runs args with stdin.
func runCmdInput(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	app := newApp(&out, &errw)
	app.Reader = stdin
	err = app.RunContext(t.Context(), append([]string{"janustap"}, args...))
	return out.String(), errw.String(), err
}

// mustRun runs args and fails the test if the command fails.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errw, err := runCmd(t, args...)
	if err != nil {
		t.Fatalf("janustap %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errw)
	}
	return out
}

// projectEvents applies evs, in order, to a new store in a temporary
// directory and returns its path.
func projectEvents(t *testing.T, evs []*schema.Event) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "janustap.db")
	db := store.NewDB(path)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	items := make([]store.Item, len(evs))
	for i, ev := range evs {
		items[i] = store.Item{StreamSeq: uint64(i + 1), Event: ev}
	}
	if err := db.Apply(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	return path
}

// capture is real traffic through a tap in front of a real Janus, projected
// into a store.
type capture struct {
	db     string
	janus  *janustest.Janus
	events []*schema.Event
	// httpSession and wsSession ran the echotest flow over each transport.
	httpSession, wsSession uint64
}

// captureEcho runs GET /janus/info and the echotest flow over HTTP and over
// WebSocket through a tap named "gw" in front of a private Janus.
func captureEcho(t *testing.T) *capture {
	t.Helper()
	j := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, j, "gw")
	resp, err := http.Get(tp.HTTP() + "/info")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sh, _ := taptest.Run(t, tp, "http", janus.RunEchoTest)
	sw, _ := taptest.Run(t, tp, "ws", janus.RunEchoTest)
	evs := tp.Mem.Events()
	return &capture{db: projectEvents(t, evs), janus: j, events: evs, httpSession: sh.ID, wsSession: sw.ID}
}

// synth makes events as a tap records them, on a clock that moves only when
// told, for outputs that golden files can hold.
type synth struct {
	gw   string
	now  time.Time
	n    *int
	seqs map[string]uint64
	evs  *[]*schema.Event
}

func newSynth(start time.Time) *synth {
	return &synth{now: start, n: new(int), seqs: map[string]uint64{}, evs: new([]*schema.Event)}
}

// on returns a synth for gateway gw sharing s's ids and events.
func (s *synth) on(gw string) *synth { c := *s; c.gw = gw; return &c }

func (s *synth) after(d time.Duration) *synth { s.now = s.now.Add(d); return s }

func (s *synth) ev(conn string, tr schema.Transport, dir schema.Direction, kind schema.Kind, body string, set func(*schema.Event)) *schema.Event {
	*s.n++
	s.seqs[conn]++
	ev := &schema.Event{V: schema.Version, ID: fmt.Sprintf("01JSYNTH%018d", *s.n), Gateway: s.gw, Tap: "tap-" + s.gw,
		Conn: conn, Seq: s.seqs[conn], Time: s.now, Mono: s.now.UnixNano() - synthStart.UnixNano() + int64(time.Second),
		Transport: tr, Direction: dir, Kind: kind}
	if body != "" {
		ev.Body, ev.BodySize = []byte(body), len(body)
		if j, err := schema.ParseJanus(ev.Body); err == nil {
			ev.Janus = j
		}
	}
	if set != nil {
		set(ev)
	}
	// As the tap does: ids from the HTTP path when the body has none.
	if _, session, handle := schema.ParsePath(ev.Path); session != 0 && !tr.IsWS() {
		if ev.Janus == nil {
			ev.Janus = &schema.Janus{}
		}
		if ev.Janus.SessionID == 0 {
			ev.Janus.SessionID = session
		}
		if ev.Janus.HandleID == 0 && dir == schema.ToGateway {
			ev.Janus.HandleID = handle
		}
	}
	*s.evs = append(*s.evs, ev)
	return ev
}

// post records a POST and its answer, d later.
func (s *synth) post(conn, path, req string, d time.Duration, resp string) {
	r := s.ev(conn, schema.HTTP, schema.ToGateway, schema.Request, req, func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Header = "POST", path, map[string]string{"Content-Type": "application/json"}
	})
	s.after(d).ev(conn, schema.HTTP, schema.ToClient, schema.Response, resp, func(ev *schema.Event) {
		ev.Parent, ev.Method, ev.Path, ev.Status = r.ID, "POST", path, 200
		ev.Header = map[string]string{"Content-Type": "application/json"}
	})
}

// frame records a WebSocket message.
func (s *synth) frame(conn string, dir schema.Direction, body string) {
	s.ev(conn, schema.WS, dir, schema.Frame, body, nil)
}

var synthStart = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// The ids of the synthetic sessions and handles. Session synthHTTP exists
// in both gateways.
const (
	synthHTTP   = 1111111111111111
	synthHandle = 2222222222222222
	synthWS     = 3333333333333333
	synthRoom   = 4444444444444444
)

// synthEvents is an echotest session over HTTP with its long poll, a
// videoroom session over WebSocket whose join fails and which times out
// (both on gateway gw-a), and a session on gw-b with the first's id.
func synthEvents() []*schema.Event {
	s := newSynth(synthStart).on("gw-a")
	S, H := strconv.Itoa(synthHTTP), strconv.Itoa(synthHandle)
	s.post("c1", "/janus", `{"janus":"create","transaction":"t-create"}`, 800*time.Microsecond,
		`{"janus":"success","transaction":"t-create","data":{"id":`+S+`}}`)
	s.after(time.Millisecond).post("c2", "/janus/"+S, `{"janus":"attach","plugin":"janus.plugin.echotest","opaque_id":"echo-1","transaction":"t-attach"}`,
		1200*time.Microsecond, `{"janus":"success","session_id":`+S+`,"transaction":"t-attach","data":{"id":`+H+`}}`)
	poll := s.after(time.Millisecond).ev("c3", schema.HTTP, schema.ToGateway, schema.Request, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Query = "GET", "/janus/"+S, "maxev=10"
	})
	s.after(2*time.Millisecond).post("c4", "/janus/"+S+"/"+H,
		`{"janus":"message","body":{"audio":true,"video":true},"jsep":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"},"transaction":"t-offer"}`,
		400*time.Microsecond, `{"janus":"ack","session_id":`+S+`,"transaction":"t-offer","hint":"I'm taking my time!"}`)
	for i, body := range []string{
		`{"janus":"event","session_id":` + S + `,"transaction":"t-offer","sender":` + H + `,"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}},"jsep":{"type":"answer","sdp":"v=0\r\n"}}`,
		`{"janus":"webrtcup","session_id":` + S + `,"sender":` + H + `}`,
	} {
		s.after(3*time.Millisecond).ev("c3", schema.HTTP, schema.ToClient, schema.PollEvent, body, func(ev *schema.Event) {
			ev.Parent, ev.Method, ev.Path, ev.Query, ev.Status = poll.ID, "GET", poll.Path, poll.Query, 200
			ev.Part, ev.Parts, ev.Batch = i, 2, true
		})
	}
	s.after(time.Second).post("c5", "/janus/"+S+"/"+H, `{"janus":"detach","transaction":"t-detach"}`, time.Millisecond,
		`{"janus":"success","session_id":`+S+`,"transaction":"t-detach"}`)
	s.after(time.Millisecond).post("c6", "/janus/"+S, `{"janus":"destroy","transaction":"t-destroy"}`, time.Millisecond,
		`{"janus":"success","session_id":`+S+`,"transaction":"t-destroy"}`)

	W, R := strconv.Itoa(synthWS), strconv.Itoa(synthRoom)
	s.after(time.Minute).ev("w1", schema.WS, schema.ToGateway, schema.Open, "", func(ev *schema.Event) {
		ev.Method, ev.Path, ev.Subprotocol = "GET", "/", "janus-protocol"
	})
	s.after(time.Millisecond).frame("w1", schema.ToGateway, `{"janus":"create","transaction":"w-create"}`)
	s.after(time.Millisecond).frame("w1", schema.ToClient, `{"janus":"success","transaction":"w-create","data":{"id":`+W+`}}`)
	s.after(time.Millisecond).frame("w1", schema.ToGateway, `{"janus":"attach","session_id":`+W+`,"plugin":"janus.plugin.videoroom","opaque_id":"room-1","transaction":"w-attach"}`)
	s.after(time.Millisecond).frame("w1", schema.ToClient, `{"janus":"success","session_id":`+W+`,"transaction":"w-attach","data":{"id":`+R+`}}`)
	s.after(time.Millisecond).frame("w1", schema.ToGateway, `{"janus":"message","session_id":`+W+`,"handle_id":`+R+`,"body":{"request":"join","room":999,"ptype":"publisher"},"transaction":"w-join"}`)
	s.after(time.Millisecond).frame("w1", schema.ToClient, `{"janus":"ack","session_id":`+W+`,"transaction":"w-join"}`)
	s.after(2*time.Millisecond).frame("w1", schema.ToClient, `{"janus":"event","session_id":`+W+`,"transaction":"w-join","sender":`+R+`,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room (999)"}}}`)
	s.after(62*time.Second).frame("w1", schema.ToClient, `{"janus":"timeout","session_id":`+W+`}`)
	s.after(time.Second).ev("w1", schema.WS, schema.ToGateway, schema.Close, "", func(ev *schema.Event) { ev.CloseCode = 1000 })

	b := s.on("gw-b").after(time.Minute)
	b.post("b1", "/janus", `{"janus":"create","id":`+S+`,"transaction":"t-create"}`, time.Millisecond,
		`{"janus":"success","transaction":"t-create","data":{"id":`+S+`}}`)
	return *s.evs
}

func TestQueryGolden(t *testing.T) {
	db := projectEvents(t, synthEvents())
	S, W := strconv.Itoa(synthHTTP), strconv.Itoa(synthWS)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sessions", []string{"sessions"}},
		{"sessions-json", []string{"sessions", "--json", "--gateway", "gw-a"}},
		{"show-http", []string{"show", "--gateway", "gw-a", S}},
		{"show-ws-full", []string{"show", "--full", W}},
		{"show-ws-json", []string{"show", "--json", W}},
		{"tx", []string{"tx", "--gateway", "gw-a", "t-offer"}},
		{"tx-full-json", []string{"tx", "--json", "--full", "w-join"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--db", db}, tc.args[1:]...)
			out := mustRun(t, args...)
			golden.Check(t, filepath.Join("query", tc.name+".golden"), []byte(out))
		})
	}
}

func TestQueryFilters(t *testing.T) {
	db := projectEvents(t, synthEvents())
	ids := func(t *testing.T, args ...string) []uint64 {
		t.Helper()
		out := mustRun(t, append([]string{"sessions", "--json", "--db", db}, args...)...)
		var rows []sessionJSON
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("sessions --json: %v\n%s", err, out)
		}
		var got []uint64
		for _, r := range rows {
			got = append(got, r.SessionID)
		}
		return got
	}
	after := synthStart.Add(time.Minute).Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		args []string
		want []uint64
	}{
		{"all", nil, []uint64{synthHTTP, synthWS, synthHTTP}},
		{"gateway", []string{"--gateway", "gw-b"}, []uint64{synthHTTP}},
		{"plugin-short", []string{"--plugin", "videoroom"}, []uint64{synthWS}},
		{"plugin-full", []string{"--plugin", "janus.plugin.echotest"}, []uint64{synthHTTP}},
		{"opaque-id", []string{"--opaque-id", "echo-1"}, []uint64{synthHTTP}},
		{"with-errors", []string{"--with-errors"}, []uint64{synthWS}},
		{"errors", []string{"--errors"}, []uint64{synthWS}},
		{"timed-out", []string{"--timed-out"}, []uint64{synthWS}},
		{"transport", []string{"--transport", "ws"}, []uint64{synthWS}},
		{"from", []string{"--from", after}, []uint64{synthWS, synthHTTP}},
		{"to", []string{"--to", after}, []uint64{synthHTTP}},
		{"since", []string{"--since", "1h"}, nil},
		{"limit", []string{"--limit", "1"}, []uint64{synthHTTP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(t, tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("sessions %v = %v, want %v", tc.args, got, tc.want)
			}
		})
	}
	t.Run("json-empty", func(t *testing.T) {
		if out := mustRun(t, "sessions", "--json", "--since", "1h", "--db", db); out != "[]\n" {
			t.Errorf("no sessions as JSON = %q, want []", out)
		}
	})
}

func TestQueryErrors(t *testing.T) {
	db := projectEvents(t, synthEvents())
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
		is   error
	}{
		{"ambiguous-session", []string{"show", strconv.Itoa(synthHTTP)}, "exists in gateways gw-a, gw-b: pass --gateway", nil},
		{"unknown-session", []string{"show", "12345"}, "session 12345", store.ErrNotFound},
		{"not-an-id", []string{"show", "abc"}, `session "abc": not a Janus id`, nil},
		{"two-sessions", []string{"show", "1", "2"}, "show takes one session id, got 2 arguments", nil},
		{"why-no-session", []string{"why"}, "why takes one session id, got 0 arguments", nil},
		{"why-unknown-session", []string{"why", "12345"}, "session 12345", store.ErrNotFound},
		{"two-tx", []string{"tx", "a", "b"}, "tx takes one transaction, got 2 arguments", nil},
		{"ambiguous-tx", []string{"tx", "t-create"}, "exists in gateways gw-a, gw-b: pass --gateway", nil},
		{"unknown-tx", []string{"tx", "nope"}, `transaction "nope" in gateways gw-a, gw-b`, store.ErrNotFound},
		{"bad-transport", []string{"sessions", "--transport", "smtp"}, `--transport "smtp"`, nil},
		{"bad-since", []string{"sessions", "--since", "yesterday"}, "--since", nil},
		{"no-db", []string{"sessions", "--db", filepath.Join(t.TempDir(), "none.db")}, "open --db", os.ErrNotExist},
		{"no-data", []string{"sessions", "--data", t.TempDir()}, "find the projection of", os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !slices.Contains(args, "--db") && !slices.Contains(args, "--data") {
				args = append([]string{args[0], "--db", db}, args[1:]...)
			}
			_, _, err := runCmd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("janustap %v: error %v, want one saying %q", args, err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
	t.Run("flags-after-argument", func(t *testing.T) {
		W := strconv.Itoa(synthWS)
		want := mustRun(t, "show", "--db", db, "--full", "--json", W)
		if got := mustRun(t, "show", W, "--db="+db, "--full", "--json=true"); got != want {
			t.Errorf("show SESSION --flags differs from show --flags SESSION:\n%s", golden.Diff([]byte(want), []byte(got)))
		}
		if _, _, err := runCmd(t, "show", W, "--db", db, "--fulll"); err == nil || !strings.Contains(err.Error(), "--fulll") {
			t.Errorf("unknown flag after the argument: %v", err)
		}
	})
	t.Run("gateway-picks", func(t *testing.T) {
		out := mustRun(t, "show", "--db", db, "--gateway", "gw-b", strconv.Itoa(synthHTTP))
		if !strings.Contains(out, "gw-b") || strings.Contains(out, "attach") {
			t.Errorf("show --gateway gw-b:\n%s", out)
		}
	})
}

// TestQueryCapture runs the queries on real traffic: an echotest session
// over each transport.
func TestQueryCapture(t *testing.T) {
	c := captureEcho(t)
	db := c.db
	t.Run("sessions", func(t *testing.T) {
		out := mustRun(t, "sessions", "--db", db)
		for _, id := range []uint64{c.httpSession, c.wsSession} {
			if !strings.Contains(out, strconv.FormatUint(id, 10)) {
				t.Errorf("sessions lacks %d:\n%s", id, out)
			}
		}
		var rows []sessionJSON
		if err := json.Unmarshal([]byte(mustRun(t, "sessions", "--json", "--transport", "ws", "--plugin", "echotest", "--db", db)), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].SessionID != c.wsSession || rows[0].Ended != "destroyed" || rows[0].Handles != 1 ||
			!slices.Equal(rows[0].Plugins, []string{janus.EchoTest}) {
			t.Errorf("sessions --transport ws = %+v, want the WebSocket session, destroyed, with its echotest handle", rows)
		}
	})
	for name, id := range map[string]uint64{"http": c.httpSession, "ws": c.wsSession} {
		t.Run("show-"+name, func(t *testing.T) {
			sid := strconv.FormatUint(id, 10)
			out := mustRun(t, "show", "--db", db, sid)
			for _, want := range []string{"attach", "jsep=offer", "jsep=answer", "echotest/", "after=", "trickle", "detach", "destroy"} {
				if !strings.Contains(out, want) {
					t.Errorf("show %s lacks %q:\n%s", sid, want, out)
				}
			}
			full := mustRun(t, "show", "--db", db, "--full", sid)
			if !strings.Contains(full, "v=0") || len(full) <= len(out) {
				t.Errorf("show --full %s shows no bodies:\n%s", sid, full)
			}
			var js struct {
				Session  sessionJSON
				Timeline []entryJSON
			}
			if err := json.Unmarshal([]byte(mustRun(t, "show", "--db", db, "--json", sid)), &js); err != nil {
				t.Fatal(err)
			}
			if js.Session.SessionID != id || len(js.Timeline) < 10 {
				t.Errorf("show --json: session %d with %d events", js.Session.SessionID, len(js.Timeline))
			}
			// The offer's transaction, shown by tx.
			var offer string
			for _, e := range js.Timeline {
				if e.JSEP == "offer" && e.Dir == string(schema.ToGateway) {
					offer = e.Tx
				}
			}
			if offer == "" {
				t.Fatalf("no offer in the timeline")
			}
			out = mustRun(t, "tx", "--db", db, offer)
			if !strings.Contains(out, strconv.Quote(offer)) || !strings.Contains(out, "jsep=answer") {
				t.Errorf("tx %s:\n%s", offer, out)
			}
			var txs []struct {
				Transaction txJSON
				Events      []entryJSON
			}
			if err := json.Unmarshal([]byte(mustRun(t, "tx", "--db", db, "--json", offer)), &txs); err != nil {
				t.Fatal(err)
			}
			if len(txs) != 1 || txs[0].Transaction.Result != "event" || txs[0].Transaction.Reply != "ack" || len(txs[0].Events) != 1 {
				t.Errorf("tx --json %s = %+v, want an ack and one event", offer, txs)
			}
		})
	}
}
