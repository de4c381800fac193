package janus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/janustap/janustap/schema"
)

// The plugins the scripted flows use.
const (
	EchoTest  = "janus.plugin.echotest"
	VideoRoom = "janus.plugin.videoroom"
	TextRoom  = "janus.plugin.textroom"
)

// OfferSDP is an audio+video offer of the shape Chromium makes. Janus
// accepts it and answers; no media flows, since nothing answers ICE.
const OfferSDP = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=msid-semantic: WMS stream\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:stream audio0\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=ssrc:1001 cname:tap\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:stream video0\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 nack\r\n" +
	"a=rtcp-fb:96 nack pli\r\n" +
	"a=ssrc:2001 cname:tap\r\n"

// SimulcastOfferSDP is OfferSDP with its video sent in three simulcast
// layers, as Chromium offers with janus.js's simulcast on: a=rid:h/m/l
// send, a=simulcast:send h;m;l, and the mid and rid header extensions
// (no a=ssrc: the layers are told apart by their rid).
var SimulcastOfferSDP = strings.Replace(OfferSDP, "a=ssrc:2001 cname:tap\r\n",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"+
		"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"+
		"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"+
		"a=rid:h send\r\n"+
		"a=rid:m send\r\n"+
		"a=rid:l send\r\n"+
		"a=simulcast:send h;m;l\r\n", 1)

// Offer returns OfferSDP as a jsep.
func Offer() map[string]any { return map[string]any{"type": "offer", "sdp": OfferSDP} }

// expect checks a reply's janus type.
func expect(j *schema.Janus, r Reply, typ string) error {
	if j == nil || j.Janus != typ {
		return fmt.Errorf("want %s, got %s", typ, strings.TrimSpace(string(r.Body)))
	}
	return nil
}

