package clients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// rig is a private Janus with a tap in front of it.
type rig struct {
	janus *janustest.Janus
	tap   *taptest.Tap
}

func newRig(t *testing.T) *rig {
	t.Helper()
	j := janustest.Start(t, janustest.Options{})
	return &rig{janus: j, tap: taptest.New(t, j, "clients")}
}

func (r *rig) tapHTTP() string         { return r.tap.HTTP() }
func (r *rig) tapWS() string           { return r.tap.WS() }
func (r *rig) events() []*schema.Event { return r.tap.Mem.Events() }

// sessionOf returns the Janus session id the page reported in its session step.
func sessionOf(t *testing.T, res clienttest.BrowserResult) uint64 {
	t.Helper()
	s, ok := res.Step("session")
	if !ok {
		t.Fatal("browser result has no session step")
	}
	var d struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(s.Detail, &d); err != nil || d.ID == 0 {
		t.Fatalf("session step detail %s: no id (%v)", s.Detail, err)
	}
	return d.ID
}

// janusEvents returns the gateway-to-client messages of session recorded in
// evs, by their janus type.
func janusEvents(evs []*schema.Event, session uint64) map[string][]*schema.Event {
	got := map[string][]*schema.Event{}
	for _, ev := range evs {
		if ev.Direction != schema.ToClient || ev.Janus == nil || ev.Janus.SessionID != session {
			continue
		}
		if ev.Kind != schema.PollEvent && ev.Kind != schema.Frame {
			continue
		}
		got[ev.Janus.Janus] = append(got[ev.Janus.Janus], ev)
	}
	return got
}

// browserSteps are the steps the echotest page must report, in this order of
// dependency (their times may interleave).
var browserSteps = []string{
	"init", "session", "attach", "offer", "answer", "remote-description", "ice-connected", "webrtcup",
	"media-audio", "media-video", "remote-track-audio", "remote-track-video", "inbound-audio", "inbound-video",
	"data-open", "data-echo", "reconfigure", "hangup", "hangup-event", "detach", "destroy",
}

// TestBrowserEchoTest runs janus.js's echotest in headless Chromium through
// the tap over REST and WebSockets and directly against Janus, and checks
// that the tap recorded the PeerConnection coming up (webrtcup) and Janus's
// media events as the browser got them.
func TestBrowserEchoTest(t *testing.T) {
	clienttest.Require(t)
	r := newRig(t)
	page := clienttest.ServePage(t)

	cases := []struct {
		name      string
		server    string
		transport schema.Transport // of the events; "" when the tap is bypassed
	}{
		{"tap_http", r.tapHTTP(), schema.HTTP},
		{"tap_ws", r.tapWS(), schema.WS},
		{"direct_http", r.janus.HTTP, ""},
		{"direct_ws", r.janus.WS, ""},
	}
	timings := map[string]clienttest.BrowserResult{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			before := len(r.events())
			res, err := clienttest.RunBrowser(ctx, clienttest.EchoTestURL(page, c.server))
			if err != nil {
				t.Logf("browser output:\n%s", res.Stderr)
				t.Fatal(err)
			}
			timings[c.name] = res
			t.Logf("%s: %s, browser start %v, webrtcup at %v, scenario %v, total %v",
				c.name, res.BrowserVersion, res.BrowserStart, res.WebRTCUp, res.Scenario, res.Total)
			var steps []string
			for _, s := range res.Steps {
				steps = append(steps, fmt.Sprintf("%s@%v%s", s.Name, s.At, s.Detail))
			}
			t.Logf("steps: %s", strings.Join(steps, " "))
			for _, name := range browserSteps {
				if _, ok := res.Step(name); !ok {
					t.Errorf("browser result lacks step %s", name)
				}
			}
			if echo, ok := res.Step("data-echo"); ok {
				var d struct{ Sent, Received string }
				if err := json.Unmarshal(echo.Detail, &d); err != nil || d.Sent == "" || !strings.Contains(d.Received, d.Sent) {
					t.Errorf("data channel echo %s does not contain what was sent (%v)", echo.Detail, err)
				}
			}

			session := sessionOf(t, res)
			got := janusEvents(r.events()[before:], session)
			if c.transport == "" {
				if len(got) != 0 {
					t.Errorf("tap recorded %d kinds of message of session %d that bypassed it", len(got), session)
				}
				return
			}
			for _, typ := range []string{"webrtcup", "media", "hangup"} {
				if len(got[typ]) == 0 {
					t.Errorf("tap recorded no %q event of session %d", typ, session)
				}
			}
			media := map[string]bool{}
			for _, ev := range append(got["webrtcup"], got["media"]...) {
				if ev.Transport != c.transport {
					t.Errorf("event %s (%s) has transport %s, want %s", ev.ID, ev.Janus.Janus, ev.Transport, c.transport)
				}
				if ev.Janus.Janus == "media" {
					var m struct {
						Type      string `json:"type"`
						Receiving bool   `json:"receiving"`
					}
					if err := json.Unmarshal(ev.Body, &m); err != nil {
						t.Errorf("media event %s: %v", ev.ID, err)
					}
					media[m.Type] = media[m.Type] || m.Receiving
				}
			}
			if !media["audio"] || !media["video"] {
				t.Errorf("tap recorded media events receiving %v, want audio and video", media)
			}
		})
	}
	for _, tr := range []string{"http", "ws"} {
		via, direct := timings["tap_"+tr], timings["direct_"+tr]
		if via.Total == 0 || direct.Total == 0 {
			continue
		}
		t.Logf("%s through the tap vs direct: browser start %v vs %v, webrtcup at %v vs %v, scenario %v vs %v",
			tr, via.BrowserStart, direct.BrowserStart, via.WebRTCUp, direct.WebRTCUp, via.Scenario, direct.Scenario)
	}
}

