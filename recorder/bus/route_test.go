package bus

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/janustap/janustap/schema"
)

func testEvent(body []byte) *schema.Event {
	return &schema.Event{
		ID: "01JD0000000000000000000000", Gateway: "lab.1", Conn: "c1", Seq: 1,
		Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Transport: schema.WS, Direction: schema.ToClient,
		Kind: schema.Frame, Body: body, Header: map[string]string{"Origin": "https://example.com"},
		Janus: &schema.Janus{Janus: "event", Transaction: "t1"},
	}
}

func TestRoute(t *testing.T) {
	ev := testEvent([]byte(`{"janus":"event"}`))
	b, err := schema.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	subject, id, err := route("janustap", b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := subject, ev.Subject("janustap"); got != want {
		t.Errorf("subject %s, want %s", got, want)
	}
	if got, want := id, ev.ID; got != want {
		t.Errorf("id %s, want %s", got, want)
	}

	for _, bad := range []string{
		``, `[]`, `"x"`, `{`, `{"id":`, `{"id":"A","transport":"ws"`,
		`{"gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"id":"A","gateway":"g","transport":"","dir":"c2g"}`,
		`{"id":"A","gateway":"g","transport":"ws","dir":"*"}`,
		`{"id":7,"gateway":"g","transport":"ws","dir":"c2g"}`,
		`{"id":"0","gateway":"","":06,"transport":"s","dir":"c"}`,
		`{"v":-,"id":"A","gateway":"g","transport":"ws","dir":"c2g"}`,
	} {
		if subject, id, err := route("janustap", []byte(bad)); err == nil {
			t.Errorf("route(%q) = %s, %s; want an error", bad, subject, id)
		}
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"ascii", bytes.Repeat([]byte("abcdefgh"), 4096)},
		{"escaped", bytes.Repeat([]byte("\"\\\n<"), 8192)},
		{"multibyte", []byte(strings.Repeat("é€😀", 4096))},
		{"binary", bytes.Repeat([]byte{0xff, 0xfe, 0x00}, 8192)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := schema.Encode(testEvent(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for _, limit := range []int{len(data) - 1, len(data) / 2, 2000} {
				got, err := fit(data, limit)
				if err != nil {
					t.Fatalf("fit to %d: %v", limit, err)
				}
				if len(got) > limit || len(got) < limit*9/10 {
					t.Errorf("fit to %d: %d bytes, want a little less than %d", limit, len(got), limit)
				}
				ev, err := schema.Decode(got)
				if err != nil {
					t.Fatal(err)
				}
				if !ev.Truncated || ev.BodySize != len(tc.body) || len(ev.BodySHA256) != 64 || !bytes.HasPrefix(tc.body, ev.Body) {
					t.Errorf("fit to %d: truncated %v, size %d, sha256 %q, body a prefix: %v", limit, ev.Truncated, ev.BodySize, ev.BodySHA256, bytes.HasPrefix(tc.body, ev.Body))
				}
				if utf8.Valid(tc.body) && !utf8.Valid(ev.Body) {
					t.Errorf("fit to %d cut a character in two", limit)
				}
			}
		})
	}

	t.Run("too-small", func(t *testing.T) {
		data, _ := schema.Encode(testEvent([]byte("body")))
		if _, err := fit(data, 100); err == nil {
			t.Error("fit an event into 100 bytes")
		}
	})
}

func BenchmarkRoute(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		data, err := schema.Encode(testEvent(bytes.Repeat([]byte("a"), size)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := route("janustap", data); err != nil {
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

// FuzzRoute holds route, which reads Encode's layout directly, to
// routeDecode, which reads any JSON with encoding/json: the same subject and
// id, or both failing.
func FuzzRoute(f *testing.F) {
	for _, body := range []string{`{"janus":"event"}`, "\xff", ""} {
		b, err := schema.Encode(testEvent([]byte(body)))
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
		s1, id1, err1 := route("janustap", data)
		s2, id2, err2 := routeDecode("janustap", data)
		if (err1 != nil) != (err2 != nil) || s1 != s2 || id1 != id2 {
			t.Fatalf("route(%q) = %q, %q, %v; routeDecode = %q, %q, %v", data, s1, id1, err1, s2, id2, err2)
		}
	})
}
