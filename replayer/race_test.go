package replayer_test

import (
	"bytes"
	"cmp"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

var trimRace = flag.String("trim-race", "", "trim the demo capture FILE:NAME (TestDemoPagesReplay with JANUSTAP_DEMO_CAPTURES) into testdata/flows/NAME")

// raceFlows are real captures of the videoroom demo over REST (Meetecho's
// page in Chromium through serve: TestDemoPagesReplay) in which the page
// answered Janus's new offer on a subscriber as it tore the subscriber down
// (the publisher had left), and Janus refused the answer. In the 459 one
// the page's detach went first; in the 469 one the page had closed the
// subscriber's PeerConnection and Janus had hung it up (its hangup
// notification comes just after the refusal); in the 465 one the answer
// came while Janus was hanging the PeerConnection up.
var raceFlows = []struct {
	file string
	code int
}{
	{"videoroom_answer_race_459_http.jsonl", 459},
	{"videoroom_answer_race_469_http.jsonl", 469},
	{"videoroom_answer_race_465_http.jsonl", 465},
	// The tap recorded the answer first and the detach second (two
	// concurrent POSTs), Janus took the detach first: the plan lets the
	// detach go first.
	{"videoroom_answer_race_459_answer_first_http.jsonl", 459},
}

// TestTrimRaceCapture writes a demo capture, trimmed, to testdata/flows
// with -trim-race FILE:NAME: without CORS preflights, long-poll GETs, the
// tap's failures (none of which a replay sends or compares), trickles and
// their acks (the replay's peer puts its candidates in its SDP), and HTTP
// headers; host details redacted.
func TestTrimRaceCapture(t *testing.T) {
	if *trimRace == "" {
		t.Skip("run with -trim-race FILE:NAME to trim a demo capture into testdata/flows")
	}
	from, name, ok := bytes.Cut([]byte(*trimRace), []byte(":"))
	if !ok {
		t.Fatalf("-trim-race %q: want FILE:NAME", *trimRace)
	}
	f, err := os.Open(string(from))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := replayer.ReadJSONL(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	trickles := map[string]bool{} // request event ids
	var buf bytes.Buffer
	for _, ev := range evs {
		switch {
		case ev.Kind == schema.Failure, ev.Method == "OPTIONS",
			ev.Kind == schema.Request && ev.Method == "GET":
			continue
		case ev.Kind == schema.Request && ev.Janus != nil && ev.Janus.Janus == "trickle":
			trickles[ev.ID] = true
			continue
		case ev.Kind == schema.Response && trickles[ev.Parent]:
			continue
		}
		ev.Header = nil
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if b, _, err = schema.RedactHostDetails(b); err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join("testdata", "flows", string(name)), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReplayAnswerRace replays the race captures on a second Janus with
// the replay's peers, as captured and over WebSocket: the plan marks the
// refused answer, the new run sends it once the same teardown happened
// (the detach answered; the peer closed and Janus's hangup in), Janus
// refuses it again, and the runs match with nothing waited for in vain.
// The code is the captured one, but for the 465 capture: once the hangup
// is through Janus says 469, and the report notes the pair as a refusal
// race.
func TestReplayAnswerRace(t *testing.T) {
	b := janustest.Start(t, janustest.Options{})
	cases := []struct {
		file         string
		code, wantIn int // captured code, the new run's
	}{
		{raceFlows[0].file, 459, 459},
		{raceFlows[1].file, 469, 469},
		{raceFlows[2].file, 465, 469},
		{raceFlows[3].file, 459, 459},
	}
	for _, f := range cases {
		evs := readFlow(t, f.file)
		p, err := plan.Build(evs)
		if err != nil {
			t.Fatal(err)
		}
		var refused *plan.Step
		for _, c := range p.Clients {
			for _, s := range c.Steps {
				if s.Refused != nil {
					refused = s
				}
			}
		}
		if refused == nil || refused.Refused.Code != f.code {
			t.Fatalf("%s: the plan has no step refused with %d: %+v", f.file, f.code, refused)
		}
		for _, to := range []schema.Transport{"", schema.WS} {
			t.Run(f.file+"_over_"+string(to), func(t *testing.T) {
				res, err := replayer.Replay(t.Context(), evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second,
						Media: &media.Options{}},
				})
				run, rep := res.Runs[0], res.Reports[0]
				if err != nil || !res.Same() || len(run.Waits) > 0 {
					var buf bytes.Buffer
					diff.WriteText(&buf, rep)
					t.Fatalf("%v; waits %q errors %q\n%s", err, run.Waits, run.Errors, buf.String())
				}
				got := 0
				for _, ev := range run.Events {
					if ev.Direction == schema.ToClient && ev.Janus != nil && ev.Janus.Janus == "error" {
						got = ev.Janus.ErrorCode
					}
				}
				if got != f.wantIn {
					t.Errorf("the new run's error code is %d, want %d (the capture's %d)", got, f.wantIn, f.code)
				}
				if n, want := len(rep.RefusalRace), min(1, abs(f.code-f.wantIn)); n != want {
					t.Errorf("%d refusal race notes, want %d: %+v", n, want, rep.RefusalRace)
				}
			})
		}
	}
}

func abs(n int) int { return max(n, -n) }

// TestReplayClosesPeerAsCaptured replays a real capture of the videoroom
// demo over WebSocket (TestDemoPagesReplay) in which the page closed its
// subscriber's PeerConnection as it detached the subscriber (the publisher
// had left): Janus hung it up with "DTLS alert" while the detach was in
// flight. The replay closes its peer before it sends the detach and waits
// for that hangup, so the new run has the same hangup, and nothing is
// waited for in vain (before, a run whose detach Janus took first waited
// for a hangup that never came).
func TestReplayClosesPeerAsCaptured(t *testing.T) {
	b := janustest.Start(t, janustest.Options{})
	evs := readFlow(t, "videoroom_detach_closes_ws.jsonl")
	for _, to := range []schema.Transport{"", schema.HTTP} {
		t.Run("over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
			res, err := replayer.Replay(t.Context(), evs, replayer.Options{
				Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second,
					Media: &media.Options{}},
			})
			if err != nil {
				t.Fatal(err)
			}
			run, rep := res.Runs[0], res.Reports[0]
			if !res.Same() || len(run.Waits) > 0 {
				var buf bytes.Buffer
				diff.WriteText(&buf, rep)
				t.Fatalf("waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
			}
			alerts, detachAt := 0, -1
			for i, ev := range run.Events {
				switch {
				case ev.Janus == nil:
				case ev.Direction == schema.ToGateway && ev.Janus.Janus == "detach":
					detachAt = i
				case ev.Direction == schema.ToClient && ev.Janus.Janus == "hangup" && ev.Janus.Reason == "DTLS alert":
					if detachAt >= 0 {
						t.Errorf("Janus's DTLS alert hangup came after the detach was sent")
					}
					alerts++
				}
			}
			if alerts != 1 || detachAt < 0 {
				t.Errorf("the new run has %d DTLS alert hangups and a detach at %d, want one hangup before the detach", alerts, detachAt)
			}
		})
	}
}
