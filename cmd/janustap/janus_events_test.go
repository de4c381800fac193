package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// synthJanusEvents are Janus's own events of the synthetic sessions: the
// HTTP echotest's handle comes up with media and statistics, a handle of
// the WebSocket session fails ICE. Janus's clock is 40 ms behind the tap's.
func synthJanusEvents() []*schema.Event {
	const behind = 40 * time.Millisecond
	type ev struct {
		at              time.Duration // on the tap's clock, from synthStart
		typ, sub        int
		session, handle uint64
		body            string
	}
	S, H := uint64(synthHTTP), uint64(synthHandle)
	W, F := uint64(synthWS), uint64(4444444444444444)
	ms := time.Millisecond
	evs := []ev{
		{700 * time.Microsecond, schema.EvhSession, 0, S, 0, `{"name":"created","transport":{"transport":"janus.transport.http","id":"1"}}`},
		{2 * ms, schema.EvhHandle, 0, S, H, `{"name":"attached","plugin":"janus.plugin.echotest","opaque_id":"echo-1"}`},
		{4500 * time.Microsecond, schema.EvhJSEP, 0, S, H, `{"owner":"remote","jsep":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}`},
		{5 * ms, schema.EvhWebRTC, 1, S, H, `{"ice":"gathering","stream_id":1,"component_id":1}`},
		{6 * ms, schema.EvhJSEP, 0, S, H, `{"owner":"local","jsep":{"type":"answer","sdp":"v=0\r\n"}}`},
		{7 * ms, schema.EvhWebRTC, 3, S, H, `{"remote-candidate":"1 1 udp 2122194687 192.0.2.2 43745 typ host","stream_id":1,"component_id":1}`},
		{8 * ms, schema.EvhWebRTC, 1, S, H, `{"ice":"connecting","stream_id":1,"component_id":1}`},
		{9 * ms, schema.EvhWebRTC, 1, S, H, `{"ice":"connected","stream_id":1,"component_id":1}`},
		{9 * ms, schema.EvhWebRTC, 4, S, H, `{"selected-pair":"192.0.2.2:40374 [host,udp] <-> 192.0.2.2:43745 [host,udp]","candidates":{"local":{"type":"host"},"remote":{"type":"host"}}}`},
		{10 * ms, schema.EvhWebRTC, 5, S, H, `{"dtls":"trying"}`},
		{11 * ms, schema.EvhWebRTC, 5, S, H, `{"dtls":"connected"}`},
		{12 * ms, schema.EvhWebRTC, 6, S, H, `{"connection":"webrtcup"}`},
		{13 * ms, schema.EvhMedia, 1, S, H, `{"media":"audio","mid":"0","receiving":true}`},
		{500 * ms, schema.EvhMedia, 3, S, H, `{"mid":"0","media":"audio","codec":"opus","rtt":4,"lost":1,"jitter-local":9,"packets-received":50,"packets-sent":49,"bytes-received":4000,"bytes-sent":3900}`},
		{1000 * ms, schema.EvhMedia, 3, S, H, `{"mid":"0","media":"audio","codec":"opus","rtt":6,"lost":3,"jitter-local":11,"packets-received":100,"packets-sent":99,"bytes-received":8000,"bytes-sent":7900}`},
		{1014 * ms, schema.EvhHandle, 0, S, H, `{"name":"detached","plugin":"janus.plugin.echotest"}`},
		{1016 * ms, schema.EvhSession, 0, S, 0, `{"name":"destroyed"}`},

		{time.Minute + 10*ms, schema.EvhHandle, 0, W, F, `{"name":"attached","plugin":"janus.plugin.echotest","opaque_id":"echo-2"}`},
		{time.Minute + 11*ms, schema.EvhJSEP, 0, W, F, `{"owner":"remote","jsep":{"type":"offer","sdp":"v=0\r\n"}}`},
		{time.Minute + 12*ms, schema.EvhWebRTC, 1, W, F, `{"ice":"gathering"}`},
		{time.Minute + 40*ms, schema.EvhWebRTC, 1, W, F, `{"ice":"failed"}`},
		{time.Minute + 41*ms, schema.EvhWebRTC, 6, W, F, `{"connection":"hangup","reason":"ICE failed"}`},
	}
	var out []*schema.Event
	for i, e := range evs {
		jt := synthStart.Add(e.at - behind)
		body := fmt.Sprintf(`{"emitter":"MyJanusInstance","type":%d,"subtype":%d,"timestamp":%d,"session_id":%d`, e.typ, e.sub, jt.UnixMicro(), e.session)
		if e.handle != 0 {
			body += `,"handle_id":` + strconv.FormatUint(e.handle, 10)
		}
		body += `,"event":` + e.body + `}`
		env, err := schema.ParseEvhEnvelope([]byte(body))
		if err != nil {
			panic(err)
		}
		ev := &schema.Event{Tap: "tap-1", Conn: "tap-1-e" + strconv.Itoa(i+1), Seq: 1, Time: synthStart.Add(e.at + 2*ms), Method: "POST", Path: "/"}
		schema.EvhEvent(ev, "gw-a", env, []byte(body))
		out = append(out, ev)
	}
	return out
}

// withJanusEvents merges Janus's events into the synthetic signaling by
// the time the tap received them.
func withJanusEvents() []*schema.Event {
	evs := append(synthEvents(), synthJanusEvents()...)
	slices.SortStableFunc(evs, func(a, b *schema.Event) int { return a.Time.Compare(b.Time) })
	return evs
}

