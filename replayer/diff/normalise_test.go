package diff_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/schema"
)

func TestNormalise(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "create_success",
			body: `{"janus":"success","transaction":"c1","data":{"id":68911223458987}}`,
			want: `{"data":{"id":"$S1"},"janus":"success","transaction":"$T1"}`,
		},
		{
			name: "attach_success",
			body: `{"janus":"success","session_id":6635366682236306,"transaction":"w-attach","data":{"id":4601177821996538}}`,
			want: `{"data":{"id":"$H1"},"janus":"success","session_id":"$S1","transaction":"$T1"}`,
		},
		{
			name: "create_with_id",
			body: `{"janus":"create","id":424242,"transaction":"e27"}`,
			want: `{"id":"$S1","janus":"create","transaction":"$T1"}`,
		},
		{
			name: "verb_upper_case",
			body: `{"janus":"INFO","transaction":"t-info"}`,
			want: `{"janus":"info","transaction":"$T1"}`,
		},
		{
			name: "session_id_as_string",
			body: `{"janus":"keepalive","session_id":"6635366682236306","transaction":"w-ka"}`,
			want: `{"janus":"keepalive","session_id":"\"$S1\"","transaction":"$T1"}`,
		},
		{
			name: "zero_and_null_ids_stay",
			body: `{"janus":"keepalive","session_id":0,"handle_id":null,"sender":"","transaction":""}`,
			want: `{"handle_id":null,"janus":"keepalive","sender":"","session_id":0,"transaction":""}`,
		},
		{
			// The session is named in the message, the handle is not: only
			// ids seen in the run are replaced in text.
			name: "ids_in_error_reason",
			body: `{"janus":"error","session_id":6635366682236306,"transaction":"x","error":{"code":459,"reason":"No such handle 4601177821996538 in session 6635366682236306"}}`,
			want: `{"error":{"code":459,"reason":"No such handle 4601177821996538 in session $S1"},"janus":"error","session_id":"$S1","transaction":"$T1"}`,
		},
		{
			name: "videoroom_joined",
			body: `{"janus":"event","session_id":6635366682236306,"transaction":"r-vr-join","sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.videoroom",
			 "data":{"videoroom":"joined","room":4242,"description":"tap","id":6713301572521604,"private_id":3060372547,
			 "publishers":[{"id":1780113306417095,"display":"other","streams":[{"type":"audio","mindex":0,"mid":"0","codec":"opus"}]}]}}}`,
			want: `{"janus":"event","plugindata":{"data":{"description":"tap","id":"$ID1","private_id":"$P1","publishers":[{"display":"other","id":"$ID2","streams":[{"codec":"opus","mid":"0","mindex":0,"type":"audio"}]}],"room":4242,"videoroom":"joined"},"plugin":"janus.plugin.videoroom"},"sender":"$H1","session_id":"$S1","transaction":"$T1"}`,
		},
		{
			name: "videoroom_error_names_feed",
			body: `{"janus":"event","session_id":6635366682236306,"sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","feed":1780113306417095,"error_code":428,"error":"No such feed (1780113306417095)"}}}`,
			want: `{"janus":"event","plugindata":{"data":{"error":"No such feed ($ID1)","error_code":428,"feed":"$ID1","videoroom":"event"},"plugin":"janus.plugin.videoroom"},"sender":"$H1","session_id":"$S1"}`,
		},
		{
			name: "textroom_room",
			body: `{"janus":"success","session_id":6635366682236306,"transaction":"tr","sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.textroom","data":{"textroom":"created","room":1234,"permanent":false}}}`,
			want: `{"janus":"success","plugindata":{"data":{"permanent":false,"room":"$R1","textroom":"created"},"plugin":"janus.plugin.textroom"},"sender":"$H1","session_id":"$S1","transaction":"$T1"}`,
		},
		{
			name: "server_info_host_fields",
			body: `{"janus":"server_info","transaction":"a1B2c3D4e5F","version":1102,"commit-hash":"not-a-git-repo","compile-time":"Fri Oct 10 2025","log-path":"/var/log/janus.log","local-ip":"192.0.2.2","dependencies":{"glib2":"2.80.0"},"session-timeout":60}`,
			want: `{"commit-hash":"$ignored","compile-time":"$ignored","dependencies":"$ignored","janus":"server_info","local-ip":"$ignored","log-path":"$ignored","session-timeout":60,"transaction":"$T1","version":1102}`,
		},
		{
			name: "trickle_candidate",
			body: `{"janus":"trickle","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.9 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0 ufrag Qy4n network-cost 999","sdpMid":"0","sdpMLineIndex":0},"transaction":"tr1"}`,
			want: `{"candidate":{"candidate":"candidate:842163049 1 udp 1677729535 $addr $port typ srflx raddr $addr rport $port generation 0 ufrag $ignored network-cost 999","sdpMLineIndex":0,"sdpMid":"0"},"janus":"trickle","transaction":"$T1"}`,
		},
		{
			name: "admin_list_sessions",
			body: `{"janus":"success","transaction":"ha-ls","sessions":[5157665220621134,6020856908637814]}`,
			want: `{"janus":"success","sessions":["$S1","$S2"],"transaction":"$T1"}`,
		},
		{
			name: "admin_handle_info",
			body: `{"janus":"success","session_id":5157665220621134,"transaction":"ha-hi","handle_id":6163165781992037,"info":{"session_id":5157665220621134,"session_last_activity":2785612345,"handle_id":6163165781992037,"created":2785600000,"current_time":2785613000,"plugin":"janus.plugin.echotest","webrtc":{"dtls":{"fingerprint":"D2:B9","dtls-role":"active"}}}}`,
			want: `{"handle_id":"$H1","info":{"created":"$ignored","current_time":"$ignored","handle_id":"$H1","plugin":"janus.plugin.echotest","session_id":"$S1","session_last_activity":"$ignored","webrtc":{"dtls":{"dtls-role":"active","fingerprint":"$ignored"}}},"janus":"success","session_id":"$S1","transaction":"$T1"}`,
		},
		{
			name: "not_an_object",
			body: `[1, "two", {"session_id": 5157665220621134}]`,
			want: `[1,"two",{"session_id":"$S1"}]`,
		},
		{
			name: "normalised_already",
			body: `{"janus":"success","session_id":"$S1","sender":"\"$H2\"","transaction":"$T7","data":{"id":"$H1"},"log-path":"$ignored"}`,
			want: `{"data":{"id":"$H1"},"janus":"success","log-path":"$ignored","sender":"\"$H2\"","session_id":"$S1","transaction":"$T7"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diff.Normalise([]byte(tc.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Normalise:\n got %s\nwant %s", got, tc.want)
			}
			again, err := diff.Normalise(got, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(got) {
				t.Errorf("Normalise is not idempotent:\nonce  %s\ntwice %s", got, again)
			}
		})
	}
}

// TestNormalisePath checks the ids of HTTP paths, which share the numbering
// of the bodies.
func TestNormalisePath(t *testing.T) {
	n := diff.NewNormaliser(nil)
	for _, s := range []struct{ path, want string }{
		{"/janus", "/janus"},
		{"/janus/info", "/janus/info"},
		{"/janus/6635366682236306", "/janus/$S1"},
		{"/janus/6635366682236306/4601177821996538", "/janus/$S1/$H1"},
		{"/admin/5157665220621134/", "/admin/$S2/"},
		{"/janus/0/abc", "/janus/0/abc"},
		{"/janus/6635366682236306/4601177821996538/1", "/janus/$S1/$H1/1"},
	} {
		if got := n.Path(s.path); got != s.want {
			t.Errorf("Path(%s) = %s, want %s", s.path, got, s.want)
		}
	}
}

func TestNormaliseErrors(t *testing.T) {
	for _, body := range []string{``, `{"janus":`, `{"janus":"create"} {}`, `nope`} {
		if got, err := diff.Normalise([]byte(body), nil); err == nil {
			t.Errorf("Normalise(%q) = %s, want an error", body, got)
		} else if !strings.HasPrefix(err.Error(), "normalise body: ") {
			t.Errorf("Normalise(%q): error %q does not say what was done", body, err)
		}
	}
}

// TestNormaliserRun checks that placeholders hold across the messages of a
// run: the same id gives the same placeholder, text names ids seen before,
// data.id is a session or a handle by its request, and a message to a
// videoroom handle maps the videoroom's ids.
func TestNormaliserRun(t *testing.T) {
	n := diff.NewNormaliser(nil)
	steps := []struct{ path, body, want string }{
		{"/janus", `{"janus":"create","transaction":"c1"}`, `{"janus":"create","transaction":"$T1"}`},
		{"", `{"janus":"success","transaction":"c1","data":{"id":6635366682236306}}`, `{"data":{"id":"$S1"},"janus":"success","transaction":"$T1"}`},
		{"/janus/6635366682236306", `{"janus":"attach","plugin":"janus.plugin.videoroom","transaction":"a1"}`, `{"janus":"attach","plugin":"janus.plugin.videoroom","transaction":"$T2"}`},
		// Without the attach request, no session_id would make this a session.
		{"", `{"janus":"success","transaction":"a1","data":{"id":4601177821996538}}`, `{"data":{"id":"$H1"},"janus":"success","transaction":"$T2"}`},
		{"/janus/6635366682236306/4601177821996538", `{"janus":"message","body":{"request":"join","ptype":"subscriber","room":4242,"feed":1780113306417095,"private_id":3060372547},"transaction":"j1"}`,
			`{"body":{"feed":"$ID1","private_id":"$P1","ptype":"subscriber","request":"join","room":4242},"janus":"message","transaction":"$T3"}`},
		{"", `{"janus":"event","session_id":6635366682236306,"transaction":"j1","sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"attached","room":4242,"id":1780113306417095,"streams":[{"feed_id":1780113306417095,"mid":"0"}]}}}`,
			`{"janus":"event","plugindata":{"data":{"id":"$ID1","room":4242,"streams":[{"feed_id":"$ID1","mid":"0"}],"videoroom":"attached"},"plugin":"janus.plugin.videoroom"},"sender":"$H1","session_id":"$S1","transaction":"$T3"}`},
		{"", `{"janus":"error","session_id":6635366682236306,"transaction":"x1","error":{"code":459,"reason":"No such handle 4601177821996538 in session 6635366682236306"}}`,
			`{"error":{"code":459,"reason":"No such handle $H1 in session $S1"},"janus":"error","session_id":"$S1","transaction":"$T4"}`},
	}
	for i, s := range steps {
		var got []byte
		var err error
		if s.path != "" {
			ev := &schema.Event{Transport: schema.HTTP, Direction: schema.ToGateway, Kind: schema.Request, Method: "POST", Path: s.path, Body: []byte(s.body)}
			var path string
			path, got, err = n.Event(ev)
			if want := strings.NewReplacer("6635366682236306", "$S1", "4601177821996538", "$H1").Replace(s.path); path != want {
				t.Errorf("step %d: path %s, want %s", i+1, path, want)
			}
		} else {
			got, err = n.Body([]byte(s.body))
		}
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if string(got) != s.want {
			t.Errorf("step %d:\n got %s\nwant %s", i+1, got, s.want)
		}
	}
}

