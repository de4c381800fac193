package diff_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// offerSDP is the audio+video offer the test client sends, as it stands in
// a JSON string (the line ends are the escapes \r\n). The replay sends it
// unchanged.
const offerSDP = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS stream\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\na=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=msid:stream audio0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1001 cname:tap\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\na=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\na=setup:actpass\r\na=mid:1\r\na=sendrecv\r\na=msid:stream video0\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=ssrc:2001 cname:tap\r\n`

// dcAnswerSDP is the client's answer to the textroom's data channel offer.
const dcAnswerSDP = `v=0\r\no=- 7051289347 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Wxyz\r\na=ice-pwd:zyxwvutsrqponmlkjihgfedc\r\na=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\na=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n`

// runA and runB hold what differs between two runs of the same flows: ids
// (the captured ones from a live Janus 1.1.2), transactions (janus.js makes
// random ones), the DTLS fingerprint (another Janus process), the host.
// The answer and offer files are two real captures that differ in ICE
// credentials, candidate ports, SSRCs and, for the server offer, the o= line.
var (
	runA = map[string]string{
		"S": "5044755818774270", "H": "2415509775524012", "ID": "6713301572521604", "P": "3060372547",
		"FP":     "F9:CD:91:AD:2D:9D:D2:43:14:DE:50:96:6C:13:F1:07:9B:25:B1:91:6F:3B:B1:66:57:0C:E6:A8:08:D7:6A:56",
		"tx":     "Xk2rT9",
		"answer": "echotest-answer-1.json", "offer": "textroom-offer-1.json",
		"INFO_TX": "a1B2c3D4e5F", "HOST": "192.0.2.2", "BUILT": "Fri Oct 10 09:12:44 AM UTC 2025",
		"OFFER": offerSDP, "DC_ANSWER": dcAnswerSDP, "EDIT": "", "MEDIA": "", "KA_SESSION": "{S}",
		"HANGUP":       `< {"janus":"hangup","session_id":{S},"sender":{H},"reason":"Janus API"}`,
		"ATTACHED":     `{"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}`,
		"JOIN_REPLIES": "{JOIN_ACK}\n{JOINED}",
		"JOIN_ACK":     `< {"janus":"ack","session_id":{S},"transaction":"{tx}j1"}`,
		"JOINED":       `< {"janus":"event","session_id":{S},"transaction":"{tx}j1","sender":{H},"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","room":4242,"description":"tap","id":{ID},"private_id":{P},"publishers":[]}}}`,
		"PARTICIPANTS": `{"videoroom":"participants","room":4242,"participants":[{"id":{ID},"display":"tap","publisher":false}]}`,
		"TIMEOUT":      "",
		"KA_REPLY":     `{"janus":"ack","session_id":{S},"transaction":"{tx}k1"}`,
		"DESTROYED":    `{"janus":"success","session_id":{S},"transaction":"{tx}d1"}`,
		"M1_REPLIES":   "{M1_ACK}\n{M1_EVENT}",
		"M1_ACK":       `< 200 {"janus":"ack","session_id":{S},"transaction":"{tx}m1","hint":"I'm taking my time!"}`,
		"M1_EVENT":     `< poll {"janus":"event","session_id":{S},"transaction":"{tx}m1","sender":{H},"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}}}`,
		"POLLS":        "< poll {\"janus\":\"keepalive\"}\n> GET /janus/{S}?rid=1795528829871&maxev=10",
	}
	runB = with(runA,
		"S", "4393398822291359", "H", "2373392692837104", "ID", "1780113306417095", "P", "911582931",
		"FP", "0A:7E:55:C3:19:B4:2D:EE:80:61:9F:3C:D7:12:A4:6B:F0:38:5D:C9:24:8E:B1:07:6A:D3:FE:49:12:85:C0:3B",
		"tx", "q9ZbW1",
		"answer", "echotest-answer-2.json", "offer", "textroom-offer-2.json",
		"INFO_TX", "Zz9yX8wV7uT", "HOST", "198.51.100.7", "BUILT", "Mon Nov 24 13:58:02 PM UTC 2026",
		"POLLS", "",
	)
)