// janodeSteps are the steps run-janode.mjs must report as ok.
var janodeSteps = []string{
	"connect", "info", "create", "echotest.attach", "echotest.start",
	"videoroom.attach", "videoroom.create", "videoroom.publish", "videoroom.subscriber-session",
	"videoroom.subscriber-attach", "videoroom.listparticipants", "videoroom.subscribe",
	"textroom.attach", "textroom.setup", "textroom.ack",
	"admin.connect", "admin.list-sessions", "admin.list-handles", "admin.handle-info",
	"videoroom.leave", "videoroom.destroy",
	"echotest.detach", "videoroom.detach", "videoroom.subscriber.detach", "textroom.detach", "destroy",
}

// TestJanode runs janode's scenario through the tap over WebSockets (the
// Janus and admin APIs on the tap's one port, told apart by subprotocol) and
// directly, and checks that the tap recorded both APIs.
func TestJanode(t *testing.T) {
	clienttest.Require(t)
	r := newRig(t)
	cases := []struct {
		name        string
		ws, adminWS string
		tapped      bool
	}{
		{"tap", r.tapWS(), r.tapWS(), true},
		{"direct", r.janus.WS, r.janus.AdminWS, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			before := len(r.events())
			res, err := clienttest.RunJanode(ctx, clienttest.JanodeArgs{WS: c.ws, AdminWS: c.adminWS, AdminSecret: r.janus.AdminSecret})
			if err != nil {
				t.Logf("janode output:\n%s", res.Stderr)
				t.Fatal(err)
			}
			var took []string
			for _, name := range janodeSteps {
				s, ok := res.Step(name)
				if !ok || !s.OK {
					t.Errorf("janode step %s: ok=%v found=%v", name, s.OK, ok)
					continue
				}
				took = append(took, fmt.Sprintf("%s %v", name, s.Took))
			}
			t.Logf("janode %s: total %v; %s", c.name, res.Total, strings.Join(took, ", "))

			evs := r.events()[before:]
			counts := map[schema.Transport]int{}
			for _, ev := range evs {
				counts[ev.Transport]++
			}
			if !c.tapped {
				if len(evs) != 0 {
					t.Errorf("tap recorded %d events of a run that bypassed it", len(evs))
				}
				return
			}
			if counts[schema.WS] == 0 || counts[schema.AdminWS] == 0 {
				t.Errorf("tap recorded events by transport %v, want both ws and admin-ws", counts)
			}
			seen := map[string]bool{}
			for _, ev := range evs {
				if ev.Janus != nil && ev.Direction == schema.ToGateway {
					seen[ev.Janus.Janus] = true
				}
				if ev.Janus != nil && ev.Janus.JSEP != "" {
					seen[ev.Janus.JSEP] = true
				}
			}
			for _, want := range []string{"create", "attach", "message", "list_sessions", "list_handles", "handle_info", "detach", "destroy", "offer", "answer"} {
				if !seen[want] {
					t.Errorf("tap recorded no %q from janode", want)
				}
			}
		})
	}
}
