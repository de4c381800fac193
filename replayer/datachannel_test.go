package replayer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// evhJanus starts a Janus whose event handler posts to an evh.Receiver
// (as serve's --evh-listen) that keeps the events of gateway gw in memory.
func evhJanus(t *testing.T, gw string) (*janustest.Janus, *taptest.Memory) {
	t.Helper()
	events := &taptest.Memory{}
	srv := httptest.NewServer(&evh.Receiver{Gateway: gw, Tap: "evh", Emitter: events})
	t.Cleanup(srv.Close)
	return janustest.Start(t, janustest.Options{Events: &janustest.EventHandler{URL: srv.URL + "/"}}), events
}

// textroomOverDataChannel is a textroom client as janus.js's demo is
// one, with the replay's own peer: it creates a room over the Janus API,
// sets up the data channel (setup, Janus's offer, ack with the peer's
// answer), and over the data channel joins the configured room 1234 as
// "dave", says something, leaves it and joins the new room. Then, over the
// Janus API, it lists the new room's participants (dave) and hangs up,
// still in the room: the plugin leaves it for the client, and Janus
// notifies that leave as it notifies a client's (not when the handle is
// detached, which Janus no longer reports a plugin's events of). Another
// handle destroys the room.
func textroomOverDataChannel(ctx context.Context, s *janus.Session) error {
	h, err := s.Attach(ctx, janus.TextRoom, nil)
	if err != nil {
		return err
	}
	room := 100000 + rand.IntN(1<<30)
	if _, _, err := s.Message(ctx, h, map[string]any{"request": "create", "room": room, "description": "janustap", "permanent": false}, nil); err != nil {
		return err
	}
	j, _, err := s.Message(ctx, h, map[string]any{"request": "setup"}, nil)
	if err != nil {
		return err
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
	if err != nil {
		return err
	}
	offer := jsepSDP(b)
	p, err := media.New(offer, media.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	answer, err := p.Answer(ctx, offer)
	if err != nil {
		return err
	}
	if j, _, err = s.Message(ctx, h, map[string]any{"request": "ack"}, map[string]any{"type": "answer", "sdp": answer}); err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
		return err
	}
	select {
	case <-p.DataChannelOpen():
	case <-ctx.Done():
		return fmt.Errorf("data channel: %w", ctx.Err())
	}
	for i, req := range []map[string]any{
		{"textroom": "join", "room": 1234, "username": "dave", "display": "Dave"},
		{"textroom": "message", "room": 1234, "text": "hello from dave"},
		{"textroom": "leave", "room": 1234},
		{"textroom": "join", "room": room, "username": "dave", "display": "Dave"},
	} {
		req["transaction"] = fmt.Sprintf("dc%d", i)
		if err := textroomRequest(ctx, p, req); err != nil {
			return err
		}
	}
	if _, _, err := s.Message(ctx, h, map[string]any{"request": "listparticipants", "room": room}, nil); err != nil {
		return err
	}
	if _, _, err := s.Request(ctx, "hangup", h, nil); err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, janus.ForType("hangup")); err != nil {
		return err
	}
	if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
		return err
	}
	h2, err := s.Attach(ctx, janus.TextRoom, nil)
	if err != nil {
		return err
	}
	if _, _, err := s.Message(ctx, h2, map[string]any{"request": "destroy", "room": room}, nil); err != nil {
		return err
	}
	_, _, err = s.Request(ctx, "detach", h2, nil)
	return err
}

// textroomRequest sends req on p's data channel and waits for the
// textroom's success.
func textroomRequest(ctx context.Context, p *media.Peer, req map[string]any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, from := p.DataCounts()
	if err := p.SendData(b); err != nil {
		return err
	}
	for {
		msgs, next := p.DataReceived(from)
		from += len(msgs)
		for _, m := range msgs {
			var a struct{ Textroom, Transaction, Error string }
			if json.Unmarshal(m, &a) == nil && a.Transaction == req["transaction"] {
				if a.Textroom != "success" {
					return fmt.Errorf("textroom %s: %s", req["textroom"], m)
				}
				return nil
			}
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("textroom %s: no answer: %w", req["textroom"], ctx.Err())
		}
	}
}

