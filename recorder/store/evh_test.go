package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// janusEvents makes the events Janus's sampleevh reports of an echotest
// with media on session sess and handle hand, as Janus 1.1.2 words them
// (shortened SDPs), the first stamped jt0 on Janus's clock and received by
// the tap lag later; then hangup, detach and destroy, or, with iceFails,
// ICE failing after the candidates.
func janusEvents(gw string, sess, hand uint64, jt0 time.Time, lag time.Duration, iceFails bool) []*schema.Event {
	const tmpl = `{"emitter":"MyJanusInstance","type":%d,"subtype":%d,"timestamp":%d,"session_id":%d,"handle_id":%d,"opaque_id":"echo-A","event":%s}`
	type ev struct {
		typ, sub int
		body     string
	}
	evs := []ev{
		{schema.EvhSession, 0, `{"name":"created","transport":{"transport":"janus.transport.http","id":"3044796962901722807"}}`},
		{schema.EvhHandle, 0, `{"name":"attached","plugin":"janus.plugin.echotest","opaque_id":"echo-A"}`},
		{schema.EvhJSEP, 0, `{"owner":"remote","jsep":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}`},
		{schema.EvhWebRTC, 1, `{"ice":"gathering","stream_id":1,"component_id":1}`},
		{schema.EvhWebRTC, 2, `{"local-candidate":"1 1 udp 2015363327 192.0.2.2 40374 typ host","stream_id":1,"component_id":0}`},
		{schema.EvhJSEP, 0, `{"owner":"local","jsep":{"type":"answer","sdp":"v=0\r\no=- 9 2 IN IP4 192.0.2.2\r\n"}}`},
		{schema.EvhWebRTC, 3, `{"remote-candidate":"2255901296 1 udp 2122194687 192.0.2.2 43745 typ host generation 0","stream_id":1,"component_id":1}`},
		{schema.EvhWebRTC, 1, `{"ice":"connecting","stream_id":1,"component_id":1}`},
	}
	if iceFails {
		evs = append(evs, ev{schema.EvhWebRTC, 1, `{"ice":"failed","stream_id":1,"component_id":1}`},
			ev{schema.EvhWebRTC, 6, `{"connection":"hangup","reason":"ICE failed"}`})
	} else {
		evs = append(evs,
			ev{schema.EvhWebRTC, 1, `{"ice":"connected","stream_id":1,"component_id":1}`},
			ev{schema.EvhWebRTC, 4, `{"selected-pair":"192.0.2.2:40374 [host,udp] <-> 192.0.2.2:43745 [host,udp]","candidates":{"local":{"address":"192.0.2.2","port":40374,"type":"host","transport":"udp","family":4},"remote":{"address":"192.0.2.2","port":43745,"type":"host","transport":"udp","family":4}},"stream_id":1,"component_id":1}`},
			ev{schema.EvhWebRTC, 5, `{"dtls":"trying","stream_id":1,"component_id":1,"retransmissions":0}`},
			ev{schema.EvhWebRTC, 1, `{"ice":"ready","stream_id":1,"component_id":1}`},
			ev{schema.EvhWebRTC, 5, `{"dtls":"connected","stream_id":1,"component_id":1,"retransmissions":0}`},
			ev{schema.EvhWebRTC, 6, `{"connection":"webrtcup"}`},
			ev{schema.EvhMedia, 1, `{"media":"audio","mid":"0","receiving":true}`},
			ev{schema.EvhMedia, 1, `{"media":"video","mid":"1","receiving":true}`},
			ev{schema.EvhMedia, 3, `{"mid":"0","mindex":0,"media":"audio","codec":"opus","base":48000,"rtt":3,"lost":0,"lost-by-remote":0,"jitter-local":10,"jitter-remote":0,"packets-received":25,"packets-sent":25,"bytes-received":1836,"bytes-sent":1736,"nacks-received":0,"nacks-sent":0}`},
			ev{schema.EvhMedia, 3, `{"mid":"0","mindex":0,"media":"audio","codec":"opus","base":48000,"rtt":7,"lost":2,"lost-by-remote":1,"jitter-local":12,"jitter-remote":0,"packets-received":75,"packets-sent":74,"bytes-received":5500,"bytes-sent":5400,"nacks-received":0,"nacks-sent":1}`},
			ev{schema.EvhMedia, 2, `{"media":"video","mid":"1","slow_link":"uplink","lost_lastsec":12}`},
			ev{schema.EvhMedia, 1, `{"media":"video","mid":"1","receiving":false}`},
			ev{schema.EvhWebRTC, 6, `{"connection":"hangup","reason":"Close PC"}`},
		)
	}
	evs = append(evs, ev{schema.EvhHandle, 0, `{"name":"detached","plugin":"janus.plugin.echotest","opaque_id":"echo-A"}`},
		ev{schema.EvhSession, 0, `{"name":"destroyed"}`})
	var out []*schema.Event
	for i, e := range evs {
		jt := jt0.Add(time.Duration(i) * 10 * time.Millisecond)
		h := hand
		if e.typ == schema.EvhSession {
			h = 0
		}
		body := fmt.Sprintf(tmpl, e.typ, e.sub, jt.UnixMicro(), sess, h, e.body)
		if h == 0 {
			body = strings.Replace(body, `,"handle_id":0,"opaque_id":"echo-A"`, "", 1)
		}
		env, err := schema.ParseEvhEnvelope([]byte(body))
		if err != nil {
			panic(err)
		}
		ev := &schema.Event{Tap: "tap1", Conn: fmt.Sprintf("tap1-e%d", i+1), Seq: 1, Time: jt.Add(lag), Method: "POST", Path: "/"}
		schema.EvhEvent(ev, gw, env, []byte(body))
		out = append(out, ev)
	}
	return out
}

