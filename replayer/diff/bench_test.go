package diff_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// configuredEvent is a videoroom publisher's "configured" event carrying the
// answer to a Chromium offer (audio, video with simulcast-free VP8 and its
// retransmissions, header extensions): about 3 KB, like the largest messages
// of a signaling flow.
const configuredEvent = `{
   "janus": "event",
   "session_id": 5044755818774270,
   "transaction": "Xk2rT9c2",
   "sender": 2415509775524012,
   "plugindata": {
      "plugin": "janus.plugin.videoroom",
      "data": {
         "videoroom": "event",
         "room": 4242,
         "configured": "ok",
         "audio_codec": "opus",
         "video_codec": "vp8",
         "streams": [
            {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus", "stereo": false, "fec": true},
            {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8", "simulcast": false}
         ]
      }
   },
   "jsep": {
      "type": "answer",
      "sdp": "v=0\r\no=- 4611731400430051336 2 IN IP4 192.0.2.2\r\ns=VideoRoom 4242\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=ice-options:trickle\r\na=fingerprint:sha-256 F9:CD:91:AD:2D:9D:D2:43:14:DE:50:96:6C:13:F1:07:9B:25:B1:91:6F:3B:B1:66:57:0C:E6:A8:08:D7:6A:56\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS *\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.2\r\na=recvonly\r\na=mid:0\r\na=rtcp-mux\r\na=ice-ufrag:d2Pr\r\na=ice-pwd:AwRhK30ns0O3vGxRPn+Unh\r\na=ice-options:trickle\r\na=setup:active\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtcp-fb:111 transport-cc\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=msid:janus janus0\r\na=ssrc:2767441072 cname:janus\r\na=candidate:1 1 udp 2015363327 192.0.2.2 42584 typ host\r\na=candidate:2 1 tcp 1015885823 192.0.2.2 9 typ host tcptype active\r\na=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 192.0.2.2\r\na=recvonly\r\na=mid:1\r\na=rtcp-mux\r\na=ice-ufrag:d2Pr\r\na=ice-pwd:AwRhK30ns0O3vGxRPn+Unh\r\na=ice-options:trickle\r\na=setup:active\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\na=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=extmap:12 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=msid:janus janus1\r\na=ssrc-group:FID 3122529719 1370290409\r\na=ssrc:3122529719 cname:janus\r\na=ssrc:1370290409 cname:janus\r\na=candidate:1 1 udp 2015363327 192.0.2.2 42584 typ host\r\na=candidate:2 1 tcp 1015885823 192.0.2.2 9 typ host tcptype active\r\na=end-of-candidates\r\n"
   }
}`

func BenchmarkNormalise(b *testing.B) {
	body := []byte(configuredEvent)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := diff.Normalise(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// longFlow is an echotest of about 200 messages: create, attach, then 32
// renegotiations with a trickle each, detach and destroy.
func longFlow() string {
	var s strings.Builder
	s.WriteString(`
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.echotest","transaction":"{tx}a1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
`)
	for i := range 32 {
		fmt.Fprintf(&s, `
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"audio":true,"video":true},"jsep":{"type":"offer","sdp":"{OFFER}"},"transaction":"{tx}m%[1]d"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}m%[1]d","hint":"I'm taking my time!"}
< @{answer} | "transaction": "{tx}m2" => "transaction": "{tx}m%[1]d"
> {"janus":"trickle","session_id":{S},"handle_id":{H},"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5%[1]04d typ host generation 0","sdpMid":"0","sdpMLineIndex":0},"transaction":"{tx}t%[1]d"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}t%[1]d"}
< {"janus":"media","session_id":{S},"sender":{H},"mid":"0","type":"audio","receiving":true}
`, i)
	}
	s.WriteString(`
> {"janus":"detach","session_id":{S},"handle_id":{H},"transaction":"{tx}d1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d1"}
< {"janus":"detached","session_id":{S},"sender":{H}}
> {"janus":"destroy","session_id":{S},"transaction":"{tx}d2"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d2"}
`)
	return s.String()
}

func BenchmarkCompare(b *testing.B) {
	flow := longFlow()
	a, c := script(b, flow, runA), script(b, flow, runB)
	if len(a) < 200 || len(c) < 200 {
		b.Fatalf("flows of %d and %d messages, want 200", len(a), len(c))
	}
	if r := diff.Compare(a, c, nil, diff.Options{}); !r.Same {
		b.Fatalf("runs differ: %+v", r.FirstDivergence)
	}
	b.ReportAllocs()
	for b.Loop() {
		diff.Compare(a, c, nil, diff.Options{})
	}
}
