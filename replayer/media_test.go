package replayer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/janusapi"
	"github.com/janustap/janustap/recorder/janustest"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// jsepSDP returns the SDP of a message's jsep.
func jsepSDP(b []byte) string {
	var m struct {
		JSEP struct{ SDP string } `json:"jsep"`
	}
	json.Unmarshal(b, &m)
	return m.JSEP.SDP
}

// echoWithMedia is an echotest call with a real WebRTC peer: offer, answer,
// webrtcup, media on both m-lines, then detach.
func echoWithMedia(ctx context.Context, s *janusapi.Session) error {
	h, err := s.Attach(ctx, janusapi.EchoTest, nil)
	if err != nil {
		return err
	}
	p, err := media.New(janusapi.OfferSDP, media.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		return err
	}
	j, _, err := s.Message(ctx, h, map[string]any{"audio": true, "video": true}, map[string]any{"type": "offer", "sdp": offer})
	if err != nil {
		return err
	}
	b, _, err := s.WaitEvent(ctx, janusapi.ForTx(j.Transaction))
	if err != nil {
		return err
	}
	if err := p.SetAnswer(jsepSDP(b)); err != nil {
		return err
	}
	for _, typ := range []string{"webrtcup", "media", "media"} {
		if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == typ }); err != nil {
			return fmt.Errorf("%s: %w", typ, err)
		}
	}
	if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
		return err
	}
	_, _, err = s.WaitEvent(ctx, janusapi.ForType("detached"))
	return err
}

// TestReplayWithMedia captures an echotest call made by a real WebRTC peer
// through the tap, and replays it on a second Janus with the replay's own
// peer: webrtcup and media events come for real and the runs match, media
// events included, as captured and across transports.
func TestReplayWithMedia(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	for _, from := range []string{"http", "ws"} {
		_, evs := taptest.Run(t, tp, from, echoWithMedia)
		for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
			t.Run(from+"_echotest_over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
				res, err := replayer.Replay(t.Context(), evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second,
						Media: &media.Options{}},
				})
				run := res.Runs[0]
				if err != nil {
					t.Fatalf("%v; waits %q errors %q media %+v", err, run.Waits, run.Errors, run.Media)
				}
				var buf bytes.Buffer
				diff.WriteText(&buf, res.Reports[0])
				if !res.Same() || len(run.Waits) > 0 {
					t.Fatalf("waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
				}
				if len(run.Media) != 1 || !run.Media[0].Connected {
					t.Fatalf("media %+v: want one peer, connected", run.Media)
				}
				webrtcup := 0
				for _, ev := range run.Events {
					if ev.Janus != nil && ev.Janus.Janus == "webrtcup" {
						webrtcup++
					}
				}
				if webrtcup != 1 {
					t.Fatalf("%d webrtcup events in the new run, want 1\n%s", webrtcup, buf.String())
				}
			})
		}
	}
}

// TestReplayPeerCannotConnect replays a call with media with a peer that
// has no address to use (as without UDP): the replay stops with one line
// saying so, well before the waits of every step would have run out, and
// reports no differences.
func TestReplayPeerCannotConnect(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "ws", echoWithMedia)
	t0 := time.Now()
	_, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{WS: b.WS}, Wait: 30 * time.Second,
			Media: &media.Options{ICEFailed: 2 * time.Second, IPFilter: func(net.IP) bool { return false }}},
	})
	if !errors.Is(err, media.ErrNotConnected) {
		t.Fatalf("err %v, want ErrNotConnected", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error of several lines: %q", err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("the replay took %s to give up; the peer's ICE limit is 2 s", d)
	}
	t.Logf("%v (after %s)", err, time.Since(t0).Round(time.Millisecond))
}