// echotest is janus.js's echotest over WebSocket: a message, an offer and
// its answer, trickles, a hangup, detach and destroy.
const echotest = `
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.echotest","opaque_id":"echotest-tap","transaction":"{tx}a1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"audio":true,"video":true},"transaction":"{tx}m1"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}m1","hint":"I'm taking my time!"}
< {"janus":"event","session_id":{S},"transaction":"{tx}m1","sender":{H},"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}}}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"audio":true,"video":true},"jsep":{"type":"offer","sdp":"{OFFER}"},"transaction":"{tx}m2"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}m2","hint":"I'm taking my time!"}
< @{answer}{EDIT}
{MEDIA}
> {"janus":"trickle","session_id":{S},"handle_id":{H},"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0","sdpMid":"0","sdpMLineIndex":0},"transaction":"{tx}t1"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}t1"}
> {"janus":"trickle","session_id":{S},"handle_id":{H},"candidate":{"completed":true},"transaction":"{tx}t2"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}t2"}
> {"janus":"hangup","session_id":{S},"handle_id":{H},"transaction":"{tx}h1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}h1"}
` + doneEvent + `
{HANGUP}
> {"janus":"detach","session_id":{S},"handle_id":{H},"transaction":"{tx}d1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d1"}
< {"janus":"detached","session_id":{S},"sender":{H}}
> {"janus":"destroy","session_id":{S},"transaction":"{tx}d2"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d2"}
`

// videoroom joins a room as a publisher and lists the participants.
const videoroom = `
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.videoroom","transaction":"{tx}a1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"request":"join","ptype":"publisher","room":4242,"display":"tap"},"transaction":"{tx}j1"}
{JOIN_REPLIES}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"request":"listparticipants","room":4242},"transaction":"{tx}l1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}l1","sender":{H},"plugindata":{"plugin":"janus.plugin.videoroom","data":{PARTICIPANTS}}}
> {"janus":"detach","session_id":{S},"handle_id":{H},"transaction":"{tx}d1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d1"}
< {"janus":"detached","session_id":{S},"sender":{H}}
> {"janus":"destroy","session_id":{S},"transaction":"{tx}d2"}
< {"janus":"success","session_id":{S},"transaction":"{tx}d2"}
`

// attach attaches to the videoroom, which may be disabled.
const attach = `
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.videoroom","transaction":"{tx}a1"}
< {ATTACHED}
> {"janus":"destroy","session_id":{S},"transaction":"{tx}d1"}
< {DESTROYED}
`

// textroom asks for the data channel offer Janus makes and answers it.
const textroom = `
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.textroom","transaction":"{tx}a1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"request":"setup"},"transaction":"{tx}s1"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}s1"}
< @{offer}
> {"janus":"message","session_id":{S},"handle_id":{H},"body":{"request":"ack"},"jsep":{"type":"answer","sdp":"{DC_ANSWER}"},"transaction":"{tx}s2"}
< {"janus":"ack","session_id":{S},"transaction":"{tx}s2"}
< {"janus":"event","session_id":{S},"transaction":"{tx}s2","sender":{H},"plugindata":{"plugin":"janus.plugin.textroom","data":{"textroom":"event","result":"ok"}}}
`

// keepalive sends a keepalive on a session, which may have timed out.
const keepalive = `
> {"janus":"create","transaction":"{tx}c1"}
< {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> {"janus":"attach","session_id":{S},"plugin":"janus.plugin.echotest","transaction":"{tx}a1"}
< {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
{TIMEOUT}
> {"janus":"keepalive","session_id":{KA_SESSION},"transaction":"{tx}k1"}
< {KA_REPLY}
> {"janus":"destroy","session_id":{S},"transaction":"{tx}d1"}
< {DESTROYED}
`

