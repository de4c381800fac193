package verdict_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// The -capture flag runs the scenarios below through a tap in front of a
// real Janus and rewrites testdata/flows/*.jsonl, the captures the rule
// tests read. The files are then reviewed like code.
var capture = flag.Bool("capture", false, "capture testdata/flows/*.jsonl again from a real Janus")

// scenario is one captured flow: what the client does, against a Janus
// started with opts.
type scenario struct {
	name string
	opts janustest.Options
	// evh has Janus post its events (sampleevh) to a receiver whose events
	// join the capture, as serve's --evh-listen does; the capture then
	// waits until one of them satisfies evhDone.
	evh     bool
	evhDone func(*schema.Event) bool
	run     func(t *testing.T, ctx context.Context, j *janustest.Janus, tp *taptest.Tap)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// session creates a session over transport through tp.
func session(t *testing.T, ctx context.Context, tp *taptest.Tap, transport string) *janus.Session {
	t.Helper()
	url := tp.HTTP()
	if transport == "ws" {
		url = tp.WS()
	}
	s := &janus.Session{C: taptest.Client(t, transport, url), WS: transport == "ws"}
	must(t, s.Create(ctx))
	return s
}

func message(t *testing.T, ctx context.Context, s *janus.Session, h uint64, body, jsep map[string]any) *schema.Janus {
	t.Helper()
	j, r, err := s.Message(ctx, h, body, jsep)
	must(t, err)
	if j == nil {
		t.Fatalf("message: unparsable reply %s", r.Body)
	}
	return j
}

func waitTx(t *testing.T, ctx context.Context, s *janus.Session, tx string) *schema.Janus {
	t.Helper()
	_, ev, err := s.WaitEvent(ctx, janus.ForTx(tx))
	must(t, err)
	return ev
}

func detachDestroy(t *testing.T, ctx context.Context, s *janus.Session, h uint64) {
	t.Helper()
	_, _, err := s.Request(ctx, "detach", h, nil)
	must(t, err)
	must(t, s.Destroy(ctx))
}

var scenarios = []scenario{
	{name: "normal", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "http")
		h, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "normal-call"})
		must(t, err)
		j := message(t, ctx, s, h, map[string]any{"audio": true, "video": true}, nil)
		waitTx(t, ctx, s, j.Transaction)
		_, _, err = s.Request(ctx, "keepalive", 0, nil)
		must(t, err)
		detachDestroy(t, ctx, s, h)
	}},
	{name: "plugin-error-428", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "ws")
		h, err := s.Attach(ctx, janus.VideoRoom, map[string]any{"opaque_id": "subscriber-1"})
		must(t, err)
		j := message(t, ctx, s, h, map[string]any{"request": "join", "ptype": "subscriber", "room": 1234,
			"streams": []any{map[string]any{"feed": 424242}}}, nil)
		if ev := waitTx(t, ctx, s, j.Transaction); ev.PluginError != 428 {
			t.Fatalf("subscribe to a missing feed: plugin error %d, want 428", ev.PluginError)
		}
		detachDestroy(t, ctx, s, h)
	}},
	{name: "plugin-error-433", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "http")
		h, err := s.Attach(ctx, janus.VideoRoom, map[string]any{"opaque_id": "room-admin"})
		must(t, err)
		if j := message(t, ctx, s, h, map[string]any{"request": "destroy", "room": 1234, "secret": "wrong"}, nil); j.PluginError != 433 {
			t.Fatalf("destroy with a wrong secret: plugin error %d, want 433", j.PluginError)
		}
		detachDestroy(t, ctx, s, h)
	}},
	{name: "janus-error-465", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "ws")
		h, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "bad-sdp"})
		must(t, err)
		if j := message(t, ctx, s, h, map[string]any{"audio": true}, map[string]any{"type": "offer", "sdp": "v=0\r\nbogus\r\n"}); j.ErrorCode != 465 {
			t.Fatalf("offer with a bad SDP: error %d, want 465", j.ErrorCode)
		}
		detachDestroy(t, ctx, s, h)
	}},
	{name: "session-timeout", opts: janustest.Options{Args: []string{"-s", "3"}}, run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "ws")
		_, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "sleepy"})
		must(t, err)
		_, _, err = s.Request(ctx, "keepalive", 0, nil)
		must(t, err)
		// No more keepalives: Janus times the session out.
		_, _, err = s.WaitEvent(ctx, janus.ForType("timeout"))
		must(t, err)
	}},
	{name: "long-polls-stopped", opts: janustest.Options{Args: []string{"-s", "3"}}, run: func(t *testing.T, ctx context.Context, j *janustest.Janus, tp *taptest.Tap) {
		c := janus.NewHTTP(tp.HTTP())
		s := &janus.Session{C: c}
		must(t, s.Create(ctx))
		_, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "gone-away"})
		must(t, err)
		c.Close() // the page closed: its long poll is cut, nothing more comes
		// Wait until Janus has dropped the session, asking its admin API
		// (which does not keep it alive), then the client comes back.
		admin := janus.NewHTTP(j.AdminHTTP)
		defer admin.Close()
		list := fmt.Sprintf(`{"janus":"list_sessions","transaction":"probe","admin_secret":%q}`, j.AdminSecret)
		janustest.WaitFor(t, 20*time.Second, func() error {
			r, err := admin.Do(ctx, []byte(list), 0, 0)
			if err != nil {
				return err
			}
			if bytes.Contains(r.Body, []byte(fmt.Sprint(s.ID))) {
				return fmt.Errorf("session still alive: %s", r.Body)
			}
			return nil
		})
		back := &janus.Session{C: janus.NewHTTP(tp.HTTP()), ID: s.ID}
		_, _, err = back.Request(ctx, "keepalive", 0, nil)
		must(t, err)
	}},
	{name: "ws-dropped", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "ws")
		h, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "flaky-network"})
		must(t, err)
		j := message(t, ctx, s, h, map[string]any{"audio": true}, nil)
		waitTx(t, ctx, s, j.Transaction)
		// The network goes: the socket closes without a close frame.
		must(t, s.C.(*janus.WSClient).Conn().UnderlyingConn().Close())
		janustest.WaitFor(t, 10*time.Second, func() error {
			for _, ev := range tp.Mem.Events() {
				if ev.Kind == schema.Close {
					return nil
				}
			}
			return fmt.Errorf("no close recorded yet")
		})
	}},
	{name: "janus-unreachable", run: func(t *testing.T, ctx context.Context, j *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "http")
		_, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "janus-crashed"})
		must(t, err)
		must(t, j.Kill())
		back := &janus.Session{C: janus.NewHTTP(tp.HTTP()), ID: s.ID}
		_, r, err := back.Request(ctx, "keepalive", 0, nil)
		must(t, err)
		if r.Status != http.StatusBadGateway {
			t.Fatalf("keepalive with Janus down: status %d, want 502", r.Status)
		}
	}},
	{name: "janus-unreachable-ws", run: func(t *testing.T, ctx context.Context, j *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "ws")
		_, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "janus-crashed-ws"})
		must(t, err)
		must(t, j.Kill())
		// The tap loses Janus's side of the WebSocket and closes the
		// client's with 1011.
		select {
		case <-s.C.(*janus.WSClient).Done():
		case <-ctx.Done():
			t.Fatal("the client's WebSocket stayed open after Janus died")
		}
	}},
	{name: "pc-never-up", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		s := session(t, ctx, tp, "http")
		h, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": "no-media"})
		must(t, err)
		j := message(t, ctx, s, h, map[string]any{"audio": true, "video": true}, janus.Offer())
		if ev := waitTx(t, ctx, s, j.Transaction); ev.JSEP != "answer" {
			t.Fatalf("offer: event with jsep %q, want answer", ev.JSEP)
		}
		detachDestroy(t, ctx, s, h)
	}},
	{name: "videoroom-pub-sub", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		// A publisher over HTTP and a subscriber over WebSocket in the demo
		// room 1234; nothing answers ICE, so the publisher's PeerConnection
		// never comes up.
		pub := session(t, ctx, tp, "http")
		ph, err := pub.Attach(ctx, janus.VideoRoom, map[string]any{"opaque_id": "videoroom-publisher"})
		must(t, err)
		j := message(t, ctx, pub, ph, map[string]any{"request": "join", "ptype": "publisher", "room": 1234, "display": "alice"}, nil)
		joined := waitTx(t, ctx, pub, j.Transaction)
		if joined.PluginValue != "joined" {
			t.Fatalf("publisher join: %s", joined.PluginValue)
		}
		j = message(t, ctx, pub, ph, map[string]any{"request": "configure", "audio": true, "video": true}, janus.Offer())
		if ev := waitTx(t, ctx, pub, j.Transaction); ev.JSEP != "answer" {
			t.Fatalf("publisher configure: jsep %q", ev.JSEP)
		}
		_, _, err = pub.Request(ctx, "keepalive", 0, nil)
		must(t, err)
		list := message(t, ctx, pub, ph, map[string]any{"request": "listparticipants", "room": 1234}, nil)
		feed := participantID(t, pub, list)
		sub := session(t, ctx, tp, "ws")
		sh, err := sub.Attach(ctx, janus.VideoRoom, map[string]any{"opaque_id": "videoroom-subscriber"})
		must(t, err)
		j = message(t, ctx, sub, sh, map[string]any{"request": "join", "ptype": "subscriber", "room": 1234,
			"streams": []any{map[string]any{"feed": feed}}}, nil)
		// The publisher's PeerConnection never came up, so Janus does
		// not offer its feed: 428.
		if ev := waitTx(t, ctx, sub, j.Transaction); ev.PluginError != 428 {
			t.Fatalf("subscribe to a publisher without media: %+v, want plugin error 428", ev)
		}
		detachDestroy(t, ctx, sub, sh)
		message(t, ctx, pub, ph, map[string]any{"request": "leave"}, nil)
		detachDestroy(t, ctx, pub, ph)
	}},
	{name: "ice-failed-evh", evh: true,
		evhDone: func(ev *schema.Event) bool { return bytes.Contains(ev.Body, []byte(`"hangup"`)) },
		run: func(t *testing.T, ctx context.Context, j *janustest.Janus, tp *taptest.Tap) {
			runICEFailed(t, ctx, tp, "firewalled-evh")
		}},
	{name: "hangup-ice-failed", run: func(t *testing.T, ctx context.Context, _ *janustest.Janus, tp *taptest.Tap) {
		runICEFailed(t, ctx, tp, "firewalled")
	}},
}