// call sends a plugin message Janus answers at once and checks that the
// answer is "success"; what names the step in errors.
func call(ctx context.Context, s *Session, h uint64, body map[string]any, what string) (*schema.Janus, error) {
	j, r, err := s.Message(ctx, h, body, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := expect(j, r, "success"); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return j, nil
}

// async sends a plugin message (with jsep, if not nil) that Janus acks, and
// returns the event that answers it; what names the step in errors.
func async(ctx context.Context, s *Session, h uint64, body, jsep map[string]any, what string) (*schema.Janus, error) {
	j, r, err := s.Message(ctx, h, body, jsep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := expect(j, r, "ack"); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	_, ev, err := s.WaitEvent(ctx, ForTx(j.Transaction))
	if err != nil {
		return nil, fmt.Errorf("%s event: %w", what, err)
	}
	return ev, nil
}

// acked sends a core request Janus acks (trickle, keepalive).
func acked(ctx context.Context, s *Session, verb string, h uint64, fields map[string]any, what string) error {
	j, r, err := s.Request(ctx, verb, h, fields)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := expect(j, r, "ack"); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// RunEchoTest runs the echotest flow on a created session: attach, message
// without and with jsep (waiting for each event), trickle, keepalive, detach.
func RunEchoTest(ctx context.Context, s *Session) error {
	h, err := s.Attach(ctx, EchoTest, map[string]any{"opaque_id": "echotest-" + NewTx()})
	if err != nil {
		return err
	}
	if _, err := async(ctx, s, h, map[string]any{"audio": true, "video": true}, nil, "echotest message"); err != nil {
		return err
	}
	if ev, err := async(ctx, s, h, map[string]any{"audio": true, "video": true, "bitrate": 256000}, Offer(), "echotest offer"); err != nil {
		return err
	} else if ev.JSEP != "answer" {
		return fmt.Errorf("echotest answer: event has jsep %q", ev.JSEP)
	}
	cand := map[string]any{"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0", "sdpMid": "0", "sdpMLineIndex": 0}
	if err := acked(ctx, s, "trickle", h, map[string]any{"candidate": cand}, "trickle"); err != nil {
		return err
	}
	if err := acked(ctx, s, "trickle", h, map[string]any{"candidate": map[string]any{"completed": true}}, "trickle completed"); err != nil {
		return err
	}
	if err := acked(ctx, s, "keepalive", 0, nil, "keepalive"); err != nil {
		return err
	}
	return detach(ctx, s, h)
}

func detach(ctx context.Context, s *Session, h uint64) error {
	j, r, err := s.Request(ctx, "detach", h, nil)
	if err != nil {
		return err
	}
	if err := expect(j, r, "success"); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "detached" && j.Sender == h }); err != nil {
		return fmt.Errorf("detached: %w", err)
	}
	return nil
}

// RunVideoRoom creates a room, joins it as a publisher with an offer, lists
// participants, leaves and destroys the room.
func RunVideoRoom(ctx context.Context, s *Session) error {
	h, err := s.Attach(ctx, VideoRoom, nil)
	if err != nil {
		return err
	}
	room := 100000 + rand.IntN(1<<30)
	if j, err := call(ctx, s, h, map[string]any{"request": "create", "room": room, "description": "janustap"}, "videoroom create"); err != nil {
		return err
	} else if j.PluginValue != "created" {
		return fmt.Errorf("videoroom create: got %s/%s", j.PluginKey, j.PluginValue)
	}
	if _, err := call(ctx, s, h, map[string]any{"request": "exists", "room": room}, "videoroom exists"); err != nil {
		return err
	}
	if ev, err := async(ctx, s, h, map[string]any{"request": "join", "ptype": "publisher", "room": room, "display": "tap"}, nil, "videoroom join"); err != nil {
		return err
	} else if ev.PluginValue != "joined" {
		return fmt.Errorf("videoroom joined: got %s/%s", ev.PluginKey, ev.PluginValue)
	}
	if ev, err := async(ctx, s, h, map[string]any{"request": "configure", "audio": true, "video": true}, Offer(), "videoroom configure"); err != nil {
		return err
	} else if ev.JSEP != "answer" {
		return fmt.Errorf("videoroom configured: jsep %q", ev.JSEP)
	}
	// A sync request that fails at plugin level: the room exists already.
	if j, r, err := s.Message(ctx, h, map[string]any{"request": "create", "room": room}, nil); err != nil {
		return err
	} else if j == nil || j.PluginError != 427 {
		return fmt.Errorf("videoroom create twice: want error 427, got %s", r.Body)
	}
	if _, err := call(ctx, s, h, map[string]any{"request": "listparticipants", "room": room}, "videoroom listparticipants"); err != nil {
		return err
	}
	if _, err := call(ctx, s, h, map[string]any{"request": "destroy", "room": room}, "videoroom destroy"); err != nil {
		return err
	}
	return detach(ctx, s, h)
}

// RunTextRoom lists, creates and destroys a text room and asks for the data
// channel offer (setup), which Janus sends as an event with a jsep.
func RunTextRoom(ctx context.Context, s *Session) error {
	h, err := s.Attach(ctx, TextRoom, nil)
	if err != nil {
		return err
	}
	room := 100000 + rand.IntN(1<<30)
	if _, err := call(ctx, s, h, map[string]any{"request": "create", "room": room, "description": "janustap"}, "textroom create"); err != nil {
		return err
	}
	if _, err := call(ctx, s, h, map[string]any{"request": "list"}, "textroom list"); err != nil {
		return err
	}
	if ev, err := async(ctx, s, h, map[string]any{"request": "setup"}, nil, "textroom setup"); err != nil {
		return err
	} else if ev.JSEP != "offer" {
		return fmt.Errorf("textroom offer: jsep %q", ev.JSEP)
	}
	if _, err := call(ctx, s, h, map[string]any{"request": "destroy", "room": room}, "textroom destroy"); err != nil {
		return err
	}
	return detach(ctx, s, h)
}

// RunErrors sends the requests Janus refuses: an unknown handle, malformed
// JSON, a missing transaction, an unknown verb. Each must be answered with a
// Janus error.
func RunErrors(ctx context.Context, s *Session) error {
	checks := []struct {
		name   string
		body   []byte
		handle uint64
		code   int
	}{
		{"unknown handle", []byte(`{"janus":"message","body":{},"transaction":"e-nohandle"` + s.idFields(1) + `}`), 1, 459},
		{"missing transaction", []byte(`{"janus":"keepalive"` + s.idFields(0) + `}`), 0, 456},
		{"unknown verb", []byte(`{"janus":"bogus","transaction":"e-bogus"` + s.idFields(0) + `}`), 0, 453},
		{"malformed json", []byte(`{"janus":"keepalive","transaction":`), 0, 454},
	}
	for _, c := range checks {
		j, r, err := s.Raw(ctx, c.body, c.handle)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if j == nil || j.Janus != "error" || j.ErrorCode != c.code {
			return fmt.Errorf("%s: want error %d, got %s", c.name, c.code, r.Body)
		}
	}
	return nil
}

// idFields returns the id fields a WebSocket body needs (",\"session_id\":S").
func (s *Session) idFields(handle uint64) string {
	if !s.WS {
		return ""
	}
	f := fmt.Sprintf(`,"session_id":%d`, s.ID)
	if handle != 0 {
		f += fmt.Sprintf(`,"handle_id":%d`, handle)
	}
	return f
}

// Destroy destroys the session.
func (s *Session) Destroy(ctx context.Context) error {
	if hc, ok := s.C.(*HTTPClient); ok {
		hc.StopPoll(s.ID)
	}
	j, r, err := s.Request(ctx, "destroy", 0, nil)
	if err != nil {
		return err
	}
	return expect(j, r, "success")
}

// UnknownSession sends a keepalive on a session that does not exist, which
// Janus answers with error 458.
func UnknownSession(ctx context.Context, c Client, ws bool) error {
	s := &Session{C: c, WS: ws, ID: 1}
	j, r, err := s.Request(ctx, "keepalive", 0, nil)
	if err != nil {
		return err
	}
	if j == nil || j.ErrorCode != 458 {
		return fmt.Errorf("keepalive on unknown session: want error 458, got %s", r.Body)
	}
	return nil
}