// restHTTP is a REST client: GET /janus/info, ids in the paths, events on
// long polls that sometimes end empty.
const restHTTP = `
> GET /janus/info
< 200 {"janus":"server_info","transaction":"{INFO_TX}","name":"Janus WebRTC Server","version":1102,"version_string":"1.1.2","author":"Meetecho s.r.l.","commit-hash":"not-a-git-repo","compile-time":"{BUILT}","log-to-stdout":true,"log-to-file":true,"log-path":"/tmp/janus-{tx}/janus.log","data_channels":true,"accepting-new-sessions":true,"session-timeout":60,"reclaim-session-timeout":0,"candidates-timeout":45,"server-name":"MyJanusInstance","local-ip":"{HOST}","ipv6":false,"ice-lite":false,"ice-tcp":false,"full-trickle":false,"api_secret":false,"auth_token":false,"dependencies":{"glib2":"2.80.0","jansson":"2.14","libnice":"0.1.18"},"plugins":{"janus.plugin.echotest":{"name":"JANUS EchoTest plugin","version_string":"0.0.8","version":8}}}
> POST /janus {"janus":"create","transaction":"{tx}c1"}
< 200 {"janus":"success","transaction":"{tx}c1","data":{"id":{S}}}
> GET /janus/{S}?rid=1795528799871&maxev=10
> POST /janus/{S} {"janus":"attach","plugin":"janus.plugin.echotest","transaction":"{tx}a1"}
< 200 {"janus":"success","session_id":{S},"transaction":"{tx}a1","data":{"id":{H}}}
> POST /janus/{S}/{H} {"janus":"message","body":{"audio":true,"video":true},"transaction":"{tx}m1"}
{M1_REPLIES}
{POLLS}
> POST /janus/{S} {"janus":"keepalive","transaction":"{tx}k1"}
< 200 {"janus":"ack","session_id":{S},"transaction":"{tx}k1"}
> POST /janus/{S}/{H} {"janus":"detach","transaction":"{tx}d1"}
< 200 {"janus":"success","session_id":{S},"transaction":"{tx}d1"}
< poll {"janus":"detached","session_id":{S},"sender":{H}}
> POST /janus/{S} {"janus":"destroy","transaction":"{tx}d2"}
< 200 {"janus":"success","session_id":{S},"transaction":"{tx}d2"}
`

// doneEvent is echotest's event when its PeerConnection closes.
const doneEvent = `< {"janus":"event","session_id":{S},"sender":{H},"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"done"}}}`

// Media events, as a browser that really connects makes Janus send them.
const (
	webrtcup   = `< {"janus":"webrtcup","session_id":{S},"sender":{H}}`
	mediaAudio = `< {"janus":"media","session_id":{S},"sender":{H},"mid":"0","type":"audio","receiving":true}`
	mediaVideo = `< {"janus":"media","session_id":{S},"sender":{H},"mid":"1","type":"video","receiving":true}`
	iceFailed  = `< {"janus":"hangup","session_id":{S},"sender":{H},"reason":"ICE failed"}`
)

// compareCase is one comparison: a script run with the variables of run A
// and of run B.
type compareCase struct {
	name   string
	script string
	a, b   map[string]string
	scrB   string // the script of run B, when it is not script
	opts   diff.Options

	same       bool
	first      *diff.Difference // nil when same
	diffs      int              // number of Differences
	needsMedia int
	golden     bool // check WriteText and JSON against testdata/<name>.golden
}