// TestCapture writes testdata/flows/NAME.jsonl for every scenario when run
// with -capture; otherwise it is skipped.
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("run with -capture to capture testdata/flows again from a real Janus")
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			opts := sc.opts
			janusEvents := &taptest.Memory{}
			if sc.evh {
				srv := httptest.NewServer(&evh.Receiver{Gateway: "janus", Tap: "evh", Emitter: janusEvents})
				defer srv.Close()
				opts.Events = &janustest.EventHandler{URL: srv.URL + "/"}
			}
			j := janustest.Start(t, opts)
			tp := taptest.New(t, j, "janus")
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			sc.run(t, ctx, j, tp)
			if sc.evh {
				janustest.WaitFor(t, 20*time.Second, func() error {
					if slices.ContainsFunc(janusEvents.Events(), sc.evhDone) {
						return nil
					}
					return fmt.Errorf("Janus has not posted the event that ends %s (%d posted)", sc.name, len(janusEvents.Events()))
				})
			}
			// The tap's events and Janus's, in the order they came.
			evs := append(tp.Mem.Events(), janusEvents.Events()...)
			slices.SortStableFunc(evs, func(a, b *schema.Event) int { return a.Time.Compare(b.Time) })
			var out bytes.Buffer
			for _, ev := range evs {
				b, err := schema.Encode(ev)
				must(t, err)
				out.Write(b)
				out.WriteByte('\n')
			}
			must(t, os.WriteFile(filepath.Join("testdata", "flows", sc.name+".jsonl"), out.Bytes(), 0o644))
		})
	}
}

