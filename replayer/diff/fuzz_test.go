package diff_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// More seeds, from real Janus 1.1.2 traffic, are in testdata/fuzz/FuzzNormalise/.

// FuzzNormalise normalises random bodies, and random session descriptions
// and candidates inside a body: it must never fail on valid JSON, always
// give valid JSON, and give the same bytes when run on its own output.
func FuzzNormalise(f *testing.F) {
	f.Add([]byte(`{"janus":"success","transaction":"c1","data":{"id":68911223458987}}`), "")
	f.Add([]byte(`{"janus":"error","session_id":6635366682236306,"transaction":"x","error":{"code":458,"reason":"No such session 6635366682236306"}}`), "")
	f.Add([]byte(`{"janus":"event","session_id":"6635366682236306","sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","id":6713301572521604,"private_id":3060372547,"publishers":[{"id":1780113306417095}]}}}`), "")
	f.Add([]byte(`{"janus":"create","transac`), "")
	f.Add([]byte(`[{"janus":"keepalive"},{"janus":"timeout","session_id":3162922560854726}]`), "")
	f.Add([]byte(`{}`), "v=0\r\no=- 4611731400430051336 2 IN IP4 192.0.2.2\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.2\r\na=sendrecv\r\na=mid:0\r\na=ice-ufrag:d2Pr\r\na=rtpmap:111 opus/48000/2\r\na=candidate:1 1 udp 2015363327 192.0.2.2 42584 typ host\r\n")
	f.Add([]byte(`{}`), "candidate:1 1 udp 2015363327 192.0.2.2 42584 typ host raddr")
	f.Fuzz(func(t *testing.T, body []byte, sdp string) {
		checkNormalise(t, body)
		b, err := json.Marshal(map[string]any{
			"janus":     "event",
			"jsep":      map[string]any{"type": "answer", "sdp": sdp},
			"candidate": map[string]any{"candidate": sdp, "sdpMid": "0"},
		})
		if err != nil {
			t.Fatal(err)
		}
		checkNormalise(t, b)
	})
}

func checkNormalise(t *testing.T, body []byte) {
	t.Helper()
	once, err := diff.Normalise(body, nil)
	if err != nil {
		if json.Valid(body) {
			t.Fatalf("Normalise(%q) of valid JSON: %v", body, err)
		}
		return
	}
	if !json.Valid(once) {
		t.Fatalf("Normalise(%q) = %q, not valid JSON", body, once)
	}
	twice, err := diff.Normalise(once, nil)
	if err != nil {
		t.Fatalf("Normalise(%q) of its own output %q: %v", body, once, err)
	}
	if !bytes.Equal(once, twice) {
		t.Fatalf("Normalise is not idempotent on %q:\nonce  %s\ntwice %s", body, once, twice)
	}
}
