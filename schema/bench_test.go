package schema_test

import (
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// benchEvent is the echotest event with its SDP answer, about 1 KB, as the
// tap records it from a long poll.
func benchEvent(b *testing.B) *schema.Event {
	j, err := schema.ParseJanus([]byte(eventAnswer))
	if err != nil {
		b.Fatal(err)
	}
	return &schema.Event{
		V: 1, ID: "01KAV5Q7RCA1B2C3D4E5F6G7H8", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000041", Seq: 3,
		Time: time.Date(2026, 11, 24, 14, 0, 0, 187_000_000, time.UTC), Mono: 5_187_002_410,
		Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.PollEvent,
		Method: "GET", Path: "/janus/6635366682236306", Query: "rid=1795528799871&maxev=10", Status: 200,
		Header: map[string]string{"Content-Type": "application/json", "Transfer-Encoding": "chunked",
			"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "86400"},
		Parent: "01KAV5Q7QZ9Y8X7W6V5T4S3R2Q",
		Body:   []byte(eventAnswer), BodySize: len(eventAnswer),
		Janus: j,
	}
}

func BenchmarkEncode(b *testing.B) {
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Encode(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	enc, err := schema.Encode(benchEvent(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJanus(b *testing.B) {
	body := []byte(eventAnswer)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.ParseJanus(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitArray splits a long-poll answer of three events (maxev=10).
func BenchmarkSplitArray(b *testing.B) {
	body := []byte(pollBatch)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := schema.SplitArray(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitObjects splits a WebSocket frame holding one event with an
// SDP, the common case.
func BenchmarkSplitObjects(b *testing.B) {
	frame := []byte(eventAnswer)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.SplitObjects(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	for _, bb := range []struct {
		name string
		body string
	}{
		{"no_secret", eventAnswer}, // the common case: nothing to do
		{"offer", messageOffer},    // a request with an SDP
		{"admin", `{"janus":"add_token","token":"a1b2c3","plugins":["janus.plugin.echotest"],"admin_secret":"janusoverlord","transaction":"t"}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(bb.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				schema.Redact(body, schema.SecretKeys)
			}
		})
	}
}

func BenchmarkIDGen(b *testing.B) {
	var g schema.IDGen
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		g.New(now)
	}
}