// TestJanusEvents projects Janus's own events of the scenario's HTTP
// echotest beside its signaling, and a second handle whose ICE failed.
func TestJanusEvents(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	// Janus's clock is 250 ms behind the tap's; its events reach the tap
	// 5 ms after it stamps them, or sooner than the create's answer.
	const behind = 250 * time.Millisecond
	evs := slices.Clone(sc.events)
	evs = append(evs, janusEvents("gw1", sc.s1, sc.h1, t0.Add(2*time.Millisecond-behind-300*time.Microsecond), behind+5*time.Millisecond, false)...)
	failed := janusEvents("gw1", sc.s1, 777, t0.Add(time.Second-behind), behind+5*time.Millisecond, true)
	failed = failed[1 : len(failed)-1] // the session's created and destroyed are the first handle's
	evs = append(evs, failed...)
	// A retried POST: the same events again, later in the stream.
	evs = append(evs, failed[:3]...)
	all := items(1, evs)
	db := openDB(t)
	apply(t, db, all)

	off, n, err := db.JanusClock(ctx, "gw1")
	if err != nil {
		t.Fatal(err)
	}
	// The create's answer, 300 µs after Janus made the session, is the
	// closest pair.
	if got, want := off, behind+300*time.Microsecond; got != want || n == 0 {
		t.Errorf("clock offset %v from %d samples, want %v", got, n, want)
	}

	hs, err := db.JanusHandles(ctx, "gw1", sc.s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("%d janus handles, want 2: %+v", len(hs), hs)
	}
	h := hs[0]
	if h.ID != sc.h1 || h.Plugin != "janus.plugin.echotest" || h.OpaqueID != "echo-A" ||
		!slices.Equal(h.ICEStates, []string{"gathering", "connecting", "connected", "ready"}) || h.ICEState != "ready" ||
		h.ICEConnectedAt.IsZero() || !h.ICEFailedAt.IsZero() || h.LocalCandidates != 1 || h.RemoteCandidates != 1 ||
		h.LocalType != "host" || h.RemoteType != "host" || !strings.Contains(h.SelectedPair, "<->") ||
		!slices.Equal(h.DTLSStates, []string{"trying", "connected"}) || h.DTLSConnectedAt.IsZero() ||
		h.WebRTCUpAt.IsZero() || h.HangupReason != "Close PC" || !slices.Equal(h.Receiving, []string{"0"}) ||
		h.ReceivingAt.IsZero() || h.MediaEvents != 3 || h.Slowlinks != 1 || h.Stats != 2 ||
		!strings.HasPrefix(h.RemoteSDP, "v=0") || !strings.Contains(h.LocalSDP, "192.0.2.2") || h.DetachedAt.IsZero() {
		t.Errorf("janus handle 1: %+v", h)
	}
	// Janus's webrtcup, corrected to the tap's clock, is near the one the
	// signaling recorded: within the events' spacing.
	if !h.WebRTCUpAt.After(t0) {
		t.Errorf("webrtcup at %v, before the session was created (%v)", h.WebRTCUpAt, t0)
	}
	f := hs[1]
	if f.ID != 777 || f.ICEState != "failed" || f.ICEFailedAt.IsZero() || !f.WebRTCUpAt.IsZero() || f.HangupReason != "ICE failed" {
		t.Errorf("janus handle 777: %+v", f)
	}

	js, err := db.JanusSession(ctx, "gw1", sc.s1)
	if err != nil || js == nil {
		t.Fatalf("janus session: %+v, %v", js, err)
	}
	if js.Transport != "janus.transport.http" || js.CreatedAt.IsZero() || js.DestroyedAt.IsZero() || !js.TimeoutAt.IsZero() {
		t.Errorf("janus session: %+v", js)
	}
	st, err := db.JanusStats(ctx, "gw1", sc.s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Samples != 2 || st[0].MaxRTT != 7 || st[0].Lost != 2 || st[0].BytesReceived != 5500 || st[0].Codec != "opus" {
		t.Errorf("stats: %+v", st)
	}

	// The retried events are stored once.
	c, err := db.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Events, len(evs)-3; got != want {
		t.Errorf("%d events stored, want %d", got, want)
	}

	// The timeline has them in corrected time order, with both clocks.
	tl, err := db.Timeline(ctx, "gw1", sc.s1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(tl, func(a, b TimelineEntry) int { return a.Time.Compare(b.Time) }) {
		t.Error("timeline not in time order")
	}
	var b bytes.Buffer
	if err := WriteTimeline(&b, tl, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{"webrtc-ice", "evh", "janus", "connected", "janus_clock=09:59:59.831700"},
		{"webrtc-pc", "webrtcup"},
		{"webrtc-pc", "hangup", "Close PC"},
		{"media-stats", "mid=0 audio rtt=7 lost=2 in=5500B out=5400B"},
		{"webrtc-pair", "192.0.2.2:40374 [host,udp] <-> 192.0.2.2:43745 [host,udp]"},
	} {
		if !slices.ContainsFunc(strings.Split(b.String(), "\n"), func(line string) bool {
			return !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(line, w) })
		}) {
			t.Errorf("timeline has no line with %q:\n%s", want, b.String())
		}
	}

	// However the stream is cut into batches, the same database.
	for _, size := range []int{1, 3, 7} {
		t.Run(fmt.Sprint("batch", size), func(t *testing.T) {
			cut := openDB(t)
			for start := 0; start < len(all); start += size {
				apply(t, cut, all[start:min(start+size, len(all))])
			}
			if err := Equal(ctx, db, cut); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestJanusCandidatesAndStatsSeries reads the candidates and the media
// statistics of the echotest scenario's handle back in Janus's order.
func TestJanusCandidatesAndStatsSeries(t *testing.T) {
	ctx := t.Context()
	sc := newScenario()
	evs := slices.Clone(sc.events)
	evs = append(evs, janusEvents("gw1", sc.s1, sc.h1, t0.Add(time.Millisecond), 5*time.Millisecond, false)...)
	db := openDB(t)
	apply(t, db, items(1, evs))

	cands, err := db.JanusCandidates(ctx, "gw1", sc.s1)
	if err != nil {
		t.Fatal(err)
	}
	want := []JanusCandidate{
		{HandleID: sc.h1, Side: "local", Type: "host", Protocol: "udp", Address: "192.0.2.2:40374"},
		{HandleID: sc.h1, Side: "remote", Type: "host", Protocol: "udp", Address: "192.0.2.2:43745"},
	}
	if len(cands) != len(want) {
		t.Fatalf("candidates %+v, want %+v", cands, want)
	}
	for i, c := range cands {
		w := want[i]
		if c.HandleID != w.HandleID || c.Side != w.Side || c.Type != w.Type || c.Protocol != w.Protocol || c.Address != w.Address || c.Time.IsZero() || c.Line == "" {
			t.Errorf("candidate %d = %+v, want %+v", i, c, w)
		}
	}

	stats, err := db.JanusStatsSeries(ctx, "gw1", sc.s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 {
		t.Fatalf("%d stats samples, want 2: %+v", len(stats), stats)
	}
	if s := stats[0]; s.Mid != "0" || s.Media != "audio" || s.RTT != 3 || s.Lost != 0 || s.BytesReceivedLastSec != -1 {
		t.Errorf("first sample %+v, want mid 0 audio rtt 3 lost 0, bitrate not reported (-1)", s)
	}
	if s := stats[1]; s.RTT != 7 || s.Lost != 2 || s.LostByRemote != 1 || s.Jitter != 12 || !s.Time.After(stats[0].Time) {
		t.Errorf("second sample %+v, want rtt 7 lost 2 by remote 1 jitter 12, after the first", s)
	}
}

func TestParseCandidate(t *testing.T) {
	tests := []struct{ line, typ, proto, addr string }{
		{"1 1 udp 2015363327 192.0.2.2 40374 typ host", "host", "udp", "192.0.2.2:40374"},
		{"candidate:842163049 1 UDP 1677729535 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 61000", "srflx", "udp", "203.0.113.7:61000"},
		{"3 1 tcp 1010 2001:db8::1 9 typ host tcptype active", "host", "tcp", "[2001:db8::1]:9"},
		{"garbage", "", "", ""},
	}
	for _, tt := range tests {
		typ, proto, addr := parseCandidate(tt.line)
		if typ != tt.typ || proto != tt.proto || addr != tt.addr {
			t.Errorf("parseCandidate(%q) = %q %q %q, want %q %q %q", tt.line, typ, proto, addr, tt.typ, tt.proto, tt.addr)
		}
	}
}
