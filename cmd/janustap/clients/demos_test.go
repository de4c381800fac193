package clients_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// demo is one scenario of Meetecho's demo pages: the browser steps, the
// sessions they leave (by the eval steps' names) and the handles each has.
type demo struct {
	name     string
	steps    func(base string) []clienttest.BrowserStep
	sessions []string // eval names of the pages' session ids
	handles  []int    // handles of each session
	// receivers is how many of the replay's peers must receive Janus's
	// packets: the echotest's, the videoroom's two subscribers.
	receivers int
	// dataChannel: the page's PeerConnection has a data channel, which the
	// replay's peer must open.
	dataChannel bool
	// dataSent is how many requests the page sent over its data channel
	// that Janus's events show (the textroom join), which the replay's
	// peer must send again and the new Janus accept.
	dataSent int
}

// jsTrue is a waitFn that a page's global janus.js state satisfies.
func waitJS(page int, js string) clienttest.BrowserStep {
	return clienttest.BrowserStep{Do: "waitFn", Page: page, JS: js}
}

// start opens a demo page and presses its Start button.
func start(page int, url string) []clienttest.BrowserStep {
	return []clienttest.BrowserStep{
		{Do: "goto", Page: page, URL: url},
		waitJS(page, "typeof Janus !== 'undefined' && Janus.initDone === true"),
		{Do: "click", Page: page, Selector: "#start"},
	}
}

// stop presses the page's Stop button (janus.destroy()) and waits for the
// page to reload, which it does once Janus confirmed the destroy.
func stop(page int) []clienttest.BrowserStep {
	return []clienttest.BrowserStep{
		{Do: "eval", Page: page, Name: fmt.Sprintf("mark%d", page), JS: "window.janustapMark = true"},
		{Do: "click", Page: page, Selector: "#start"},
		waitJS(page, "window.janustapMark === undefined && document.readyState === 'complete'"),
	}
}

// sessionID is an eval step naming the page's Janus session id.
func sessionID(page int, name string) clienttest.BrowserStep {
	return clienttest.BrowserStep{Do: "eval", Page: page, Name: name, JS: "janus.getSessionId()"}
}

// playing is true when a video element whose id starts with prefix plays
// frames.
func playing(prefix string) string {
	return fmt.Sprintf("[...document.querySelectorAll('video[id^=%s]')].some(v => v.videoWidth > 0 && v.currentTime > 0.5)", prefix)
}

// demos are the scenarios: the echotest, a videoroom with two participants
// who see each other, and a textroom chat over data channels.
var demos = []demo{
	{
		name: "echotest",
		steps: func(base string) []clienttest.BrowserStep {
			return concat(
				start(0, base+"/echotest.html"),
				[]clienttest.BrowserStep{
					waitJS(0, playing("peervideo")),
					// janus.js hears "media" events for audio and video.
					sessionID(0, "session"),
				},
				stop(0))
		},
		sessions: []string{"session"},
		handles:  []int{1}, receivers: 1, dataChannel: true,
	},
	{
		name: "videoroom",
		steps: func(base string) []clienttest.BrowserStep {
			join := func(page int, name string) []clienttest.BrowserStep {
				return concat(start(page, base+"/videoroomtest.html"), []clienttest.BrowserStep{
					{Do: "wait", Page: page, Selector: "#username"},
					{Do: "fill", Page: page, Selector: "#username", Text: name},
					{Do: "click", Page: page, Selector: "#register"},
					waitJS(page, playing("myvideo")),
				})
			}
			return concat(
				join(0, "alice"),
				join(1, "bob"),
				[]clienttest.BrowserStep{
					// Each sees the other's video.
					waitJS(0, playing("remotevideo")),
					waitJS(1, playing("remotevideo")),
					sessionID(0, "alice"),
					sessionID(1, "bob"),
				},
				stop(1),
				// alice hears bob leave before she leaves.
				[]clienttest.BrowserStep{waitJS(0, "feeds.filter(f => f).length === 0")},
				stop(0))
		},
		sessions: []string{"alice", "bob"},
		handles:  []int{2, 2}, receivers: 2,
	},
	{
		name: "textroom",
		steps: func(base string) []clienttest.BrowserStep {
			return concat(start(0, base+"/textroomtest.html"), []clienttest.BrowserStep{
				{Do: "wait", Selector: "#username"},
				{Do: "fill", Selector: "#username", Text: "carol"},
				{Do: "click", Selector: "#register"},
				waitJS(0, "!document.querySelector('#datasend').disabled"),
				{Do: "fill", Selector: "#datasend", Text: "hello from carol"},
				{Do: "press", Key: "Enter"},
				waitJS(0, "document.querySelector('#chatroom').textContent.includes('hello from carol')"),
				sessionID(0, "session"),
			}, stop(0))
		},
		sessions: []string{"session"},
		handles:  []int{1}, dataChannel: true, dataSent: 1,
	},
}

