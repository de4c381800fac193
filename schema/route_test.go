package schema_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// routeEvent is an event of a WebSocket frame with body.
func routeEvent(body []byte) *schema.Event {
	return &schema.Event{
		ID: "01JD0000000000000000000000", Gateway: "lab.1", Conn: "c1", Seq: 1,
		Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Transport: schema.WS, Direction: schema.ToClient,
		Kind: schema.Frame, Body: body, Header: map[string]string{"Origin": "https://example.com"},
		Janus: &schema.Janus{Janus: "event", Transaction: "t1"},
	}
}

func TestDecodeRoute(t *testing.T) {
	ev := routeEvent([]byte(`{"janus":"event"}`))
	b, err := schema.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"encoded", b},
		{"other-order", []byte(`{"dir":"g2c","body":"x","transport":"ws","gateway":"lab.1","id":"01JD0000000000000000000000"}`)},
		{"escaped", []byte(`{"id":"01JD0000000000000000000000","gateway":"lab\u002e1","transport":"ws","dir":"g2c"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := schema.DecodeRoute(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != ev.ID || got.Gateway != ev.Gateway || got.Transport != ev.Transport || got.Direction != ev.Direction {
				t.Errorf("DecodeRoute = %q %q %q %q, want %q %q %q %q", got.ID, got.Gateway, got.Transport, got.Direction,
					ev.ID, ev.Gateway, ev.Transport, ev.Direction)
			}
		})
	}
	for _, bad := range []string{
		``, `[]`, `"x"`, `{`, `{"id":`,
		`{"gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"id":7,"gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":-,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
	} {
		if ev, err := schema.DecodeRoute([]byte(bad)); err == nil {
			t.Errorf("DecodeRoute(%q) = %+v; want an error", bad, ev)
		}
	}
}

func BenchmarkDecodeRoute(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		data, err := schema.Encode(routeEvent(bytes.Repeat([]byte("a"), size)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := schema.DecodeRoute(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(strconv.Itoa(size>>10)+"KiB-decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := schema.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecodeRoute holds routeFields, which reads Encode's layout directly,
// to routeDecode, which reads any JSON with encoding/json: where the first
// reads the fields, the second reads the same.
func FuzzDecodeRoute(f *testing.F) {
	for _, body := range []string{`{"janus":"event"}`, "\xff", ""} {
		b, err := schema.Encode(routeEvent([]byte(body)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"v":1,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":1,"id":"A","id":"B","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"id":"A\u0041","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":1.5,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":1,"header":{"x":"y"},"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":1,"id":"A","gateway":"g.h","transport":"admin-ws","dir":"g2c","x":`,
		`{"id":7,"gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"id":"0","gateway":"","":06,"transport":"s","dir":"c"}`,
		`{"v":-,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":-0,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"v":1e3,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := schema.RouteFields(data)
		if !ok {
			return // DecodeRoute is routeDecode
		}
		slow, err := schema.RouteDecode(data)
		if err != nil || fast.ID != slow.ID || fast.Gateway != slow.Gateway || fast.Transport != slow.Transport || fast.Direction != slow.Direction {
			t.Fatalf("routeFields(%q) = %q %q %q %q; routeDecode = %q %q %q %q, %v", data,
				fast.ID, fast.Gateway, fast.Transport, fast.Direction, slow.ID, slow.Gateway, slow.Transport, slow.Direction, err)
		}
	})
}
