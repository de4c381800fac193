package tap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// memory keeps events in memory, for tests of the tap alone (the spool and
// JetStream are tested with the recorder).
type memory = taptest.Memory

// rig is a real Janus with a tap in front of it.
type rig struct {
	janus *janustest.Janus
	tap   *tap.Tap
	url   string // http://127.0.0.1:PORT
	mem   *memory
}

func newRig(t *testing.T, opts janustest.Options) *rig {
	t.Helper()
	j := janustest.Start(t, opts)
	mem := &memory{}
	tp, err := tap.New(tap.Config{
		Gateway:   "test",
		JanusHTTP: j.HTTP, JanusWS: j.WS, AdminHTTP: j.AdminHTTP, AdminWS: j.AdminWS,
		Emitter: mem,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{janus: j, tap: tp, url: taptest.Serve(t, tp), mem: mem}
}

func (r *rig) tapHTTP() string { return r.url + "/janus" }
func (r *rig) tapWS() string   { return "ws" + strings.TrimPrefix(r.url, "http") + "/" }

// client opens a client of transport on url.
func client(t *testing.T, transport, url string) janus.Client {
	t.Helper()
	if transport == "http" {
		c := janus.NewHTTP(url)
		t.Cleanup(func() { c.Close() })
		return c
	}
	c, err := janus.DialWS(t.Context(), url, janus.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type flow struct {
	name string
	run  func(context.Context, *janus.Session) error
}

var flows = []flow{
	{"echotest", janus.RunEchoTest},
	{"videoroom", janus.RunVideoRoom},
	{"textroom", janus.RunTextRoom},
	{"errors", janus.RunErrors},
}

// runFlow runs one scripted flow in its own session and returns the
// session's transcript.
func runFlow(t *testing.T, c janus.Client, ws bool, f flow) *janus.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s := &janus.Session{C: c, WS: ws}
	if err := s.Create(ctx); err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
	if err := f.run(ctx, s); err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
	if err := s.Destroy(ctx); err != nil {
		t.Fatalf("%s: destroy: %v", f.name, err)
	}
	if err := janus.UnknownSession(ctx, c, ws); err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
	return s
}

// summary describes a Janus message with the ids and transactions the
// gateway or client chose at random replaced by their order of first
// appearance, so that two runs of one flow can be compared.
type normaliser struct{ ids map[string]string }

func (n *normaliser) id(kind string, v uint64) string {
	if v == 0 {
		return "-"
	}
	k := kind + strconv.FormatUint(v, 10)
	if s, ok := n.ids[k]; ok {
		return s
	}
	s := fmt.Sprintf("%s%d", kind, len(n.ids)+1)
	n.ids[k] = s
	return s
}

func (n *normaliser) summary(b []byte) string {
	j, err := schema.ParseJanus(b)
	if err != nil {
		return "unparsed " + err.Error()
	}
	return fmt.Sprintf("janus=%s tx=%s session=%s sender=%s data=%s plugin=%s %s=%s plugin_error=%d error=%d jsep=%s",
		j.Janus, n.id("t", txNum(j.Transaction)), n.id("s", j.SessionID), n.id("h", j.Sender), n.id("d", j.DataID),
		j.Plugin, j.PluginKey, pluginValue(j), j.PluginError, j.ErrorCode, j.JSEP)
}

// txNum maps a transaction to a number so that it normalises like an id.
func txNum(tx string) uint64 {
	if tx == "" {
		return 0
	}
	var h uint64 = 14695981039346656037
	for i := 0; i < len(tx); i++ {
		h = (h ^ uint64(tx[i])) * 1099511628211
	}
	return h | 1
}

func pluginValue(j *schema.Janus) string {
	if _, err := strconv.ParseUint(j.PluginValue, 10, 64); err == nil {
		return "<number>" // room numbers are random in the flows
	}
	return j.PluginValue
}

func summarise(s *janus.Session) (replies, events []string) {
	n := &normaliser{ids: map[string]string{}}
	for _, x := range s.T.Exchanges {
		replies = append(replies, n.summary(x.Reply.Body))
	}
	for _, e := range s.T.Matched {
		events = append(events, n.summary(e))
	}
	return replies, events
}

// TestSameAnswersThroughTap runs every scripted flow directly against Janus
// and through the tap, over HTTP and WebSocket, and compares what the client
// got; then checks that every message of the tapped runs is an event, once,
// byte for byte, in order.
func TestSameAnswersThroughTap(t *testing.T) {
	r := newRig(t, janustest.Options{})
	for _, transport := range []string{"http", "ws"} {
		for _, f := range flows {
			t.Run(transport+"_"+f.name, func(t *testing.T) {
				direct, via := r.janus.HTTP, r.tapHTTP()
				if transport == "ws" {
					direct, via = r.janus.WS, r.tapWS()
				}
				ws := transport == "ws"
				want := runFlow(t, client(t, transport, direct), ws, f)
				before := len(r.mem.Events())
				got := runFlow(t, client(t, transport, via), ws, f)

				gotReplies, gotEvents := summarise(got)
				wantReplies, wantEvents := summarise(want)
				if d := diffLines(gotReplies, wantReplies); d != "" {
					t.Errorf("replies through the tap differ from direct ones (-direct +tap):\n%s", d)
				}
				if d := diffLines(gotEvents, wantEvents); d != "" {
					t.Errorf("events through the tap differ from direct ones (-direct +tap):\n%s", d)
				}
				checkRecorded(t, r.mem.Events()[before:], got, transport)
			})
		}
	}
}

// checkRecorded checks that every request and reply of s is in evs exactly
// once, with its bytes and parsed fields, and that each connection's events
// are numbered 1, 2, 3... in order.
func checkRecorded(t *testing.T, evs []*schema.Event, s *janus.Session, transport string) {
	t.Helper()
	count := func(dir schema.Direction, body []byte) int {
		n := 0
		for _, ev := range evs {
			if ev.Direction == dir && bytes.Equal(ev.Body, body) {
				n++
			}
		}
		return n
	}
	for _, x := range s.T.Exchanges {
		if n := count(schema.ToGateway, x.Request); n != 1 {
			t.Errorf("request %s recorded %d times, want 1", x.Request, n)
		}
		if n := count(schema.ToClient, x.Reply.Body); n < 1 {
			t.Errorf("reply %s recorded %d times, want at least 1", x.Reply.Body, n)
		}
	}
	for _, e := range s.T.Events {
		if n := count(schema.ToClient, e); n != 1 {
			t.Errorf("event %s recorded %d times, want 1", e, n)
		}
	}
	seqs := map[string]uint64{}
	for _, ev := range evs {
		if want := seqs[ev.Conn] + 1; ev.Seq != want {
			t.Errorf("event %s of conn %s has seq %d, want %d", ev.ID, ev.Conn, ev.Seq, want)
		}
		seqs[ev.Conn] = ev.Seq
		if ev.Gateway != "test" || ev.ID == "" || ev.Time.IsZero() {
			t.Errorf("event %+v lacks identity", ev)
		}
		wantTr := schema.HTTP
		if transport == "ws" {
			wantTr = schema.WS
		}
		if ev.Transport != wantTr {
			t.Errorf("event %s has transport %s, want %s", ev.ID, ev.Transport, wantTr)
		}
		if ev.Janus != nil && ev.Direction == schema.ToGateway && ev.Janus.Janus == "message" && ev.Janus.HandleID == 0 {
			t.Errorf("message request %s has no handle id (path %s)", ev.ID, ev.Path)
		}
	}
	// Parsed fields: the create reply's data id is the session of every later request.
	var sess uint64
	for _, ev := range evs {
		if ev.Janus != nil && ev.Janus.Janus == "success" && ev.Janus.DataID == s.ID {
			sess = ev.Janus.DataID
		}
	}
	if sess == 0 {
		t.Errorf("no event carries the create reply of session %d", s.ID)
	}
	wantAttached := 0
	for _, x := range s.T.Exchanges {
		if bytes.Contains(x.Request, []byte(`"janus":"attach"`)) {
			wantAttached++
		}
	}
	attached := 0
	for _, ev := range evs {
		if ev.Janus != nil && ev.Janus.Janus == "attach" && ev.Janus.SessionID == s.ID && ev.Janus.Plugin != "" {
			attached++
		}
	}
	if attached != wantAttached {
		t.Errorf("found %d attach requests of session %d with their plugin, want %d", attached, s.ID, wantAttached)
	}
}

// diffLines returns the lines only in want (-) or only in got (+), or "".
func diffLines(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "%d:\n- %s\n+ %s\n", i, w, g)
		}
	}
	return b.String()
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