// destroyed says whether the recorder has seen the session destroyed with
// handles handles and every one of its transactions answered. The demo
// pages destroy their session without detaching their handles first
// (janus.js's destroy), so sessionDone does not fit.
func (s *served) destroyed(ctx context.Context, id uint64, handles int) error {
	d, err := s.db.Session(ctx, gateway, id)
	if err != nil {
		return err
	}
	if d.Ended != store.EndDestroyed || len(d.Handles) != handles {
		return fmt.Errorf("session %d: ended %q with %d handles, want destroyed with %d", id, d.Ended, len(d.Handles), handles)
	}
	for _, tx := range d.Transactions {
		if tx.Reply == "" {
			return fmt.Errorf("session %d: transaction %q (%s %s) not answered", id, tx.Transaction, tx.Janus, tx.PluginRequest)
		}
	}
	return nil
}

// saveCapture writes evs as JSON Lines to file, for `janustap replay
// --from-file` by hand.
func saveCapture(t *testing.T, file string, evs []*schema.Event) {
	t.Helper()
	var buf bytes.Buffer
	for _, ev := range evs {
		b, err := schema.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func concat(lists ...[]clienttest.BrowserStep) []clienttest.BrowserStep {
	var out []clienttest.BrowserStep
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// janusOffers counts the session descriptions Janus offered (subscribers,
// textroom) among evs.
func janusOffers(evs []*schema.Event) int {
	n := 0
	for _, ev := range evs {
		if ev.Janus != nil && ev.Direction == schema.ToClient && ev.Janus.JSEP == "offer" {
			n++
		}
	}
	return n
}

// countJanus counts the messages of evs from the gateway by janus type.
func countJanus(evs []*schema.Event) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		if ev.Janus != nil && ev.Direction == schema.ToClient {
			n[ev.Janus.Janus]++
		}
	}
	return n
}

// TestDemoPagesReplay drives Meetecho's own demo pages (Debian's
// janus-demos) in headless Chromium with fake camera and microphone,
// through `janustap serve` over REST and over WebSocket: the echotest, a
// videoroom with two participants (two browser contexts) who see each
// other, and a textroom chat. Each capture is replayed on a second Janus
// with the replay's WebRTC peers, as captured, over the other transport,
// and five times five at once: no difference, webrtcup and media
// included.
func TestDemoPagesReplay(t *testing.T) {
	clienttest.RequireDemos(t)
	// Janus posts its own events to serve: the textroom's join, which
	// went over the data channel, is among them, and the replay sends it
	// again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := janustest.Start(t, janustest.Options{Events: &janustest.EventHandler{URL: evh.URL(ln.Addr())}})
	j2 := janustest.Start(t, janustest.Options{})
	s := serve(t, j, func(c *recorder.Config) { c.EVHListener = ln })
	base := clienttest.ServeDemos(t, map[string]string{"http": s.http(), "ws": s.ws()})

	for _, from := range []string{"http", "ws"} {
		for _, d := range demos {
			t.Run(d.name+"_"+from, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
				defer cancel()
				bctx, bcancel := context.WithTimeout(ctx, 90*time.Second)
				res, err := clienttest.RunSteps(bctx, 0, 0, d.steps(base+"/"+from))
				bcancel()
				if err != nil {
					t.Logf("browser output:\n%s", res.Stderr)
					t.Fatalf("%v (console %q)", err, res.Console)
				}
				var ids []uint64
				for _, name := range d.sessions {
					var id uint64
					if err := json.Unmarshal(res.Values[name], &id); err != nil || id == 0 {
						t.Fatalf("session of %s: %s (%v)", name, res.Values[name], err)
					}
					ids = append(ids, id)
				}
				var all, dc []*schema.Event
				janustest.WaitFor(t, 30*time.Second, func() (err error) {
					for i, id := range ids {
						if err := s.destroyed(ctx, id, d.handles[i]); err != nil {
							return err
						}
					}
					if all, err = dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway}); err != nil {
						return err
					}
					dc = replayer.DataChannelEvents(all, replayer.Select(all, replayer.Selection{Gateway: gateway, Sessions: ids}))
					if n := textroomJoins(dc); n < d.dataSent {
						return fmt.Errorf("Janus's events have %d textroom joins of the sessions so far, want %d", n, d.dataSent)
					}
					// Janus posts its events in order, a session's end
					// last: the PeerConnection's hangup that tells the
					// textroom's own leave from a client's is in.
					for _, id := range ids {
						if d.dataSent > 0 && !slices.ContainsFunc(all, func(ev *schema.Event) bool {
							return ev.Kind == schema.JanusEvent && ev.SessionID() == id && bytes.Contains(ev.Body, []byte(`"destroyed"`))
						}) {
							return fmt.Errorf("Janus has not posted the end of session %d yet", id)
						}
					}
					return nil
				})
				evs := replayer.Select(all, replayer.Selection{Gateway: gateway, Sessions: ids})
				if dir := os.Getenv("JANUSTAP_DEMO_CAPTURES"); dir != "" {
					saveCapture(t, filepath.Join(dir, d.name+"-"+from+".jsonl"), evs)
				}
				captured := countJanus(evs)
				if captured["webrtcup"] == 0 {
					t.Fatalf("the capture has no webrtcup: %v", captured)
				}
				t.Logf("captured sessions %v over %s: %d events, %v", ids, from, len(evs), captured)
				race := answerRace(evs)
				if race != nil {
					// The demo page answered Janus's new offer on a
					// subscriber as it tore that subscriber down, and Janus
					// refused the answer (2 of 5 CI runs over HTTP): the
					// replay sends it once the same teardown happened, and
					// Janus must refuse it again (plan.Refusal).
					t.Logf("the capture caught the demo page's answer racing its subscriber's teardown (Janus said %d %q): the replays must get the same refusal", race.Janus.ErrorCode, race.Janus.ErrorReason)
				}

				other := schema.WS
				if from == "ws" {
					other = schema.HTTP
				}
				for _, to := range []schema.Transport{"", other} {
					t.Run("over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
						rres, _ := replaySessions(t, all, ids, drive.Options{
							Target: drive.Target{HTTP: j2.HTTP, WS: j2.WS}, Transport: to, Media: &media.Options{}, DataChannel: dc,
						})
						checkReplay(t, rres)
						run := rres.Runs[0]
						if got := countJanus(run.Events); got["webrtcup"] != captured["webrtcup"] || got["media"] != captured["media"] {
							t.Errorf("new run has %d webrtcup and %d media, the capture %d and %d", got["webrtcup"], got["media"], captured["webrtcup"], captured["media"])
						}
						for _, m := range run.Media {
							if !m.Connected {
								t.Errorf("peer of handle %d did not connect: %+v", m.Handle, m)
							}
						}
						if race != nil {
							// 465 and 469 are one refusal, said before or
							// after Janus's hangup was through: the report
							// notes the pair (diff Report.RefusalRace).
							got := answerRace(run.Events)
							switch {
							case got == nil:
								t.Errorf("the new run has no refusal, the capture %d", race.Janus.ErrorCode)
							case got.Janus.ErrorCode != race.Janus.ErrorCode && len(rres.Reports[0].RefusalRace) != 1:
								t.Errorf("the new run's refusal is %d, the capture's %d, and the report notes no refusal race", got.Janus.ErrorCode, race.Janus.ErrorCode)
							default:
								t.Logf("the new run got the refusal again: %d %q", got.Janus.ErrorCode, got.Janus.ErrorReason)
							}
						}
						if got, want := janusOffers(run.Events), janusOffers(evs); got != want {
							t.Errorf("Janus made %d offers in the new run, %d in the capture", got, want)
						}
						received := 0
						for _, m := range run.Media {
							if len(m.Received) > 0 {
								received++
							}
						}
						if received < d.receivers {
							t.Errorf("%d peers received packets from Janus, want %d: %+v", received, d.receivers, run.Media)
						}
						if d.dataChannel && !slices.ContainsFunc(run.Media, func(m drive.MediaStats) bool { return m.DataChannel }) {
							t.Errorf("no peer opened the data channel: %+v", run.Media)
						}
						checkDataSent(t, run, d.dataSent)
						t.Logf("peers: %+v", run.Media)
					})
				}
				t.Run("repeat_5_concurrency_5", func(t *testing.T) {
					sel := replayer.Select(all, replayer.Selection{Gateway: gateway, Sessions: ids})
					rres, err := replayer.Replay(ctx, sel, replayer.Options{
						Options: drive.Options{Target: drive.Target{HTTP: j2.HTTP, WS: j2.WS}, Wait: 10 * time.Second,
							Media: &media.Options{}, OwnRooms: true, DataChannel: dc},
						Repeat: 5, Concurrency: 5,
					})
					if err != nil {
						t.Fatal(err)
					}
					if s := rres.Summary(); s.Matched != 5 {
						for i, r := range rres.Reports {
							if r != nil && (!r.Same || len(rres.Runs[i].Errors) > 0) {
								t.Logf("run %d: waits %q errors %q\n%s", i+1, rres.Runs[i].Waits, rres.Runs[i].Errors, reportText(r))
							}
						}
						t.Fatalf("summary %+v, want 5 matched", s)
					}
					for i, r := range rres.Runs {
						if len(r.Media) != len(rres.Runs[0].Media) || slices.ContainsFunc(r.Media, func(m drive.MediaStats) bool { return !m.Connected }) {
							t.Errorf("run %d: peers %+v, want all %d connected", i+1, r.Media, len(rres.Runs[0].Media))
						}
						if d.dataChannel && !slices.ContainsFunc(r.Media, func(m drive.MediaStats) bool { return m.DataChannel }) {
							t.Errorf("run %d: no peer opened the data channel: %+v", i+1, r.Media)
						}
						checkDataSent(t, r, d.dataSent)
					}
				})
			})
		}
	}
}

