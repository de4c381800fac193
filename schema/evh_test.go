package schema_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/janustap/janustap/schema"
)

func TestEvhTypeName(t *testing.T) {
	for _, tt := range []struct {
		typ, sub int
		want     string
	}{
		{schema.EvhSession, 0, "session"},
		{schema.EvhHandle, 0, "handle"},
		{schema.EvhJSEP, 0, "jsep"},
		{schema.EvhWebRTC, schema.EvhWebRTCICE, "webrtc-ice"},
		{schema.EvhWebRTC, schema.EvhWebRTCSelectedPair, "webrtc-pair"},
		{schema.EvhWebRTC, schema.EvhWebRTCPC, "webrtc-pc"},
		{schema.EvhWebRTC, 9, "webrtc-9"},
		{schema.EvhMedia, schema.EvhMediaStats, "media-stats"},
		{schema.EvhCore, schema.EvhCoreStartup, "core-startup"},
		{schema.EvhPlugin, 0, "plugin"},
		{schema.EvhTransport, 0, "transport"},
		{1 << 12, 0, "type-4096"},
	} {
		if got := schema.EvhTypeName(tt.typ, tt.sub); got != tt.want {
			t.Errorf("EvhTypeName(%d, %d) = %q, want %q", tt.typ, tt.sub, got, tt.want)
		}
	}
}

func TestSplitEvh(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
		wantErr  bool
	}{
		{name: "single", in: `{"type":1}`, want: []string{`{"type":1}`}},
		{name: "grouped", in: "[\n {\"type\":1},\n {\"type\":2}\n]\n", want: []string{`{"type":1}`, `{"type":2}`}},
		{name: "empty_array", in: `[]`, want: []string{}},
		{name: "empty", in: ` `, wantErr: true},
		{name: "cut_short", in: `[{"type":1},{"ty`, wantErr: true},
		{name: "not_json", in: `type=1`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.SplitEvh([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, schema.ErrNotJanusEvent) {
					t.Fatalf("SplitEvh = %q, %v; want ErrNotJanusEvent", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("SplitEvh = %q, want %q", got, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("element %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestEvhID(t *testing.T) {
	b := []byte(`{"type":1,"timestamp":1796500011857108,"session_id":1,"event":{"name":"created"}}`)
	a := schema.EvhID("janus", 1796500011857108, b)
	if got := schema.EvhID("janus", 1796500011857108, append([]byte(nil), b...)); got != a {
		t.Errorf("same event, ids %s and %s", a, got)
	}
	if got := schema.EvhID("other", 1796500011857108, b); got == a {
		t.Errorf("other gateway, same id %s", got)
	}
	later := schema.EvhID("janus", 1796500012857108, b)
	if later <= a {
		t.Errorf("id of a later event %s sorts before %s", later, a)
	}
	if len(a) != 26 {
		t.Errorf("id %s has %d characters, want 26", a, len(a))
	}
}

func TestParseEvhEnvelope(t *testing.T) {
	for _, in := range []string{`{"event":{}}`, `[1]`, `{"type":"x"}`, `{"type":0}`} {
		if _, err := schema.ParseEvhEnvelope([]byte(in)); !errors.Is(err, schema.ErrNotJanusEvent) {
			t.Errorf("ParseEvhEnvelope(%s) = %v, want ErrNotJanusEvent", in, err)
		}
	}
}

func TestSummaryJanusEvent(t *testing.T) {
	body := `{"emitter":"j","type":16,"subtype":6,"timestamp":1796500013676275,"session_id":11,"handle_id":22,"event":{"connection":"hangup","reason":"ICE failed"}}`
	env, err := schema.ParseEvhEnvelope([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ev := &schema.Event{}
	schema.EvhEvent(ev, "janus", env, []byte(body))
	if got, want := schema.Summary(ev), `janus evh webrtc-pc janus-event s=11 h=22 hangup "ICE failed"`; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// FuzzEvh feeds arbitrary POST bodies to what the receiver does with them:
// no panic, and every element it accepts makes an event that encodes and
// decodes to itself, with an id that depends on its bytes alone.
func FuzzEvh(f *testing.F) {
	f.Add([]byte(`{"emitter":"j","type":1,"timestamp":1796500011857108,"session_id":6416714918406041,"event":{"name":"created","transport":{"transport":"janus.transport.http","id":"3"}}}`))
	f.Add([]byte(`[{"type":16,"subtype":4,"timestamp":1,"session_id":1,"handle_id":2,"event":{"selected-pair":"a <-> b","candidates":{"local":{"type":"host"}}}},{"type":32,"subtype":3,"event":{"mid":"0","rtt":1.5}}]`))
	f.Add([]byte(`[{"type":1,`))
	f.Add([]byte(`{"type":-1,"session_id":-3,"handle_id":1e30}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		elems, err := schema.SplitEvh(body)
		if err != nil {
			return
		}
		for _, b := range elems {
			env, err := schema.ParseEvhEnvelope(b)
			if err != nil {
				continue
			}
			schema.EvhDescribe(env)
			ev := &schema.Event{Tap: "t", Conn: "t-e1", Seq: 1}
			schema.EvhEvent(ev, "gw", env, b)
			if ev.ID != schema.EvhID("gw", env.Timestamp, append([]byte(nil), b...)) {
				t.Fatal("id depends on more than the event's bytes")
			}
			enc, err := schema.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := schema.Decode(enc)
			if err != nil {
				t.Fatalf("decode %s: %v", enc, err)
			}
			if !bytes.Equal(dec.Body, ev.Body) || dec.ID != ev.ID || dec.Direction != ev.Direction || dec.V != schema.EvhVersion {
				t.Fatalf("round trip of %s changed the event", enc)
			}
			schema.Summary(dec)
		}
	})
}

func TestValidateJanusEvent(t *testing.T) {
	body := `{"type":16,"subtype":1,"timestamp":1796500013388785,"session_id":1,"handle_id":2,"event":{"ice":"gathering"}}`
	env, err := schema.ParseEvhEnvelope([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	good := schema.Event{Tap: "t", Conn: "t-e1", Seq: 1, Time: schema.JanusTime(1796500013400000)}
	schema.EvhEvent(&good, "janus", env, []byte(body))
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*schema.Event)
		want string
	}{
		{"kind", func(ev *schema.Event) { ev.Kind = schema.Frame }, "a Janus event has kind"},
		{"transport", func(ev *schema.Event) { ev.Transport = schema.WS }, "a Janus event has kind"},
		{"type_dot", func(ev *schema.Event) { ev.Direction = "webrtc.ice" }, "is not a type name"},
		{"type_empty", func(ev *schema.Event) { ev.Direction = "" }, "is not a type name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := good
			tc.edit(&ev)
			if err := ev.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