// TestNormaliseSDP checks the structure a session description becomes,
// on the answer of a live Janus 1.1.2.
func TestNormaliseSDP(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "janus", "echotest-answer-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("{S}", "5044755818774270", "{H}", "2415509775524012", "{tx}", "", "{FP}", "F9:CD").Replace(string(b))
	got, err := diff.Normalise([]byte(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		JSEP struct {
			Type string          `json:"type"`
			SDP  json.RawMessage `json:"sdp"`
		} `json:"jsep"`
	}
	if err := json.Unmarshal(got, &msg); err != nil {
		t.Fatal(err)
	}
	want := `{"attributes":{"extmap-allow-mixed":true,"ice-options":"trickle"},"groups":["BUNDLE 0 1"],` +
		`"m":[{"attributes":{"ice-options":"trickle","rtcp-mux":true},"codecs":{"111":{"fmtp":"useinbandfec=1","rtpmap":"opus/48000/2"}},"direction":"sendrecv","formats":["111"],"media":"audio","mid":"0","proto":"UDP/TLS/RTP/SAVPF","setup":"active"},` +
		`{"attributes":{"ice-options":"trickle","rtcp-mux":true},"codecs":{"96":{"rtcp-fb":["ccm fir","nack","nack pli","goog-remb","transport-cc"],"rtpmap":"VP8/90000"}},"direction":"sendrecv","formats":["96"],"media":"video","mid":"1","proto":"UDP/TLS/RTP/SAVPF","setup":"active"}],` +
		`"name":"-","origin":"- IN IP4","timing":"0 0","version":"0"}`
	if string(msg.JSEP.SDP) != want {
		t.Errorf("jsep.sdp:\n got %s\nwant %s", msg.JSEP.SDP, want)
	}
}

func TestNormaliseSDPLines(t *testing.T) {
	tests := []struct{ name, sdp, want string }{
		{"rejected_m_line", `v=0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\n`,
			`{"m":[{"direction":"inactive","formats":["96"],"media":"video","proto":"UDP/TLS/RTP/SAVPF","rejected":true}],"version":"0"}`},
		{"repeated_attribute", `v=0\r\nm=audio 9 RTP/AVP 0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\r\n`,
			`{"m":[{"attributes":{"extmap":["1 urn:ietf:params:rtp-hdrext:ssrc-audio-level","2 urn:ietf:params:rtp-hdrext:sdes:mid"]},"formats":["0"],"media":"audio","proto":"RTP/AVP"}],"version":"0"}`},
		{"ignored_lines", `v=0\r\no=- 1795530861128625 1 IN IP6 ::1\r\nc=IN IP4 192.0.2.2\r\na=ice-ufrag:BYFd\r\na=ssrc-group:FID 1 2\r\na=msid-semantic: WMS *\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=end-of-candidates\r\n`,
			`{"origin":"- IN IP6","version":"0"}`},
		{"odd_lines", "v=0\nbogus\nz=0 0\nb=AS:256\nm=\na=rtpmap:\n",
			`{"bandwidth":["AS:256"],"invalid":["bogus"],"m":[{"codecs":{"":{"rtpmap":""}},"formats":[]}],"other":["z=0 0"],"version":"0"}`},
		{"not_sdp", `hello`, `"hello"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"jsep": map[string]any{"type": "offer", "sdp": strings.ReplaceAll(tc.sdp, `\r\n`, "\r\n")}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := diff.Normalise(body, nil)
			if err != nil {
				t.Fatal(err)
			}
			var msg struct {
				JSEP struct {
					SDP json.RawMessage `json:"sdp"`
				} `json:"jsep"`
			}
			if err := json.Unmarshal(got, &msg); err != nil {
				t.Fatal(err)
			}
			if string(msg.JSEP.SDP) != tc.want {
				t.Errorf("jsep.sdp:\n got %s\nwant %s", msg.JSEP.SDP, tc.want)
			}
		})
	}
}