// TestDemoTextroomJanusEvents runs the textroom demo through serve with
// Janus posting its own events to serve's receiver, and checks what of the
// data channel traffic the capture holds: the textroom's join (room,
// username, display), which Janus's event handler carries, and not the chat
// message, which only the data channel carried. This is why a replay
// cannot send the messages again (README, "Replay with media").
func TestDemoTextroomJanusEvents(t *testing.T) {
	clienttest.RequireDemos(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := janustest.Start(t, janustest.Options{Events: &janustest.EventHandler{URL: evh.URL(ln.Addr())}})
	s := serve(t, j, func(c *recorder.Config) { c.EVHListener = ln })
	base := clienttest.ServeDemos(t, map[string]string{"ws": s.ws()})
	var textroom demo
	for _, d := range demos {
		if d.name == "textroom" {
			textroom = d
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	res, err := clienttest.RunSteps(ctx, 0, 0, textroom.steps(base+"/ws"))
	if err != nil {
		t.Logf("browser output:\n%s", res.Stderr)
		t.Fatalf("%v (console %q)", err, res.Console)
	}
	var joins, messages int
	janustest.WaitFor(t, 30*time.Second, func() error {
		all, err := dbEvents(ctx, s.db, store.EventFilter{Gateway: gateway})
		if err != nil {
			return err
		}
		joins, messages = 0, 0
		destroyed := false // Janus posts its events in order: the session's end comes last
		for _, ev := range all {
			if ev.Kind == schema.JanusEvent && bytes.Contains(ev.Body, []byte(`"destroyed"`)) {
				destroyed = true
			}
			if ev.Kind != schema.JanusEvent || !bytes.Contains(ev.Body, []byte("janus.plugin.textroom")) {
				continue
			}
			if bytes.Contains(ev.Body, []byte(`"join"`)) && bytes.Contains(ev.Body, []byte(`"carol"`)) {
				joins++
			}
			if bytes.Contains(ev.Body, []byte("hello from carol")) {
				messages++
			}
		}
		if joins == 0 || !destroyed {
			return fmt.Errorf("%d textroom joins among Janus's events, session destroyed %v (%d events)", joins, destroyed, len(all))
		}
		return nil
	})
	if messages != 0 {
		t.Errorf("Janus's events carry the chat message %d times; the README says they do not", messages)
	}
	t.Logf("Janus's events: %d textroom join, %d with the message text", joins, messages)
}

// textroomJoins counts the textroom joins among Janus's events evs.
func textroomJoins(evs []*schema.Event) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == schema.JanusEvent && bytes.Contains(ev.Body, []byte("janus.plugin.textroom")) && bytes.Contains(ev.Body, []byte(`"join"`)) {
			n++
		}
	}
	return n
}

// checkDataSent checks that the run's peers sent want requests over their
// data channels (what Janus's events of the capture show) and that the new
// Janus accepted each: a refusal is among the peer's DataErrors.
func checkDataSent(t *testing.T, run *drive.Result, want int) {
	t.Helper()
	sent := 0
	for _, m := range run.Media {
		sent += m.DataSent
		if len(m.DataErrors) > 0 {
			t.Errorf("peer of handle %d: data channel errors %q", m.Handle, m.DataErrors)
		}
	}
	if sent != want {
		t.Errorf("the peers sent %d requests over their data channels, want %d (Janus's events of the capture): %+v", sent, want, run.Media)
	}
}

// answerRace returns Janus's refusal of a client's answer that raced the
// teardown of its handle (459 no such handle, 469 unexpected answer, 465
// error processing SDP), if the run has one.
func answerRace(evs []*schema.Event) *schema.Event {
	for _, ev := range evs {
		if ev.Janus != nil && ev.Janus.Janus == "error" && (ev.Janus.ErrorCode == 459 || ev.Janus.ErrorCode == 469 || ev.Janus.ErrorCode == 465) {
			return ev
		}
	}
	return nil
}
