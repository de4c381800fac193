package bench

import (
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestCPUByPart builds a profile whose stacks name known functions and
// checks that each sample lands in the part the table promises: the first
// part, in order, that any frame of the stack matches.
func TestCPUByPart(t *testing.T) {
	var id uint64
	fns := map[string]*profile.Function{}
	loc := func(name string) *profile.Location {
		f, ok := fns[name]
		if !ok {
			id++
			f = &profile.Function{ID: id, Name: name}
			fns[name] = f
		}
		id++
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f}}}
	}
	// stack lists frames leaf first, as pprof does.
	stack := func(v int64, frames ...string) *profile.Sample {
		s := &profile.Sample{Value: []int64{1, v}}
		for _, f := range frames {
			s.Location = append(s.Location, loc(f))
		}
		return s
	}
	ms := int64(time.Millisecond)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			stack(10*ms, "syscall.Syscall", "github.com/janustap/janustap/recorder/spool.(*Spool).Append", "github.com/janustap/janustap/recorder.SpoolEmitter.Emit", "github.com/janustap/janustap/recorder/tap.(*Tap).emit"),
			stack(20*ms, "github.com/janustap/janustap/schema.appendString", "github.com/janustap/janustap/schema.Encode", "github.com/janustap/janustap/recorder/tap.(*Tap).emit"),
			stack(30*ms, "github.com/mattn/go-sqlite3._Cfunc_sqlite3_step", "github.com/janustap/janustap/recorder/store.(*DB).Apply", "github.com/janustap/janustap/recorder.(*Projector).Run"),
			stack(5*ms, "github.com/janustap/janustap/schema.Decode", "github.com/janustap/janustap/recorder.(*Projector).read"),
			stack(15*ms, "github.com/nats-io/nats-server/v2/server.(*stream).processInboundJetStreamMsg"),
			stack(8*ms, "syscall.write", "github.com/gorilla/websocket.(*Conn).WriteMessage", "github.com/janustap/janustap/recorder/tap.(*wsRelay).pump"),
			stack(7*ms, "syscall.write", "github.com/janustap/janustap/recorder/tap.(*serverConn).serve"),
			stack(3*ms, "github.com/janustap/janustap/schema.ParseJanus", "github.com/janustap/janustap/recorder/tap.(*Tap).newEvent"),
			stack(2*ms, "runtime.scanobject", "runtime.gcBgMarkWorker"),
			stack(1*ms, "main.main"),
		},
	}
	got := map[string]time.Duration{}
	var share float64
	for _, pc := range cpuByPart(p) {
		got[pc.Part] = pc.CPU
		share += pc.Share
	}
	want := map[string]time.Duration{
		"spool":                          10 * time.Millisecond,
		"event encoding":                 20 * time.Millisecond,
		"reader and projection (SQLite)": 35 * time.Millisecond,
		"NATS server (JetStream store, acks, dedupe)": 15 * time.Millisecond,
		"tap: WebSocket relay":                        8 * time.Millisecond,
		"tap: HTTP server and forwarding":             7 * time.Millisecond,
		"event fields (Janus parsing)":                3 * time.Millisecond,
		"garbage collector":                           2 * time.Millisecond,
		otherPart:                                     1 * time.Millisecond,
	}
	for part, d := range want {
		if got[part] != d {
			t.Errorf("%s: %v, want %v", part, got[part], d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parts %v, want %v", got, want)
	}
	if share < 0.999 || share > 1.001 {
		t.Errorf("shares sum to %v, want 1", share)
	}
}
