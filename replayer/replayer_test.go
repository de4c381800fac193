package replayer_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

var flows = []struct {
	name string
	run  taptest.Flow
}{
	{"echotest", janus.RunEchoTest},
	{"videoroom", janus.RunVideoRoom},
	{"textroom", janus.RunTextRoom},
	{"errors", janus.RunErrors},
}

// TestReplayMatches captures each flow through a tap on one Janus and
// replays it on another (other ports, so other ids), over the captured
// transport and across transports: zero differences.
func TestReplayMatches(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	for _, from := range []string{"http", "ws"} {
		for _, f := range flows {
			_, evs := taptest.Run(t, tp, from, f.run)
			for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
				name := from + "_" + f.name + "_as_captured"
				if to != "" {
					name = from + "_" + f.name + "_over_" + string(to)
				}
				t.Run(name, func(t *testing.T) {
					res, err := replayer.Replay(t.Context(), evs, replayer.Options{
						Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second},
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Runs[0].Waits)+len(res.Runs[0].Errors) > 0 {
						t.Fatalf("replay waits %q errors %q", res.Runs[0].Waits, res.Runs[0].Errors)
					}
					rep := res.Reports[0]
					if f.name == "errors" && to != "" && string(to) != from {
						// Janus's transports word parse errors differently
						// (HTTP "JSON error: ...", WebSocket "Invalid Janus
						// API request - ..."), and over WebSocket the
						// malformed body carries the session: the report
						// must show exactly that, and nothing else.
						for _, d := range rep.Differences {
							if !strings.Contains(d.A+d.B, "454") && !strings.Contains(d.A+d.B, `\"keepalive\",\"transaction\":"`) {
								t.Errorf("unexpected difference across transports: %+v", d)
							}
						}
						return
					}
					if !rep.Same {
						var buf bytes.Buffer
						diff.WriteText(&buf, rep)
						t.Fatalf("replay differs:\n%s", buf.String())
					}
				})
			}
		}
	}
}

// joinSampleRoom joins the videoroom sample room 1234 of the packaged
// configuration as a publisher.
func joinSampleRoom(ctx context.Context, s *janus.Session) error {
	h, err := s.Attach(ctx, janus.VideoRoom, nil)
	if err != nil {
		return err
	}
	j, _, err := s.Message(ctx, h, map[string]any{"request": "join", "ptype": "publisher", "room": 1234, "display": "tap"}, nil)
	if err != nil {
		return err
	}
	if _, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
		return err
	}
	_, _, err = s.Request(ctx, "detach", h, nil)
	return err
}

// TestReplayRoomMissing replays a join of room 1234 on a Janus where that
// room was destroyed: the report points at the joined event's data.
func TestReplayRoomMissing(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "http", joinSampleRoom)
	taptest.Run(t, taptest.New(t, b, "b"), "http", func(ctx context.Context, s *janus.Session) error {
		h, err := s.Attach(ctx, janus.VideoRoom, nil)
		if err != nil {
			return err
		}
		j, r, err := s.Message(ctx, h, map[string]any{"request": "destroy", "room": 1234, "secret": "adminpwd"}, nil)
		if err == nil && (j == nil || j.PluginValue != "destroyed") {
			err = fmt.Errorf("destroy room 1234: %s", r.Body)
		}
		return err
	})
	res, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: b.HTTP}, Wait: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Reports[0]
	if rep.Same || rep.FirstDivergence == nil {
		t.Fatalf("replay without the room matched: %+v", rep)
	}
	d := rep.FirstDivergence
	if d.Janus != "event" || !strings.HasPrefix(d.Path, "plugindata.data.") || d.Index == 0 {
		var buf bytes.Buffer
		diff.WriteText(&buf, rep)
		t.Fatalf("first divergence %+v, want the joined event's plugin data\n%s", d, buf.String())
	}
}

// TestReplaySessionTimeout replays, at the original pace, a session that
// stays idle longer than the second Janus's session timeout: the report
// says the difference is one of timing.
func TestReplaySessionTimeout(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{Args: []string{"-s", "1"}})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "ws", func(ctx context.Context, s *janus.Session) error {
		// Idle for longer than b's timeout plus Janus's 2-4 s watchdog:
		// the pause is the behaviour under test.
		time.Sleep(5 * time.Second)
		_, _, err := s.Request(ctx, "keepalive", 0, nil)
		return err
	})
	res, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{WS: b.WS}, Speed: 1, Wait: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Reports[0]
	if rep.Same {
		t.Fatal("replay on a Janus with a 1 s session timeout matched")
	}
	timing := false
	for _, d := range rep.Differences {
		timing = timing || d.Timing
	}
	if !timing {
		var buf bytes.Buffer
		diff.WriteText(&buf, rep)
		t.Fatalf("no difference is marked as timing:\n%s", buf.String())
	}
}

// TestReplayFindsDifferences replays on a Janus configured differently and
// checks that the report names the message and the JSON path.
func TestReplayFindsDifferences(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	noVideoRoom := janustest.Start(t, janustest.Options{DisablePlugins: []string{"libjanus_videoroom.so"}})
	_, evs := taptest.Run(t, tp, "ws", janus.RunVideoRoom)
	res, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: noVideoRoom.HTTP, WS: noVideoRoom.WS}, Wait: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Same() {
		t.Fatal("replay on a Janus without videoroom matched the capture")
	}
	rep := res.Reports[0]
	if rep.FirstDivergence == nil {
		t.Fatalf("no first divergence in %+v", rep)
	}
	var buf bytes.Buffer
	diff.WriteText(&buf, rep)
	if got := rep.FirstDivergence; got.Janus != "success" && got.Janus != "error" || !strings.Contains(buf.String(), "460") {
		t.Errorf("first divergence %+v; want the attach answered with error 460 instead of success\n%s", got, buf.String())
	}
}