var compareCases = []compareCase{
	{
		name: "echotest_answers_differ_in_ice_only", script: echotest, a: runA, b: runB,
		same: true, golden: true,
	},
	{
		name: "rest_ids_transactions_and_polls_differ", script: restHTTP, a: runA,
		// In B the event beat the ack (the long poll ended before the
		// POST), and no long poll ended empty.
		b:    with(runB, "M1_REPLIES", "{M1_EVENT}\n{M1_ACK}"),
		same: true,
	},
	{
		name: "textroom_server_offer_new_origin", script: textroom, a: runA, b: runB,
		same: true,
	},
	{
		name: "videoroom_event_before_ack", script: videoroom, a: runA,
		b:    with(runB, "JOIN_REPLIES", "{JOINED}\n{JOIN_ACK}"),
		same: true,
	},
	{
		name: "videoroom_no_such_room", script: videoroom, a: runA,
		b: with(runB,
			"JOINED", `< {"janus":"event","session_id":{S},"transaction":"{tx}j1","sender":{H},"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room (4242)"}}}`,
			"PARTICIPANTS", `{"videoroom":"event","error_code":426,"error":"No such room (4242)"}`),
		first: &diff.Difference{Index: 7, IndexB: 7, Kind: diff.Changed, Path: "plugindata.data.error_code",
			B: "426", Transaction: "$T3", Janus: "event"},
		diffs: 13, golden: true,
	},
	{
		name: "plugin_disabled", script: attach, a: runA,
		b: with(runB, "ATTACHED", `{"janus":"error","session_id":{S},"transaction":"{tx}a1","error":{"code":460,"reason":"No such plugin 'janus.plugin.videoroom'"}}`),
		first: &diff.Difference{Index: 4, IndexB: 4, Kind: diff.Changed, Path: "janus",
			A: `"success"`, B: `"error"`, Transaction: "$T2", Janus: "success"},
		diffs: 4, golden: true,
	},
	{
		name: "videoroom_missing_event", script: videoroom, a: runA,
		b: with(runB, "JOINED", ""),
		first: &diff.Difference{Index: 7, Kind: diff.Missing, Transaction: "$T3", Janus: "event",
			A: `{"janus":"event","plugindata":{"data":{"description":"tap","id":"$ID1","private_id":"$P1","publishers":[],"room":4242,"videoroom":"joined"},"plugin":"janus.plugin.videoroom"},"sender":"$H1","session_id":"$S1","transaction":"$T3"}`},
		// The participant's id is first seen in the list in run B, and
		// still gets $ID1.
		diffs: 1, golden: true,
	},
	{
		name: "sdp_direction_changed", script: echotest, a: runA,
		b: with(runB, "EDIT", ` | a=sendrecv\r\na=mid:1 => a=recvonly\r\na=mid:1`),
		first: &diff.Difference{Index: 10, IndexB: 10, Kind: diff.Changed, Path: "jsep.sdp.m[1].direction",
			A: `"sendrecv"`, B: `"recvonly"`, Transaction: "$T4", Janus: "event"},
		diffs: 1, golden: true,
	},
	{
		name: "sdp_codec_feedback_changed", script: echotest, a: runA,
		b: with(runB, "EDIT", ` | a=rtcp-fb:96 goog-remb\r\n => `),
		first: &diff.Difference{Index: 10, IndexB: 10, Kind: diff.Changed, Path: "jsep.sdp.m[1].codecs.96.rtcp-fb[3]",
			A: `"goog-remb"`, B: `"transport-cc"`, Transaction: "$T4", Janus: "event"},
		diffs: 2,
	},
	{
		name: "media_only_in_captured_run", script: echotest,
		a: with(runA, "MEDIA", webrtcup+"\n"+mediaAudio+"\n"+mediaVideo), b: runB,
		same: true, needsMedia: 3,
	},
	{
		name: "extra_webrtcup_and_hangup", script: echotest, a: runA,
		b:    with(runB, "MEDIA", webrtcup+"\n"+iceFailed),
		same: true, needsMedia: 2, golden: true,
	},
	{
		name: "extra_webrtcup_and_hangup_compared", script: echotest, a: runA,
		b:    with(runB, "MEDIA", webrtcup+"\n"+iceFailed),
		opts: diff.Options{CompareMedia: true},
		first: &diff.Difference{Index: 11, IndexB: 11, Kind: diff.Extra, Janus: "webrtcup",
			B: `{"janus":"webrtcup","sender":"$H1","session_id":"$S1"}`},
		diffs: 2,
	},
	{
		name: "hangup_without_request", script: echotest, a: runA,
		// ICE failed before the client hung up: the plugin's "done" event
		// and the hangup come early, and the hangup request closes nothing.
		scrB: strings.NewReplacer(doneEvent+"\n{HANGUP}\n", "", "{MEDIA}", doneEvent+"\n"+iceFailed).Replace(echotest),
		b:    runB,
		same: true, needsMedia: 1,
	},
	{
		name: "session_timeout", script: keepalive, a: runA,
		b: with(runB,
			"TIMEOUT", `< {"janus":"timeout","session_id":{S}}`,
			"KA_REPLY", `{"janus":"error","session_id":{S},"transaction":"{tx}k1","error":{"code":458,"reason":"No such session {S}"}}`,
			"DESTROYED", `{"janus":"error","session_id":{S},"transaction":"{tx}d1","error":{"code":458,"reason":"No such session {S}"}}`),
		first: &diff.Difference{Index: 5, IndexB: 5, Kind: diff.Extra, Janus: "timeout",
			B: `{"janus":"timeout","session_id":"$S1"}`, Timing: true},
		diffs: 7, golden: true,
	},
	{
		name: "session_id_as_string", script: keepalive, a: runA,
		b: with(runB, "KA_SESSION", `"{S}"`,
			"KA_REPLY", `{"janus":"error","transaction":"{tx}k1","error":{"code":457,"reason":"Unhandled request 'keepalive' at this path"}}`),
		first: &diff.Difference{Index: 5, IndexB: 5, Kind: diff.Changed, Path: "session_id",
			A: "$S1", B: `"$S1"`, Transaction: "$T3", Janus: "keepalive"},
		diffs: 5, golden: true,
	},
}

