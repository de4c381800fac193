package diff_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// TestCompareRefusalRace: Janus refuses an answer racing the hangup of its
// handle's PeerConnection with 465 "Error processing SDP" or with 469
// "Unexpected ANSWER (did we offer?)", depending on how far the hangup had
// got. Two runs that differ only in which code they got, each with the
// refusal and the hangup, match, with the pair noted. Any other change is
// a difference: another code, no hangup, or a refused offer.
func TestCompareRefusalRace(t *testing.T) {
	const run = `
> {"janus":"message","session_id":11,"handle_id":22,"body":{"request":"join","feed":77},"transaction":"j"}
< {"janus":"ack","session_id":11,"transaction":"j"}
< {"janus":"event","session_id":11,"sender":22,"transaction":"j","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"attached"}},"jsep":{"type":"offer","sdp":"v=0"}}
> {"janus":"message","session_id":11,"handle_id":22,"body":{"request":"start"},"jsep":{"type":"{TYPE}","sdp":"v=0"},"transaction":"s"}
{HANGUP}
< {"janus":"error","session_id":11,"transaction":"s","error":{"code":{CODE},"reason":"{REASON}"}}
`
	const hangup = `< {"janus":"hangup","session_id":11,"sender":22,"reason":"DTLS alert"}`
	reasons := map[string]string{"465": "Error processing SDP", "469": "Unexpected ANSWER (did we offer?)", "459": "No such handle 22 in session 11"}
	vars := func(typ, code string, hung bool) map[string]string {
		v := map[string]string{"TYPE": typ, "CODE": code, "REASON": reasons[code], "HANGUP": ""}
		if hung {
			v["HANGUP"] = hangup
		}
		return v
	}
	captured := vars("answer", "465", true)
	cases := []struct {
		name       string
		a, b       map[string]string
		same       bool
		refusalRan int
	}{
		{"465_469", captured, vars("answer", "469", true), true, 1},
		{"469_465", vars("answer", "469", true), captured, true, 1},
		{"same_code", captured, captured, true, 0},
		{"no_hangup_new_run", captured, vars("answer", "469", false), false, 0},
		{"no_hangup_capture", vars("answer", "465", false), vars("answer", "469", true), false, 0},
		{"other_code", captured, vars("answer", "459", true), false, 0},
		{"offer", vars("offer", "465", true), vars("offer", "469", true), false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := diff.Compare(script(t, run, tc.a), script(t, run, tc.b), nil, diff.Options{CompareMedia: true})
			var buf bytes.Buffer
			if err := diff.WriteText(&buf, r); err != nil {
				t.Fatal(err)
			}
			if r.Same != tc.same || len(r.RefusalRace) != tc.refusalRan {
				t.Errorf("same %v with %d refusal race notes, want %v with %d:\n%s", r.Same, len(r.RefusalRace), tc.same, tc.refusalRan, buf.String())
			}
			if tc.refusalRan > 0 && !strings.Contains(buf.String(), "refusal race: 1 refusal of an answer") {
				t.Errorf("the text report does not note the refusal race:\n%s", buf.String())
			}
		})
	}
}