// textroomJoins returns the textroom joins and leaves among Janus's
// events, as "join ROOM USERNAME" and "leave ROOM USERNAME".
func textroomJoins(evs []*schema.Event) []string {
	var out []string
	for _, ev := range evs {
		env, err := schema.ParseEvhEnvelope(ev.Body)
		if err != nil || env.Type != schema.EvhPlugin {
			continue
		}
		var e struct {
			Plugin string
			Data   struct {
				Event, Username string
				Room            json.Number
			}
		}
		if json.Unmarshal(env.Event, &e) == nil && e.Plugin == janus.TextRoom && (e.Data.Event == "join" || e.Data.Event == "leave") {
			out = append(out, e.Data.Event+" "+string(e.Data.Room)+" "+e.Data.Username)
		}
	}
	return out
}

// waitJanusEvent waits until Janus has posted an event whose body holds
// each of parts.
func waitJanusEvent(t *testing.T, events *taptest.Memory, parts ...string) {
	t.Helper()
	janustest.WaitFor(t, 20*time.Second, func() error {
		if slices.ContainsFunc(events.Events(), func(ev *schema.Event) bool {
			for _, p := range parts {
				if !bytes.Contains(ev.Body, []byte(p)) {
					return false
				}
			}
			return true
		}) {
			return nil
		}
		return fmt.Errorf("Janus has not posted an event with %q yet (%d events)", parts, len(events.Events()))
	})
}