func TestCompare(t *testing.T) {
	for _, tc := range compareCases {
		t.Run(tc.name, func(t *testing.T) {
			scrB := tc.script
			if tc.scrB != "" {
				scrB = tc.scrB
			}
			a, b := script(t, tc.script, tc.a), script(t, scrB, tc.b)
			r := diff.Compare(a, b, nil, tc.opts)
			if tc.golden {
				var text bytes.Buffer
				if err := diff.WriteText(&text, r); err != nil {
					t.Fatal(err)
				}
				golden.Check(t, tc.name+".golden", text.Bytes())
				js, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, tc.name+".json.golden", append(js, '\n'))
			}
			var text bytes.Buffer
			diff.WriteText(&text, r)
			if got, want := r.Same, tc.same; got != want {
				t.Errorf("Same = %v, want %v; report:\n%s", got, want, &text)
			}
			if got, want := len(r.Differences), tc.diffs; got != want {
				t.Errorf("%d differences, want %d; report:\n%s", got, want, &text)
			}
			if got, want := len(r.NeedsMedia), tc.needsMedia; got != want {
				t.Errorf("%d events need media, want %d; report:\n%s", got, want, &text)
			}
			switch {
			case tc.first == nil && r.FirstDivergence != nil:
				t.Errorf("first divergence %+v, want none", *r.FirstDivergence)
			case tc.first != nil && r.FirstDivergence == nil:
				t.Errorf("no first divergence, want %+v", *tc.first)
			case tc.first != nil && *r.FirstDivergence != *tc.first:
				t.Errorf("first divergence\n got %+v\nwant %+v", *r.FirstDivergence, *tc.first)
			}
			if r.Matched+r.OnlyA != r.MessagesA || r.Matched+r.OnlyB != r.MessagesB {
				t.Errorf("matched %d + only A %d + only B %d do not add up to %d and %d messages",
					r.Matched, r.OnlyA, r.OnlyB, r.MessagesA, r.MessagesB)
			}
		})
	}
}

// TestCompareItself checks that every script compared with itself matches,
// and that comparing B with A finds as many differences as A with B.
func TestCompareSymmetry(t *testing.T) {
	for _, tc := range compareCases {
		t.Run(tc.name, func(t *testing.T) {
			scrB := tc.script
			if tc.scrB != "" {
				scrB = tc.scrB
			}
			a, b := script(t, tc.script, tc.a), script(t, scrB, tc.b)
			if r := diff.Compare(a, a, nil, diff.Options{CompareMedia: true}); !r.Same || len(r.NeedsMedia) != 0 {
				t.Errorf("run A differs from itself: %+v", r.Differences)
			}
			ab, ba := diff.Compare(a, b, nil, tc.opts), diff.Compare(b, a, nil, tc.opts)
			if ab.Same != ba.Same || ab.Matched != ba.Matched || ab.OnlyA != ba.OnlyB || ab.OnlyB != ba.OnlyA {
				t.Errorf("A→B: same %v, matched %d, only %d/%d; B→A: same %v, matched %d, only %d/%d",
					ab.Same, ab.Matched, ab.OnlyA, ab.OnlyB, ba.Same, ba.Matched, ba.OnlyA, ba.OnlyB)
			}
		})
	}
}

