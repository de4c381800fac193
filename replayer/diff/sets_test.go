package diff_test

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// TestUnorderedLists compares lists Janus builds from hash tables, in
// another order in the second run: textroom participants (usernames, no
// ids), videoroom list answers, videoroom publishers whose ids are new in
// the message, admin session lists. Only a change of the set is a
// difference, named by its path.
func TestUnorderedLists(t *testing.T) {
	const head = `> {"janus":"attach","plugin":"{PLUGIN}","session_id":1111111,"transaction":"a"}
< {"janus":"success","session_id":1111111,"transaction":"a","data":{"id":2222222}}
> {"janus":"message","session_id":1111111,"handle_id":2222222,"transaction":"m","body":{"request":"x"}}
`
	tests := []struct {
		name, plugin, a, b string
		wantPath           string
	}{
		{"textroom participants", "janus.plugin.textroom",
			`{"textroom":"success","participants":[{"username":"alice","display":"Alice"},{"username":"bob"},{"username":"carol"}]}`,
			`{"textroom":"success","participants":[{"username":"carol"},{"username":"alice","display":"Alice"},{"username":"bob"}]}`, ""},
		{"textroom participant missing", "janus.plugin.textroom",
			`{"textroom":"success","participants":[{"username":"alice"},{"username":"bob"}]}`,
			`{"textroom":"success","participants":[{"username":"alice"},{"username":"carol"}]}`, "participants"},
		{"videoroom list", "janus.plugin.videoroom",
			`{"videoroom":"success","list":[{"room":1234,"description":"Demo"},{"room":5678,"description":"Other"}]}`,
			`{"videoroom":"success","list":[{"room":5678,"description":"Other"},{"room":1234,"description":"Demo"}]}`, ""},
		{"videoroom publishers with new ids", "janus.plugin.videoroom",
			`{"videoroom":"event","publishers":[{"id":4444444,"display":"bob"},{"id":3333333,"display":"alice"}]}`,
			`{"videoroom":"event","publishers":[{"id":9333333,"display":"alice"},{"id":9444444,"display":"bob"}]}`, ""},
		{"videoroom publisher renamed", "janus.plugin.videoroom",
			`{"videoroom":"event","publishers":[{"id":4444444,"display":"bob"},{"id":3333333,"display":"alice"}]}`,
			`{"videoroom":"event","publishers":[{"id":9333333,"display":"alice"},{"id":9444444,"display":"robert"}]}`, "publishers"},
		{"videoroom participants, one id known", "janus.plugin.videoroom",
			`{"videoroom":"participants","participants":[{"id":3333333,"display":"x"},{"id":2222222,"display":"x"}]}`,
			`{"videoroom":"participants","participants":[{"id":2222222,"display":"x"},{"id":7777777,"display":"x"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(data string) string {
				return strings.ReplaceAll(head, "{PLUGIN}", tt.plugin) +
					`< {"janus":"success","session_id":1111111,"sender":2222222,"transaction":"m","plugindata":{"plugin":"` + tt.plugin + `","data":` + data + `}}`
			}
			rep := diff.Compare(script(t, run(tt.a), nil), script(t, run(tt.b), nil), nil, diff.Options{})
			var buf bytes.Buffer
			diff.WriteText(&buf, rep)
			if tt.wantPath == "" {
				if !rep.Same {
					t.Fatalf("differ:\n%s", buf.String())
				}
				return
			}
			if rep.Same || !strings.Contains(rep.FirstDivergence.Path, tt.wantPath) {
				t.Fatalf("want a difference in %s:\n%s", tt.wantPath, buf.String())
			}
		})
	}
}

// TestOwnPeer compares a run whose client was a WebRTC peer of the
// replay's own: of the SDP the client sent only its m-lines' kinds and
// directions are compared (a rejected m-line counts as inactive), not its
// codecs nor the candidates; Janus's answer is compared in full.
func TestOwnPeer(t *testing.T) {
	const run = `> {"janus":"message","session_id":1111111,"handle_id":2222222,"transaction":"m","body":{},"jsep":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF {PT}\r\na=rtpmap:{PT} opus/48000/2\r\na=sendrecv\r\n{VIDEO}"}}
> {"janus":"trickle","session_id":1111111,"handle_id":2222222,"transaction":"t","candidate":{"candidate":"candidate:{F} 1 udp 1 192.0.2.2 5000 typ host","sdpMid":"{MID}","sdpMLineIndex":{MID}}}
< {"janus":"event","session_id":1111111,"sender":2222222,"transaction":"m","jsep":{"type":"answer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF {ANSWER}\r\na=rtpmap:{ANSWER} opus/48000/2\r\n"}}`
	video := func(port, kind, dir string) string {
		return "m=" + kind + " " + port + " UDP/TLS/RTP/SAVPF 96\\r\\na=rtpmap:96 VP8/90000\\r\\na=" + dir + "\\r\\n"
	}
	captured := map[string]string{"PT": "111", "F": "1", "MID": "0", "ANSWER": "111", "VIDEO": video("9", "video", "sendonly")}
	with := func(changes ...string) map[string]string {
		vars := maps.Clone(captured)
		for i := 0; i+1 < len(changes); i += 2 {
			vars[changes[i]] = changes[i+1]
		}
		return vars
	}
	tests := []struct {
		name     string
		a, b     map[string]string
		ownPeer  bool
		wantPath string
	}{
		{"own peer: its offer's codecs and candidates differ", captured, with("PT", "109", "F", "7", "MID", "1"), true, ""},
		{"own peer: Janus's answer differs", captured, with("PT", "109", "F", "7", "MID", "1", "ANSWER", "109"), true, "jsep.sdp"},
		{"own peer: inactive where the capture had port 0", with("VIDEO", video("0", "video", "sendonly")), with("VIDEO", video("9", "video", "inactive")), true, ""},
		{"own peer: an m-line's direction differs", captured, with("VIDEO", video("9", "video", "recvonly")), true, "jsep.sdp.m[1].direction"},
		{"own peer: rejected where the capture sent", captured, with("VIDEO", video("0", "video", "sendonly")), true, "jsep.sdp.m[1].direction"},
		{"own peer: an m-line's kind differs", captured, with("VIDEO", video("9", "audio", "sendonly")), true, "jsep.sdp.m[1].media"},
		{"own peer: an m-line less", captured, with("VIDEO", ""), true, "jsep.sdp.m"},
		{"own peer: sendrecv where the capture said no direction", with("VIDEO", strings.Replace(video("9", "video", ""), "a=\\r\\n", "", 1)), with("VIDEO", video("9", "video", "sendrecv")), true, ""},
		{"captured client: its offer differs", captured, with("PT", "109"), false, "jsep.sdp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := diff.Compare(script(t, run, tt.a), script(t, run, tt.b), nil, diff.Options{CompareMedia: true, OwnPeer: tt.ownPeer})
			var buf bytes.Buffer
			diff.WriteText(&buf, rep)
			if tt.wantPath == "" {
				if !rep.Same {
					t.Fatalf("differ:\n%s", buf.String())
				}
				return
			}
			if rep.Same || !strings.HasPrefix(rep.FirstDivergence.Path, tt.wantPath) {
				t.Fatalf("want a difference in %s:\n%s", tt.wantPath, buf.String())
			}
		})
	}
}
