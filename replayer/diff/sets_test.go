package diff_test

import (
	"bytes"
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
// replay's own: the SDP and candidates the client sent are not compared,
// Janus's answer is.
func TestOwnPeer(t *testing.T) {
	const run = `> {"janus":"message","session_id":1111111,"handle_id":2222222,"transaction":"m","body":{},"jsep":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF {PT}\r\na=rtpmap:{PT} opus/48000/2\r\n"}}
> {"janus":"trickle","session_id":1111111,"handle_id":2222222,"transaction":"t","candidate":{"candidate":"candidate:{F} 1 udp 1 192.0.2.2 5000 typ host","sdpMid":"{MID}","sdpMLineIndex":{MID}}}
< {"janus":"event","session_id":1111111,"sender":2222222,"transaction":"m","jsep":{"type":"answer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF {ANSWER}\r\na=rtpmap:{ANSWER} opus/48000/2\r\n"}}`
	a := script(t, run, map[string]string{"PT": "111", "F": "1", "MID": "0", "ANSWER": "111"})
	tests := []struct {
		name     string
		vars     map[string]string
		ownPeer  bool
		wantPath string
	}{
		{"own peer: its offer and candidates differ", map[string]string{"PT": "109", "F": "7", "MID": "1", "ANSWER": "111"}, true, ""},
		{"own peer: Janus's answer differs", map[string]string{"PT": "109", "F": "7", "MID": "1", "ANSWER": "109"}, true, "jsep.sdp"},
		{"captured client: its offer differs", map[string]string{"PT": "109", "F": "1", "MID": "0", "ANSWER": "111"}, false, "jsep.sdp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := diff.Compare(a, script(t, run, tt.vars), nil, diff.Options{CompareMedia: true, OwnPeer: tt.ownPeer})
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