// TestCompareSkipsTransportNoise checks that long polls, CORS preflights
// and WebSocket opens and closes are left out and counted.
func TestCompareSkipsTransportNoise(t *testing.T) {
	a := script(t, restHTTP, runA)
	b := script(t, restHTTP, runB)
	extra := []*schema.Event{
		{ID: "x1", Transport: schema.HTTP, Direction: schema.ToGateway, Kind: schema.Request, Method: "OPTIONS", Path: "/janus"},
		{ID: "x2", Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.Response, Parent: "x1", Status: 200},
		{ID: "x3", Transport: schema.WS, Direction: schema.ToGateway, Kind: schema.Open},
		{ID: "x4", Transport: schema.WS, Direction: schema.ToClient, Kind: schema.Close, CloseCode: 1000},
		nil,
	}
	r := diff.Compare(a, append(b, extra...), nil, diff.Options{})
	if !r.Same {
		var text bytes.Buffer
		diff.WriteText(&text, r)
		t.Fatalf("runs differ:\n%s", &text)
	}
	// A: 2 long polls, 1 empty answer; B: 1 long poll, 4 events above, the nil not counted.
	if got, want := r.SkippedA, 3; got != want {
		t.Errorf("SkippedA = %d, want %d", got, want)
	}
	if got, want := r.SkippedB, 5; got != want {
		t.Errorf("SkippedB = %d, want %d", got, want)
	}
}

// TestCompareHTTPStatus checks that an HTTP status is compared.
func TestCompareHTTPStatus(t *testing.T) {
	a := script(t, restHTTP, runA)
	b := script(t, restHTTP, runB)
	b[1].Status = 500
	r := diff.Compare(a, b, nil, diff.Options{})
	if r.Same {
		t.Fatal("runs match, want a difference in http.status")
	}
	if got, want := *r.FirstDivergence, (diff.Difference{Index: 2, IndexB: 2, Kind: diff.Changed, Path: "http.status",
		A: "200", B: "500", Transaction: "$T1", Janus: "server_info"}); got != want {
		t.Errorf("first divergence\n got %+v\nwant %+v", got, want)
	}
}

// TestCompareEmpty checks the report of two empty runs.
func TestCompareEmpty(t *testing.T) {
	r := diff.Compare(nil, nil, nil, diff.Options{})
	if !r.Same || r.Differences == nil || r.NeedsMedia == nil {
		t.Errorf("Compare(nil, nil) = %+v, want same with empty lists", r)
	}
	var text bytes.Buffer
	if err := diff.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if got, want := text.String(), "runs match: 0 messages matched\n"; got != want {
		t.Errorf("WriteText = %q, want %q", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	r := diff.Compare(nil, nil, nil, diff.Options{})
	if err := diff.WriteText(failingWriter{}, r); err == nil {
		t.Error("WriteText to a failing writer: no error")
	}
}

// TestCompareRooms checks that a new run played in a room of its own
// (Options.Rooms) compares as the captured room, in bodies and in the SDP's
// session name, and that without the option the room is a difference.
func TestCompareRooms(t *testing.T) {
	run := func(room string) []*schema.Event {
		bodies := []struct {
			dir  schema.Direction
			body string
		}{
			{schema.ToGateway, `{"janus":"message","session_id":1,"handle_id":2,"transaction":"j","body":{"request":"join","ptype":"publisher","room":` + room + `}}`},
			{schema.ToClient, `{"janus":"event","session_id":1,"sender":2,"transaction":"j","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","room":` + room + `,"publishers":[]}}}`},
			{schema.ToClient, `{"janus":"event","session_id":1,"sender":2,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":` + room + `}},"jsep":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=VideoRoom ` + room + `\r\nt=0 0\r\n"}}`},
		}
		var evs []*schema.Event
		for i, b := range bodies {
			ev := &schema.Event{ID: fmt.Sprintf("e%d", i), Transport: schema.WS, Direction: b.dir, Kind: schema.Frame, Body: []byte(b.body)}
			ev.Janus, _ = schema.ParseJanus(ev.Body)
			evs = append(evs, ev)
		}
		return evs
	}
	a, b := run("1234"), run("2147483999")
	for _, tc := range []struct {
		name  string
		rooms map[uint64]uint64
		same  bool
	}{
		{"own room", map[uint64]uint64{2147483999: 1234}, true},
		{"no rooms given", nil, false},
		{"another room", map[uint64]uint64{2147483000: 1234}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := diff.Compare(a, b, nil, diff.Options{Rooms: tc.rooms})
			if r.Same != tc.same {
				var text bytes.Buffer
				diff.WriteText(&text, r)
				t.Errorf("same %v, want %v:\n%s", r.Same, tc.same, &text)
			}
		})
	}
}
