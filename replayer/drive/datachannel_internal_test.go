package drive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// janusEvent is a Janus event of handle h made at t, with the plugin event
// data (a JSON object).
func janusEvent(h uint64, t time.Time, typ int, event string) *schema.Event {
	body := fmt.Sprintf(`{"emitter":"MyJanusInstance","type":%d,"timestamp":%d,"session_id":1,"handle_id":%d,"event":%s}`, typ, t.UnixMicro(), h, event)
	return &schema.Event{Kind: schema.JanusEvent, Transport: schema.EVH, Time: t, Body: []byte(body),
		Janus: &schema.Janus{SessionID: 1, HandleID: h}}
}

// TestDataChannelRequests: the Janus events that show a textroom request
// a client sent over its data channel become that request, placed before
// the first step captured after the event, whichever client's; the
// handle's own client sends what no step sent. Other events show nothing
// to send.
func TestDataChannelRequests(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	step := func(order, ms int, handle uint64) *plan.Step {
		return &plan.Step{Order: order, Request: &schema.Event{Time: at(ms), Janus: &schema.Janus{HandleID: handle}}}
	}
	// Client A's handle 10 is the textroom's; client B's requests come
	// in between.
	p := &plan.Plan{Clients: []*plan.Client{
		{Key: "A", Steps: []*plan.Step{step(0, 0, 0), step(1, 10, 10), step(3, 30, 10), step(5, 50, 0)}},
		{Key: "B", Steps: []*plan.Step{step(2, 20, 0), step(4, 40, 20)}},
	}}
	const tr = `"plugin":"janus.plugin.textroom"`
	tests := []struct {
		name   string
		ev     *schema.Event
		before int    // -1: after every step
		req    string // the request as JSON, "" for none
	}{
		{"join", janusEvent(10, at(15), schema.EvhPlugin, `{`+tr+`,"data":{"event":"join","room":1234,"username":"u1","display":"Carol"}}`),
			2, `{"display":"Carol","room":1234,"textroom":"join","username":"u1"}`},
		{"join_without_display", janusEvent(10, at(35), schema.EvhPlugin, `{`+tr+`,"data":{"event":"join","room":1234,"username":"u1"}}`),
			4, `{"room":1234,"textroom":"join","username":"u1"}`},
		{"leave_after_every_step", janusEvent(10, at(60), schema.EvhPlugin, `{`+tr+`,"data":{"event":"leave","room":1234,"username":"u1"}}`),
			-1, `{"room":1234,"textroom":"leave"}`},
		{"room_as_string", janusEvent(10, at(15), schema.EvhPlugin, `{`+tr+`,"data":{"event":"leave","room":"lobby","username":"u1"}}`),
			2, `{"room":"lobby","textroom":"leave"}`}, // the textroom's string_ids
		{"kicked", janusEvent(10, at(15), schema.EvhPlugin, `{`+tr+`,"data":{"textroom":"kicked","room":1234,"username":"u1"}}`), -1, ""},
		{"created", janusEvent(10, at(15), schema.EvhPlugin, `{`+tr+`,"data":{"event":"created","room":1234}}`), -1, ""},
		{"join_without_username", janusEvent(10, at(15), schema.EvhPlugin, `{`+tr+`,"data":{"event":"join","room":1234}}`), -1, ""},
		{"videoroom", janusEvent(10, at(15), schema.EvhPlugin, `{"plugin":"janus.plugin.videoroom","data":{"event":"joined","room":1234,"username":"u1"}}`), -1, ""},
		{"handle_event", janusEvent(10, at(15), schema.EvhHandle, `{"name":"attached","plugin":"janus.plugin.textroom"}`), -1, ""},
		{"not_json", &schema.Event{Kind: schema.JanusEvent, Body: []byte(`{"type":64, "event": janus.plugin.textroom`), Janus: &schema.Janus{HandleID: 10}}, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := dataChannelRequests(p, []*schema.Event{tt.ev})
			if tt.req == "" {
				if len(reqs) != 0 {
					t.Fatalf("got %d requests, want none: %+v", len(reqs), reqs[0])
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			q := reqs[0]
			b, err := json.Marshal(q.request)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.req {
				t.Errorf("request %s, want %s", got, tt.req)
			}
			if q.before != tt.before {
				t.Errorf("before step %d, want %d", q.before, tt.before)
			}
			if q.client != "A" || q.handle != 10 {
				t.Errorf("client %q handle %d, want A and 10", q.client, q.handle)
			}
		})
	}
}

// TestPluginLeave: a textroom leave that Janus's hangup of the handle's
// PeerConnection follows at once (after the leaves of its other rooms),
// or that comes after the client hung up, detached or destroyed its
// session, is the plugin's own and is not sent; a leave something else
// follows on the handle is the client's.
func TestPluginLeave(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const tr = `{"plugin":"janus.plugin.textroom","data":`
	leave := func(h uint64, ms, room int) *schema.Event {
		return janusEvent(h, at(ms), schema.EvhPlugin, fmt.Sprintf(tr+`{"event":"leave","room":%d,"username":"u"}}`, room))
	}
	join := func(h uint64, ms int) *schema.Event {
		return janusEvent(h, at(ms), schema.EvhPlugin, tr+`{"event":"join","room":5,"username":"u"}}`)
	}
	hangup := func(h uint64, ms int) *schema.Event { // a webrtc-pc event
		ev := janusEvent(h, at(ms), schema.EvhWebRTC, `{"connection":"hangup","reason":"Detach"}`)
		ev.Body = bytes.Replace(ev.Body, []byte(`"type":16,`), []byte(`"type":16,"subtype":6,`), 1)
		return ev
	}
	request := func(janus string, ms int, session, handle uint64) *schema.Event {
		return &schema.Event{Direction: schema.ToGateway, Time: at(ms), Janus: &schema.Janus{Janus: janus, SessionID: session, HandleID: handle}}
	}
	tests := []struct {
		name     string
		evs      []*schema.Event // Janus's events; the first is the leave in question
		requests []*schema.Event // the capture's requests
		own      bool
	}{
		{"hangup_next", []*schema.Event{leave(10, 100, 4), hangup(10, 101)}, nil, true},
		{"other_rooms_then_hangup", []*schema.Event{leave(10, 100, 4), leave(10, 100, 5), hangup(10, 101)}, nil, true},
		{"other_handle_between", []*schema.Event{leave(10, 100, 4), join(20, 100), hangup(10, 101)}, nil, true},
		{"join_then_hangup", []*schema.Event{leave(10, 100, 4), join(10, 110), hangup(10, 120)}, nil, false},
		{"hangup_much_later", []*schema.Event{leave(10, 100, 4), hangup(10, 5000)}, nil, false},
		{"nothing_after", []*schema.Event{leave(10, 100, 4)}, nil, false},
		{"after_detach", []*schema.Event{leave(10, 100, 4)}, []*schema.Event{request("detach", 99, 1, 10)}, true},
		{"after_destroy", []*schema.Event{leave(10, 100, 4)}, []*schema.Event{request("destroy", 99, 1, 0)}, true},
		{"before_detach", []*schema.Event{leave(10, 100, 4)}, []*schema.Event{request("detach", 101, 1, 10)}, false},
		{"after_other_handles_hangup", []*schema.Event{leave(10, 100, 4)}, []*schema.Event{request("hangup", 99, 1, 20)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan.Plan{Events: tt.requests}
			if got := pluginLeave(p, tt.evs[1:], tt.evs[0]); got != tt.own {
				t.Errorf("plugin's own leave %v, want %v", got, tt.own)
			}
			p.Clients = []*plan.Client{{Key: "A", Steps: []*plan.Step{{Order: 0, Request: &schema.Event{Time: at(1000)}}}}}
			reqs := dataChannelRequests(p, tt.evs)
			if got := len(reqs) > 0 && reqs[0].request["textroom"] == "leave"; got == tt.own {
				t.Errorf("the leave sent again %v, want %v", got, !tt.own)
			}
		})
	}
}