// TestReplayTextroomDataChannel captures a textroom client that joins,
// speaks and leaves over its data channel through a tap, with Janus
// posting its events, and replays it on a second Janus that posts its own:
// the replay's peer sends the joins and the leave Janus's events show, in
// their place, and the second Janus reports them; the participants list
// the client asked for after its second join matches. Without Janus's
// events the replay sends nothing on the data channel and that list is
// empty; on a Janus without room 1234 the textroom refuses the join and
// the replay says so.
func TestReplayTextroomDataChannel(t *testing.T) {
	a, aEvents := evhJanus(t, "a")
	tp := taptest.New(t, a, "a")
	s, evs := taptest.Run(t, tp, "ws", textroomOverDataChannel)
	waitJanusEvent(t, aEvents, `"destroyed"`, fmt.Sprint(s.ID))
	all := append(slices.Clone(tp.Mem.Events()), aEvents.Events()...)
	captured := textroomJoins(aEvents.Events())
	if len(captured) != 4 {
		t.Fatalf("Janus's events of the capture show %q, want two joins, the client's leave and the plugin's", captured)
	}
	dc := replayer.DataChannelEvents(all, evs)
	if *capture {
		saveTextroomCapture(t, evs, aEvents.Events(), s.ID)
	}
	if slices.ContainsFunc(aEvents.Events(), func(ev *schema.Event) bool { return bytes.Contains(ev.Body, []byte("hello from dave")) }) {
		t.Errorf("Janus's events carry the chat message; the README says they do not")
	}

	b, bEvents := evhJanus(t, "b")
	noRoom := janustest.Start(t, janustest.Options{})
	destroyRoom1234(t, noRoom)
	cases := []struct {
		name        string
		target      *janustest.Janus
		dataChannel []*schema.Event
		same        bool
		sent        int    // messages the peer sends on the data channel
		errContains string // in the run's errors
	}{
		{name: "with_janus_events", target: b, dataChannel: dc, same: true, sent: 3},
		{name: "without_janus_events", target: b, same: false},
		{name: "room_missing", target: noRoom, dataChannel: dc, same: false, sent: 3, errContains: `textroom join (room 1234, username "dave"): Janus answered error 417`},
	}
	for _, tc := range cases {
		for _, to := range []schema.Transport{schema.WS, schema.HTTP} {
			t.Run(tc.name+"_over_"+string(to), func(t *testing.T) {
				before := len(bEvents.Events())
				res, err := replayer.Replay(t.Context(), evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: tc.target.HTTP, WS: tc.target.WS}, Transport: to,
						Wait: 5 * time.Second, Media: &media.Options{}, DataChannel: tc.dataChannel},
				})
				if err != nil {
					t.Fatal(err)
				}
				run := res.Runs[0]
				var buf bytes.Buffer
				diff.WriteText(&buf, res.Reports[0])
				if got := res.Same(); got != tc.same {
					t.Fatalf("same %v, want %v; waits %q errors %q\n%s", got, tc.same, run.Waits, run.Errors, buf.String())
				}
				if len(run.Media) != 1 || !run.Media[0].DataChannel {
					t.Fatalf("peers %+v, want one whose data channel opened", run.Media)
				}
				m := run.Media[0]
				if m.DataSent != tc.sent {
					t.Errorf("the peer sent %d messages on its data channel, want %d", m.DataSent, tc.sent)
				}
				if m.DataReceived < m.DataSent {
					t.Errorf("the peer received %d messages on its data channel, fewer than the %d answers to what it sent", m.DataReceived, m.DataSent)
				}
				if tc.errContains != "" {
					if !slices.ContainsFunc(run.Errors, func(e string) bool { return strings.Contains(e, tc.errContains) }) {
						t.Errorf("errors %q, want one with %q", run.Errors, tc.errContains)
					}
					if len(m.DataErrors) == 0 {
						t.Errorf("peer %+v: no data channel error", m)
					}
				}
				if !tc.same && tc.errContains == "" && !strings.Contains(buf.String(), "participants") {
					t.Errorf("the runs differ elsewhere than in the participants list:\n%s", buf.String())
				}
				t.Logf("errors %q", run.Errors)
				if tc.target != b {
					return
				}
				// The second Janus reports what the replay's peer did on
				// its data channel, as the first did for the client.
				waitJanusEvent(t, bEvents, `"destroyed"`, fmt.Sprint(sessionOf(run.Events)))
				got := textroomJoins(bEvents.Events()[before:])
				want := captured[:0:0]
				if tc.sent > 0 {
					want = captured
				}
				if !slices.Equal(got, want) {
					t.Errorf("the second Janus's events show %q, the capture's %q", got, want)
				}
				t.Logf("peer %+v; second Janus: %q", m, got)
			})
		}
	}
}

// textroomCaptureFile is the capture of textroomOverDataChannel with
// Janus's events, for cmd/janustap's test of the replay command
// (rewritten with -capture).
const textroomCaptureFile = "textroom_datachannel_ws.jsonl"

