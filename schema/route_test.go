package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/janustap/janustap/schema"
)

// TestDecodeRoute reads the routing fields of the golden events, as Encode
// lays them out and in other layouts, and refuses what has none.
func TestDecodeRoute(t *testing.T) {
	for name, ev := range goldenEvents(t) {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := json.Marshal(ev.ID)
		gw, _ := json.Marshal(ev.Gateway)
		for layout, data := range map[string][]byte{
			"encoded":     b,
			"other-order": fmt.Appendf(nil, `{"dir":%q,"body":"x","transport":%q,"gateway":%s,"id":%s}`, ev.Direction, ev.Transport, gw, id),
			"escaped":     fmt.Appendf(nil, `{"id":%s,"gateway":%s,"transport":"\u%04x%s","dir":%q}`, id, gw, ev.Transport[0], ev.Transport[1:], ev.Direction),
		} {
			got, err := schema.DecodeRoute(data)
			if err != nil {
				t.Errorf("%s, %s: %v", name, layout, err)
				continue
			}
			if got.ID != ev.ID || got.Gateway != ev.Gateway || got.Transport != ev.Transport || got.Direction != ev.Direction {
				t.Errorf("%s, %s: DecodeRoute = %q %q %q %q, want %q %q %q %q", name, layout, got.ID, got.Gateway, got.Transport, got.Direction,
					ev.ID, ev.Gateway, ev.Transport, ev.Direction)
			}
		}
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
		ev := benchEvent(b)
		ev.Body = bytes.Repeat([]byte("a"), size)
		data, err := schema.Encode(ev)
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
	for _, ev := range goldenEvents(f) {
		b, err := schema.Encode(ev)
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
