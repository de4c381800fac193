package diff_test

import (
	"bytes"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// TestCompareMovedRequest: the replay sends an answer that Janus refused
// because it raced its handle's teardown after that teardown (plan.Refusal),
// although the capture has it first. The two requests pair by their
// transaction (with the new run's suffix, "~r2", or without), whatever
// their order, and the runs match when Janus answered alike. A request in
// another place with another transaction is still a difference, and so is
// another answer to the moved one.
func TestCompareMovedRequest(t *testing.T) {
	const captured = `
> {"janus":"message","session_id":11,"handle_id":22,"body":{"request":"start"},"jsep":{"type":"answer","sdp":"v=0"},"transaction":"s"}
> {"janus":"detach","session_id":11,"handle_id":22,"transaction":"d"}
< {"janus":"success","session_id":11,"transaction":"d"}
< {"janus":"error","session_id":11,"transaction":"s","error":{"code":459,"reason":"No such handle 22 in session 11"}}
> {"janus":"destroy","session_id":11,"transaction":"x"}
< {"janus":"success","session_id":11,"transaction":"x"}
`
	moved := func(s, d, x, code string) string {
		return `
> {"janus":"detach","session_id":11,"handle_id":22,"transaction":"` + d + `"}
< {"janus":"success","session_id":11,"transaction":"` + d + `"}
> {"janus":"message","session_id":11,"handle_id":22,"body":{"request":"start"},"jsep":{"type":"answer","sdp":"v=0"},"transaction":"` + s + `"}
< {"janus":"error","session_id":11,"transaction":"` + s + `","error":{"code":` + code + `,"reason":"No such handle 22 in session 11"}}
> {"janus":"destroy","session_id":11,"transaction":"` + x + `"}
< {"janus":"success","session_id":11,"transaction":"` + x + `"}
`
	}
	cases := []struct {
		name string
		run  string
		same bool
	}{
		{"moved", moved("s", "d", "x", "459"), true},
		{"moved_run_suffix", moved("s~r2", "d~r2", "x~r2", "459"), true},
		{"moved_other_answer", moved("s", "d", "x", "469"), false},
		{"other_transactions", moved("s2", "d2", "x", "459"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := diff.Compare(script(t, captured, nil), script(t, tc.run, nil), nil, diff.Options{})
			if r.Same != tc.same {
				var buf bytes.Buffer
				diff.WriteText(&buf, r)
				t.Errorf("same %v, want %v:\n%s", r.Same, tc.same, buf.String())
			}
		})
	}
}