// participantID returns the id of the first participant of a videoroom
// listparticipants answer of session s.
func participantID(t *testing.T, s *janus.Session, j *schema.Janus) uint64 {
	t.Helper()
	last := s.T.Exchanges[len(s.T.Exchanges)-1]
	var m struct {
		PluginData struct {
			Data struct {
				Participants []struct {
					ID uint64 `json:"id"`
				} `json:"participants"`
			} `json:"data"`
		} `json:"plugindata"`
	}
	if err := json.Unmarshal(last.Reply.Body, &m); err != nil || len(m.PluginData.Data.Participants) == 0 {
		t.Fatalf("listparticipants: no participant in %s (%v)", last.Reply.Body, err)
	}
	return m.PluginData.Data.Participants[0].ID
}

// runICEFailed offers media with one candidate nobody answers on, and
// waits for Janus to hang up (ICE failed, after about 12 s).
func runICEFailed(t *testing.T, ctx context.Context, tp *taptest.Tap, opaque string) {
	s := session(t, ctx, tp, "ws")
	h, err := s.Attach(ctx, janus.EchoTest, map[string]any{"opaque_id": opaque})
	must(t, err)
	j := message(t, ctx, s, h, map[string]any{"audio": true, "video": true}, janus.Offer())
	waitTx(t, ctx, s, j.Transaction)
	// A candidate nobody answers on: ICE checks fail and Janus hangs up.
	cand := map[string]any{"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host generation 0", "sdpMid": "0", "sdpMLineIndex": 0}
	_, _, err = s.Request(ctx, "trickle", h, map[string]any{"candidate": cand})
	must(t, err)
	_, _, err = s.Request(ctx, "trickle", h, map[string]any{"candidate": map[string]any{"completed": true}})
	must(t, err)
	wait, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		_, _, err = s.Request(ctx, "keepalive", 0, nil)
		must(t, err)
		step, stop := context.WithTimeout(wait, 20*time.Second)
		_, ev, err := s.WaitEvent(step, janus.ForType("hangup"))
		stop()
		if err == nil {
			t.Logf("hangup: %s", ev.Reason)
			break
		}
		if wait.Err() != nil {
			t.Fatalf("no hangup in 90s: %v", err)
		}
	}
	detachDestroy(t, ctx, s, h)
}