// saveTextroomCapture writes the tap's events evs and Janus's events of
// session, in the order the tap received them, to testdata/flows.
func saveTextroomCapture(t *testing.T, evs, janusEvents []*schema.Event, session uint64) {
	t.Helper()
	out := slices.Clone(evs)
	for _, ev := range janusEvents {
		if ev.SessionID() == session {
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b *schema.Event) int { return a.Time.Compare(b.Time) })
	var buf bytes.Buffer
	for _, ev := range out {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join("testdata", "flows", textroomCaptureFile), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sessionOf returns the first session id among evs.
func sessionOf(evs []*schema.Event) uint64 {
	for _, ev := range evs {
		if id := ev.SessionID(); id != 0 {
			return id
		}
	}
	return 0
}

// destroyRoom1234 destroys the textroom room of j's configuration.
func destroyRoom1234(t *testing.T, j *janustest.Janus) {
	t.Helper()
	ctx := t.Context()
	c := janus.NewHTTP(j.HTTP)
	s := &janus.Session{C: c}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Destroy(ctx)
	h, err := s.Attach(ctx, janus.TextRoom, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, reply, err := s.Message(ctx, h, map[string]any{"request": "destroy", "room": 1234, "secret": "adminpwd"}, nil)
	if err != nil || !bytes.Contains(reply.Body, []byte(`"destroyed"`)) {
		t.Fatalf("destroy room 1234: %v %s", err, reply.Body)
	}
}

// TestDataChannelEvents: the plugin events and PeerConnection hangups of
// the flow's handles, each at Janus's timestamp moved to the tap's clock
// by the least delay seen (here the create's answer, 100 µs after Janus's
// created event, with Janus's clock 5 s behind the tap's); not those of
// other handles or gateways, nor Janus's other events.
func TestDataChannelEvents(t *testing.T) {
	j0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC) // Janus's clock
	const behind = 5 * time.Second
	evh := func(gw string, typ, subtype int, session, handle uint64, stamp, delay time.Duration, event string) *schema.Event {
		body := fmt.Sprintf(`{"type":%d,"subtype":%d,"timestamp":%d,"session_id":%d,"handle_id":%d,"event":%s}`, typ, subtype, j0.Add(stamp).UnixMicro(), session, handle, event)
		return &schema.Event{Gateway: gw, Kind: schema.JanusEvent, Transport: schema.EVH, Time: j0.Add(stamp + behind + delay),
			Body: []byte(body), Janus: &schema.Janus{SessionID: session, HandleID: handle}}
	}
	tap := func(stamp time.Duration, j *schema.Janus) *schema.Event {
		return &schema.Event{Gateway: "gw", Kind: schema.Frame, Direction: schema.ToClient, Time: j0.Add(stamp + behind), Janus: j}
	}
	ms := time.Millisecond
	join := `{"plugin":"janus.plugin.textroom","data":{"event":"join","room":1234,"username":"u"}}`
	flow := []*schema.Event{
		tap(ms+100*time.Microsecond, &schema.Janus{Janus: "success", DataID: 1}),                  // create's answer
		tap(2*ms+300*time.Microsecond, &schema.Janus{Janus: "success", SessionID: 1, DataID: 10}), // attach's answer
	}
	mine := evh("gw", schema.EvhPlugin, 0, 1, 10, 40*ms, 20*ms, join)
	hangup := evh("gw", schema.EvhWebRTC, schema.EvhWebRTCPC, 1, 10, 44*ms, 10*ms, `{"connection":"hangup","reason":"DTLS alert"}`)
	all := append(slices.Clone(flow),
		evh("gw", schema.EvhSession, 0, 1, 0, ms, 30*ms, `{"name":"created"}`),
		evh("gw", schema.EvhHandle, 0, 1, 10, 2*ms, 30*ms, `{"name":"attached","plugin":"janus.plugin.textroom"}`),
		mine,
		evh("gw", schema.EvhPlugin, 0, 2, 20, 41*ms, 20*ms, join),                                    // another handle
		evh("other", schema.EvhPlugin, 0, 1, 10, 42*ms, 0, join),                                     // another gateway (and no delay)
		evh("gw", schema.EvhWebRTC, schema.EvhWebRTCICE, 1, 10, 43*ms, 10*ms, `{"ice":"connected"}`), // not a plugin's or a hangup
		hangup,
	)
	got := replayer.DataChannelEvents(all, flow)
	if len(got) != 2 || !bytes.Equal(got[0].Body, mine.Body) || !bytes.Equal(got[1].Body, hangup.Body) {
		t.Fatalf("got %d events, want the join and the hangup of handle 10", len(got))
	}
	for i, stamp := range []time.Duration{40 * ms, 44 * ms} {
		if want := j0.Add(stamp + behind + 100*time.Microsecond); !got[i].Time.Equal(want) {
			t.Errorf("event %d: time %s, want %s (Janus's stamp on the tap's clock)", i, got[i].Time.Format(time.StampMicro), want.Format(time.StampMicro))
		}
	}
	if !mine.Time.Equal(j0.Add(40*ms + behind + 20*ms)) {
		t.Errorf("the captured event was changed: time %s", mine.Time)
	}
}
