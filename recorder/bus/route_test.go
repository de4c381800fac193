package bus

import (
	"bytes"
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
