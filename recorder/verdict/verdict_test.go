package verdict_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/verdict"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// loadFlow projects testdata/flows/name.jsonl into a new store and returns
// it with the first session the flow created.
func loadFlow(t *testing.T, name string) (*store.DB, uint64) {
	t.Helper()
	return loadFlowUntil(t, name, nil)
}

// loadFlowUntil is loadFlow keeping the events before the first that stop
// says is one too many (nil keeps them all).
func loadFlowUntil(t *testing.T, name string, stop func(*schema.Event) bool) (*store.DB, uint64) {
	t.Helper()
	return loadFlowEdited(t, name, func(ev *schema.Event) (bool, bool) { return true, stop != nil && stop(ev) })
}

// loadFlowEdited is loadFlow keeping the events edit keeps, up to the
// first it says to stop at.
func loadFlowEdited(t *testing.T, name string, edit func(*schema.Event) (keep, stop bool)) (*store.DB, uint64) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "flows", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []store.Item
	var session uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		ev, err := schema.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s line %d: %v", name, len(items)+1, err)
		}
		keep, stop := edit(ev)
		if stop {
			break
		}
		if !keep {
			continue
		}
		if session == 0 && ev.Janus != nil && ev.Janus.Janus == "success" && ev.Janus.DataID != 0 && ev.Janus.SessionID == 0 {
			session = ev.Janus.DataID
		}
		items = append(items, store.Item{StreamSeq: uint64(len(items) + 1), Event: ev, Raw: bytes.Clone(sc.Bytes())})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	db := store.NewDB(filepath.Join(t.TempDir(), "janustap.db"))
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Apply(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	if session == 0 {
		t.Fatalf("%s creates no session", name)
	}
	return db, session
}

func TestRules(t *testing.T) {
	tests := []struct {
		flow  string
		rules []string // the rules that fire, in order
		codes []int    // codes the first finding's cause or detail must name
	}{
		{flow: "normal"},
		{flow: "janus-unreachable", rules: []string{"janus-unreachable"}},
		{flow: "janus-unreachable-ws", rules: []string{"janus-unreachable"}},
		{flow: "ws-dropped", rules: []string{"connection-dropped"}},
		{flow: "long-polls-stopped", rules: []string{"connection-dropped", "session-timeout"}},
		{flow: "session-timeout", rules: []string{"session-timeout"}},
		{flow: "janus-error-465", rules: []string{"janus-error"}, codes: []int{465}},
		{flow: "plugin-error-428", rules: []string{"plugin-error"}, codes: []int{428}},
		{flow: "plugin-error-433", rules: []string{"plugin-error"}, codes: []int{433}},
		{flow: "hangup-ice-failed", rules: []string{"hangup", "pc-never-up"}},
		{flow: "ice-failed-evh", rules: []string{"ice-failed", "hangup", "pc-never-up"}},
		{flow: "pc-never-up", rules: []string{"pc-never-up"}},
		{flow: "videoroom-pub-sub", rules: []string{"pc-never-up"}},
		// Captured by replayer's TestCaptureVerdictFlows (-capture-verdict),
		// with a real WebRTC peer made to fail.
		{flow: "dtls-alert", rules: []string{"dtls-failed"}},
		{flow: "no-media", rules: []string{"no-media", "no-media"}},
		{flow: "slowlink", rules: []string{"slowlink"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			db, session := loadFlow(t, tt.flow)
			v, err := verdict.Why(t.Context(), db, "janus", session)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fd := range v.Findings {
				got = append(got, fd.Rule)
				covered[fd.Rule] = true
				if len(fd.Evidence) == 0 {
					t.Errorf("%s: no evidence", fd.Rule)
				}
				for _, e := range fd.Evidence {
					if e.EventID == "" {
						t.Errorf("%s: evidence without event id: %+v", fd.Rule, e)
					}
				}
			}
			if !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v, want %v", got, tt.rules)
			}
			if len(tt.rules) == 0 && v.Summary != verdict.NoProblem {
				t.Errorf("summary = %q, want %q", v.Summary, verdict.NoProblem)
			}
			for _, c := range tt.codes {
				if s := v.Findings[0].Cause + v.Findings[0].Detail; !bytes.Contains([]byte(s), []byte(strconv.Itoa(c))) {
					t.Errorf("first finding does not name code %d: %s", c, s)
				}
			}
			var text bytes.Buffer
			if err := verdict.WriteText(&text, v); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.flow+".golden", text.Bytes())
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.flow+".json.golden", append(b, '\n'))
		})
	}
	for _, r := range verdict.Rules() {
		if !covered[r.Name] {
			t.Errorf("rule %s fires on no captured flow", r.Name)
		}
	}
}