func TestQueryJanusEvents(t *testing.T) {
	db := projectEvents(t, withJanusEvents())
	S := strconv.Itoa(synthHTTP)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"show-http-janus", []string{"show", "--gateway", "gw-a", S}},
		{"show-http-janus-stats", []string{"show", "--gateway", "gw-a", "--stats", S}},
		{"show-http-janus-json", []string{"show", "--gateway", "gw-a", "--json", S}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--db", db}, tc.args[1:]...)
			golden.Check(t, filepath.Join("query", tc.name+".golden"), []byte(mustRun(t, args...)))
		})
	}
	t.Run("show-json", func(t *testing.T) {
		out := mustRun(t, "show", "--json", "--db", db, "--gateway", "gw-a", S)
		var v struct {
			Janus struct {
				ClockOffsetUS int64 `json:"clock_offset_us"`
				Handles       []struct {
					ICEState  string   `json:"ice_state"`
					ICEStates []string `json:"ice_states"`
					Stats     int      `json:"stats"`
				} `json:"handles"`
			} `json:"janus"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		// The create's answer reached the tap 800 µs after it left; Janus
		// made the session 100 µs before.
		if got, want := v.Janus.ClockOffsetUS, int64(40_100); got != want {
			t.Errorf("clock offset %d µs, want %d", got, want)
		}
		if len(v.Janus.Handles) != 1 || v.Janus.Handles[0].ICEState != "connected" || len(v.Janus.Handles[0].ICEStates) != 3 || v.Janus.Handles[0].Stats != 2 {
			t.Errorf("janus handles %+v", v.Janus.Handles)
		}
	})

	ids := func(t *testing.T, args ...string) []uint64 {
		t.Helper()
		out := mustRun(t, append([]string{"sessions", "--json", "--db", db}, args...)...)
		var rows []sessionJSON
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("sessions --json: %v\n%s", err, out)
		}
		var got []uint64
		for _, r := range rows {
			got = append(got, r.SessionID)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		args []string
		want []uint64
	}{
		{"ice-failed", []string{"--ice-failed"}, []uint64{synthWS}},
		{"no-webrtcup", []string{"--no-webrtcup"}, []uint64{synthWS}},
		{"hangup", []string{"--hangup", "ICE failed"}, []uint64{synthWS}},
		{"hangup-other", []string{"--hangup", "DTLS alert"}, nil},
		{"no-media", []string{"--no-media"}, []uint64{synthWS}},
		{"ice-failed-gw-b", []string{"--ice-failed", "--gateway", "gw-b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(t, tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("sessions %v = %v, want %v", tc.args, got, tc.want)
			}
		})
	}
	t.Run("tail", func(t *testing.T) {
		var b strings.Builder
		for _, ev := range synthJanusEvents() {
			b.WriteString(schema.Summary(ev) + "\n")
		}
		golden.Check(t, filepath.Join("query", "tail-janus.golden"), []byte(b.String()))
	})
}

// TestExportImportJanusEvents exports a session with Janus's events, as
// JSON Lines and as HAR, and imports the JSON Lines into a fresh log: the
// events keep their ids and go to their type's subject.
func TestExportImportJanusEvents(t *testing.T) {
	db := projectEvents(t, withJanusEvents())
	S := strconv.Itoa(synthHTTP)
	out := mustRun(t, "export", "--db", db, "--gateway", "gw-a", "--session", S, "--keep-host-details")
	got, err := replayer.ReadJSONL(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ev := range synthJanusEvents() {
		if ev.SessionID() == synthHTTP {
			want = append(want, ev.ID)
		}
	}
	var janus []*schema.Event
	for _, ev := range got {
		if ev.Kind == schema.JanusEvent {
			janus = append(janus, ev)
		}
	}
	if !slices.Equal(ids(janus), want) {
		t.Fatalf("exported janus events %v, want %v", ids(janus), want)
	}

	redacted := mustRun(t, "export", "--db", db, "--gateway", "gw-a", "--session", S)
	if strings.Contains(redacted, "192.0.2.2") {
		for _, l := range strings.Split(redacted, "\n") {
			if strings.Contains(l, "192.0.2.2") {
				t.Errorf("export without --keep-host-details keeps Janus's candidates and addresses: %s", l)
			}
		}
	}

	h := mustRun(t, "export", "--db", db, "--gateway", "gw-a", "--session", S, "--format", "har", "--keep-host-details")
	var doc struct {
		Log struct {
			JanusEvents []struct {
				ID    string          `json:"id"`
				Type  string          `json:"type"`
				Event json.RawMessage `json:"event"`
			} `json:"_janusEvents"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(h), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Log.JanusEvents) != len(want) || doc.Log.JanusEvents[0].Type != "session" ||
		!strings.Contains(string(doc.Log.JanusEvents[0].Event), `"created"`) {
		t.Errorf("HAR _janusEvents: %d, first %+v", len(doc.Log.JanusEvents), doc.Log.JanusEvents[:min(1, len(doc.Log.JanusEvents))])
	}

	s := bustest.Start(t)
	file := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "import", "--nats", s.ClientURL(), file)
	evs, subjects := logEvents(t, s.ClientURL())
	n := 0
	for i, ev := range evs {
		if ev.Kind != schema.JanusEvent {
			continue
		}
		n++
		if want := "janustap.gw-a.evh." + string(ev.Direction); subjects[i] != want {
			t.Errorf("janus event %s on %s, want %s", ev.ID, subjects[i], want)
		}
	}
	if n != len(want) {
		t.Errorf("%d janus events imported, want %d", n, len(want))
	}
}
