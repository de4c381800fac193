package plan_test

import (
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// flow builds events with ids, times and parsed fields, as a tap would.
type flow struct {
	ids  schema.IDGen
	t    time.Time
	evs  []*schema.Event
	last map[string]*schema.Event // last request per conn
}

func (f *flow) add(tr schema.Transport, conn string, dir schema.Direction, kind schema.Kind, method, path, body string) *schema.Event {
	f.t = f.t.Add(time.Millisecond)
	ev := &schema.Event{ID: f.ids.New(f.t), Time: f.t, Conn: conn, Transport: tr, Direction: dir, Kind: kind, Method: method, Path: path, Body: []byte(body)}
	ev.Janus, _ = schema.ParseJanus(ev.Body)
	if ev.Janus == nil {
		ev.Janus = &schema.Janus{}
	}
	if _, s, h := schema.ParsePath(path); s != 0 && ev.Janus.SessionID == 0 {
		ev.Janus.SessionID = s
		if dir == schema.ToGateway && ev.Janus.HandleID == 0 {
			ev.Janus.HandleID = h
		}
	}
	if kind == schema.Response {
		ev.Parent = f.last[conn].ID
	}
	if kind == schema.Request {
		f.last[conn] = ev
	}
	f.evs = append(f.evs, ev)
	return ev
}

func TestBuildREST(t *testing.T) {
	f := &flow{t: time.Unix(1700000000, 0), last: map[string]*schema.Event{}}
	const H, R = schema.HTTP, schema.Request
	f.add(H, "c1", schema.ToGateway, R, "POST", "/janus", `{"janus":"create","transaction":"c"}`)
	f.add(H, "c1", schema.ToClient, schema.Response, "POST", "/janus", `{"janus":"success","transaction":"c","data":{"id":11}}`)
	f.add(H, "c2", schema.ToGateway, R, "OPTIONS", "/janus/11", ``)
	f.add(H, "c2", schema.ToClient, schema.Response, "OPTIONS", "/janus/11", ``)
	f.add(H, "c3", schema.ToGateway, R, "GET", "/janus/11", ``)
	f.add(H, "c1", schema.ToGateway, R, "POST", "/janus/11", `{"janus":"attach","plugin":"janus.plugin.echotest","transaction":"a"}`)
	f.add(H, "c1", schema.ToClient, schema.Response, "POST", "/janus/11", `{"janus":"success","session_id":11,"transaction":"a","data":{"id":22}}`)
	f.add(H, "c1", schema.ToGateway, R, "POST", "/janus/11/22", `{"janus":"message","body":{"audio":true},"transaction":"m"}`)
	f.add(H, "c1", schema.ToClient, schema.Response, "POST", "/janus/11/22", `{"janus":"ack","session_id":11,"transaction":"m"}`)
	f.add(H, "c3", schema.ToClient, schema.PollEvent, "GET", "/janus/11", `{"janus":"event","session_id":11,"sender":22,"transaction":"m"}`)
	f.add(H, "c1", schema.ToGateway, R, "POST", "/janus/11/22", `{"janus":"detach","transaction":"d"}`)
	f.add(H, "c1", schema.ToClient, schema.Response, "POST", "/janus/11/22", `{"janus":"success","session_id":11,"transaction":"d"}`)
	f.add(H, "c1", schema.ToGateway, R, "POST", "/janus/11", `{"janus":"destroy","transaction":"x"}`)
	f.add(H, "c1", schema.ToClient, schema.Response, "POST", "/janus/11", `{"janus":"success","session_id":11,"transaction":"x"}`)
	racing := f.add(H, "c3", schema.ToClient, schema.PollEvent, "GET", "/janus/11", `{"janus":"detached","session_id":11,"sender":22}`)

	p, err := plan.Build(f.evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clients) != 1 {
		t.Fatalf("got %d clients, want the one REST session", len(p.Clients))
	}
	c := p.Clients[0]
	if c.Session != 11 || c.Transport != schema.HTTP {
		t.Errorf("client %+v", c)
	}
	var verbs []string
	for _, s := range c.Steps {
		verbs = append(verbs, s.Request.Janus.Janus)
		if s.Reply == nil {
			t.Errorf("step %s has no reply", s.Request.Janus.Janus)
		}
	}
	if got, want := len(verbs), 5; got != want {
		t.Fatalf("steps %v: want create, attach, message, detach, destroy (no preflight, no poll)", verbs)
	}
	if e := c.Steps[2].Expect; len(e) != 1 || e[0].Janus.Janus != "event" {
		t.Errorf("message step expects %v, want its event", e)
	}
	if !p.Teardown(racing) {
		t.Error("a detached after the destroy request is not marked as racing it")
	}
	for i, s := range c.Steps {
		if s.Order != i {
			t.Errorf("step %d has order %d", i, s.Order)
		}
	}
}

func TestBuildWebSocketFrames(t *testing.T) {
	f := &flow{t: time.Unix(1700000000, 0), last: map[string]*schema.Event{}}
	const W = schema.WS
	f.add(W, "w1", schema.ToGateway, schema.Open, "GET", "/", ``)
	first := f.add(W, "w1", schema.ToGateway, schema.Frame, "", "", `{"janus":"ping","transaction":"p1"}`)
	first.Parts = 2
	second := f.add(W, "w1", schema.ToGateway, schema.Frame, "", "", `{"janus":"ping","transaction":"p2"}`)
	second.Part, second.Parts, second.Parent = 1, 2, first.ID
	f.add(W, "w1", schema.ToClient, schema.Frame, "", "", `{"janus":"pong","transaction":"p1"}`)
	f.add(W, "w1", schema.ToClient, schema.Frame, "", "", `{"janus":"pong","transaction":"p2"}`)
	f.add(W, "w2", schema.ToGateway, schema.Frame, "", "", `{"janus":"ping","transaction":"p3"}`)

	p, err := plan.Build(f.evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clients) != 2 {
		t.Fatalf("got %d clients, want one per WebSocket", len(p.Clients))
	}
	c := p.Clients[0]
	if c.Path != "/" || len(c.Steps) != 1 || len(c.Steps[0].Parts) != 1 || len(c.Steps[0].Expect) != 2 {
		t.Fatalf("first WebSocket: path %q, %d steps; want one step of two objects expecting two pongs", c.Path, len(c.Steps))
	}
	if p.Clients[1].Steps[0].Order != 1 {
		t.Errorf("the second WebSocket's step has order %d, want 1", p.Clients[1].Steps[0].Order)
	}
}

func TestBuildEmpty(t *testing.T) {
	if _, err := plan.Build(nil); err == nil {
		t.Fatal("a plan of no events built")
	}
}

// TestBuildAfterOtherWebRTCUp checks that a request waits for the webrtcup
// events of other clients captured before it (since the step before it),
// and not for its own client's, which it expects anyway.
func TestBuildAfterOtherWebRTCUp(t *testing.T) {
	f := &flow{t: time.Unix(1700000000, 0), last: map[string]*schema.Event{}}
	const W, F = schema.WS, schema.Frame
	f.add(W, "alice", schema.ToGateway, F, "", "", `{"janus":"message","session_id":1,"handle_id":11,"body":{"request":"configure"},"transaction":"a1"}`)
	aliceUp := f.add(W, "alice", schema.ToClient, F, "", "", `{"janus":"webrtcup","session_id":1,"sender":11}`)
	f.add(W, "bob", schema.ToGateway, F, "", "", `{"janus":"message","session_id":2,"handle_id":22,"body":{"request":"join"},"transaction":"b1"}`)
	f.add(W, "bob", schema.ToClient, F, "", "", `{"janus":"webrtcup","session_id":2,"sender":22}`)
	f.add(W, "bob", schema.ToGateway, F, "", "", `{"janus":"message","session_id":2,"handle_id":22,"body":{"request":"configure"},"transaction":"b2"}`)
	f.add(W, "alice", schema.ToGateway, F, "", "", `{"janus":"detach","session_id":1,"handle_id":11,"transaction":"a2"}`)

	p, err := plan.Build(f.evs)
	if err != nil {
		t.Fatal(err)
	}
	var after [][]*schema.Event
	for _, c := range p.Clients {
		for _, s := range c.Steps {
			for len(after) <= s.Order {
				after = append(after, nil)
			}
			after[s.Order] = s.After
		}
	}
	want := [][]*schema.Event{nil, {aliceUp}, nil, nil}
	if len(after) != len(want) {
		t.Fatalf("%d steps, want %d", len(after), len(want))
	}
	for i := range want {
		if len(after[i]) != len(want[i]) || len(want[i]) == 1 && after[i][0] != want[i][0] {
			t.Errorf("step %d waits for %d webrtcup events %v, want %d", i, len(after[i]), after[i], len(want[i]))
		}
	}
}