// TestPCNeverUpWhileSettingUp cuts the pc-never-up flow after the answer:
// a call being set up is not yet a failure.
func TestPCNeverUpWhileSettingUp(t *testing.T) {
	answered := false
	db, session := loadFlowUntil(t, "pc-never-up", func(ev *schema.Event) bool {
		stop := answered
		answered = answered || (ev.Janus != nil && ev.Janus.JSEP == "answer")
		return stop
	})
	v, err := verdict.Why(t.Context(), db, "janus", session)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Findings) != 0 {
		t.Errorf("a session right after its answer: %+v, want no finding", v.Findings)
	}
}

// TestMediaRulesBelowThreshold cuts the no-media and slowlink flows early:
// a PeerConnection up for a second and two slow links are not yet
// findings.
func TestMediaRulesBelowThreshold(t *testing.T) {
	tests := []struct {
		flow  string
		janus string // the flow is cut after the n-th client event of this type
		n     int
		after time.Duration // and this long after it (0: just before it)
	}{
		{flow: "no-media", janus: "webrtcup", n: 1, after: time.Second},
		{flow: "slowlink", janus: "slowlink", n: 3},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			seen := 0
			var at time.Time
			db, session := loadFlowUntil(t, tt.flow, func(ev *schema.Event) bool {
				if !at.IsZero() {
					return ev.Time.After(at.Add(tt.after))
				}
				if ev.Transport != schema.EVH && ev.Janus != nil && ev.Janus.Janus == tt.janus {
					if seen++; seen == tt.n {
						at = ev.Time
						return tt.after == 0
					}
				}
				return false
			})
			if at.IsZero() {
				t.Fatalf("the flow has fewer than %d %s", tt.n, tt.janus)
			}
			v, err := verdict.Why(t.Context(), db, "janus", session)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Findings) != 0 {
				t.Errorf("cut at the %d-th %s + %s: %+v, want no finding", tt.n, tt.janus, tt.after, v.Findings)
			}
		})
	}
}

// TestICEFailedTrickleNotCompleted: the ICE failure of ice-failed-evh
// without the client's end of candidates (its trickle with completed and
// the ack) adds that the client never said it was done, with the trickle
// as evidence; the capture as it is (completed sent) says nothing of it.
func TestICEFailedTrickleNotCompleted(t *testing.T) {
	for _, drop := range []bool{false, true} {
		var completedTx string
		db, session := loadFlowEdited(t, "ice-failed-evh", func(ev *schema.Event) (bool, bool) {
			if !drop || ev.Janus == nil {
				return true, false
			}
			if ev.Janus.Janus == "trickle" && bytes.Contains(ev.Body, []byte(`"completed"`)) {
				completedTx = ev.Janus.Transaction
				return false, false
			}
			return !(completedTx != "" && ev.Janus.Transaction == completedTx), false
		})
		if drop && completedTx == "" {
			t.Fatal("ice-failed-evh has no trickle with completed to drop")
		}
		v, err := verdict.Why(t.Context(), db, "janus", session)
		if err != nil {
			t.Fatal(err)
		}
		var detail string
		for _, fd := range v.Findings {
			if fd.Rule == "ice-failed" {
				detail = fd.Detail
			}
		}
		if detail == "" {
			t.Fatalf("drop=%v: no ice-failed finding: %+v", drop, v.Findings)
		}
		if got := strings.Contains(detail, "never said it was done"); got != drop {
			t.Errorf("drop=%v: detail %q; want the missing end of candidates named only when it is missing", drop, detail)
		}
	}
}
