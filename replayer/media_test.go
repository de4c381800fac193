package replayer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
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
func echoWithMedia(ctx context.Context, s *janus.Session) error {
	h, err := s.Attach(ctx, janus.EchoTest, nil)
	if err != nil {
		return err
	}
	p, err := media.New(janus.OfferSDP, media.Options{})
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
	b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
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
	_, _, err = s.WaitEvent(ctx, janus.ForType("detached"))
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
				run := replaySame(t, evs, b, to)
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
					t.Fatalf("%d webrtcup events in the new run, want 1", webrtcup)
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

// videoRoomWithMedia publishes to a new videoroom with a real peer and
// subscribes to that publisher with another, in one session: both reach
// webrtcup and media, and the subscriber receives the publisher's packets.
func videoRoomWithMedia(ctx context.Context, s *janus.Session) error {
	return videoRoomPublish(ctx, s, janus.OfferSDP, 2)
}

// joinNewRoom creates a videoroom of its own on a new handle of s and
// joins it there as publisher "alice": the room, the handle and the
// publisher's id.
func joinNewRoom(ctx context.Context, s *janus.Session) (room int, pub, feed uint64, err error) {
	room = 100000 + rand.IntN(1<<30)
	if pub, err = s.Attach(ctx, janus.VideoRoom, nil); err != nil {
		return 0, 0, 0, err
	}
	if j, r, err := s.Message(ctx, pub, map[string]any{"request": "create", "room": room}, nil); err != nil || j == nil || j.PluginValue != "created" {
		return 0, 0, 0, fmt.Errorf("create room: %v %s", err, r.Body)
	}
	j, _, err := s.Message(ctx, pub, map[string]any{"request": "join", "ptype": "publisher", "room": room, "display": "alice"}, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
	if err != nil {
		return 0, 0, 0, err
	}
	var joined struct {
		Plugindata struct {
			Data struct {
				ID uint64 `json:"id"`
			} `json:"data"`
		} `json:"plugindata"`
	}
	if err := json.Unmarshal(b, &joined); err != nil || joined.Plugindata.Data.ID == 0 {
		return 0, 0, 0, fmt.Errorf("joined: %s", b)
	}
	return room, pub, joined.Plugindata.Data.ID, nil
}

// publishInNewRoom joins a videoroom of its own as publisher
// (joinNewRoom) and publishes with a peer made after template, waiting for
// Janus's webrtcup and its first mediaEvents media events (one per
// m-line, or per simulcast layer). It returns the peer, for the caller to
// close, besides what joinNewRoom returns.
func publishInNewRoom(ctx context.Context, s *janus.Session, template string, mediaEvents int) (room int, pub, feed uint64, pp *media.Peer, err error) {
	if room, pub, feed, err = joinNewRoom(ctx, s); err != nil {
		return 0, 0, 0, nil, err
	}
	if pp, err = media.New(template, media.Options{}); err != nil {
		return 0, 0, 0, nil, err
	}
	err = func() error {
		offer, err := pp.Offer(ctx)
		if err != nil {
			return err
		}
		j, _, err := s.Message(ctx, pub, map[string]any{"request": "publish"}, map[string]any{"type": "offer", "sdp": offer})
		if err != nil {
			return err
		}
		b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
		if err != nil {
			return err
		}
		if err := pp.SetAnswer(jsepSDP(b)); err != nil {
			return err
		}
		for _, typ := range append([]string{"webrtcup"}, slices.Repeat([]string{"media"}, mediaEvents)...) {
			if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == typ && j.Sender == pub }); err != nil {
				return fmt.Errorf("publisher %s: %w", typ, err)
			}
		}
		return nil
	}()
	if err != nil {
		pp.Close()
		return 0, 0, 0, nil, err
	}
	return room, pub, feed, pp, nil
}

// subscribe joins the videoroom room as subscriber on handle sub to
// streams, answers Janus's offer with a peer of its own made with opts,
// and waits for the subscriber's webrtcup (a subscriber sends no media:
// Janus reports its webrtcup only) and first packet. It returns the peer,
// for the caller to close, and Janus's event with the offer.
func subscribe(ctx context.Context, s *janus.Session, sub uint64, room int, streams []any, opts media.Options) (*media.Peer, []byte, error) {
	j, _, err := s.Message(ctx, sub, map[string]any{"request": "join", "ptype": "subscriber", "room": room, "streams": streams}, nil)
	if err != nil {
		return nil, nil, err
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
	if err != nil {
		return nil, nil, err
	}
	janusOffer := jsepSDP(b)
	sp, err := media.New(strings.ReplaceAll(janusOffer, "a=sendonly", "a=recvonly"), opts)
	if err != nil {
		return nil, nil, err
	}
	err = func() error {
		answer, err := sp.Answer(ctx, janusOffer)
		if err != nil {
			return err
		}
		if j, _, err = s.Message(ctx, sub, map[string]any{"request": "start"}, map[string]any{"type": "answer", "sdp": answer}); err != nil {
			return err
		}
		if _, _, err = s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
			return err
		}
		if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "webrtcup" && j.Sender == sub }); err != nil {
			return fmt.Errorf("subscriber webrtcup: %w", err)
		}
		select {
		case <-sp.Receiving():
			return nil
		case <-ctx.Done():
			return fmt.Errorf("the subscriber received nothing: %w", ctx.Err())
		}
	}()
	if err != nil {
		sp.Close()
		return nil, nil, err
	}
	return sp, b, nil
}

// videoRoomPublish is videoRoomWithMedia with the publisher's peer made
// after template, waiting for its first media events (one per m-line, or
// per simulcast layer).
func videoRoomPublish(ctx context.Context, s *janus.Session, template string, mediaEvents int) error {
	room, pub, feed, pp, err := publishInNewRoom(ctx, s, template, mediaEvents)
	if err != nil {
		return err
	}
	defer pp.Close()

	sub, err := s.Attach(ctx, janus.VideoRoom, nil)
	if err != nil {
		return err
	}
	simulcast := strings.Contains(template, "a=simulcast:")
	sp, b, err := subscribe(ctx, s, sub, room, []any{map[string]any{"feed": feed}}, media.Options{})
	if err != nil {
		return err
	}
	defer sp.Close()
	if simulcast {
		// Janus relays the layer of the first key frame that comes
		// (the highest: the peer sends the layers in the order of
		// a=simulcast, h first) and says so.
		for !strings.Contains(string(b), `"substream": 2`) {
			if b, _, err = s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Sender == sub && j.PluginValue == "event" }); err != nil {
				return fmt.Errorf("the subscriber's substream event: %w", err)
			}
		}
	}
	if _, _, err := s.Message(ctx, pub, map[string]any{"request": "destroy", "room": room}, nil); err != nil {
		return err
	}
	for _, h := range []uint64{sub, pub} {
		if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
			return err
		}
		if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "detached" && j.Sender == h }); err != nil {
			return err
		}
	}
	return nil
}

// TestReplayVideoRoomWithMedia captures a videoroom publisher and a
// subscriber of it, both with real peers, and replays the capture on a
// second Janus with the replay's peers: the subscriber's offer comes from
// the new publisher, both reach webrtcup and media, the replay's subscriber
// receives packets, and the runs match, media events included.
func TestReplayVideoRoomWithMedia(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	for _, from := range []string{"ws", "http"} {
		_, evs := taptest.Run(t, tp, from, videoRoomWithMedia)
		for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
			t.Run(from+"_over_"+string(cmp.Or(to, "captured")), func(t *testing.T) {
				run := replaySame(t, evs, b, to)
				if len(run.Media) != 2 {
					t.Fatalf("media %+v: want two peers", run.Media)
				}
				// The publisher sends, the subscriber receives.
				if m := run.Media; !m[0].Connected || len(m[0].Sent) == 0 || !m[1].Connected || len(m[1].Received) == 0 {
					t.Errorf("peers %+v: want the publisher to send and the subscriber to receive", m)
				}
			})
		}
	}
}

// withSlowlink starts a Janus that reports slowlink at one NACK a second
// (the packaged configuration leaves slowlink off).
func withSlowlink(t *testing.T) *janustest.Janus {
	t.Helper()
	return slowlinkJanus(t, janustest.Options{})
}

// slowlinkJanus is withSlowlink starting Janus with opts.
func slowlinkJanus(t *testing.T, opts janustest.Options) *janustest.Janus {
	t.Helper()
	j := janustest.Start(t, opts)
	conf := filepath.Join(j.Dir, "conf", "janus.jcfg")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "#slowlink_threshold = 4", "slowlink_threshold = 1", 1)
	if s == string(b) {
		t.Fatal("no slowlink_threshold in janus.jcfg")
	}
	if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := j.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	return j
}

// echoPeer attaches an echotest handle (with attach fields, which may be
// nil) and connects a replay peer made with opts to it: its offer, Janus's
// answer. The caller closes the peer.
func echoPeer(ctx context.Context, s *janus.Session, opts media.Options, fields map[string]any) (uint64, *media.Peer, error) {
	h, err := s.Attach(ctx, janus.EchoTest, fields)
	if err != nil {
		return 0, nil, err
	}
	p, err := media.New(janus.OfferSDP, opts)
	if err != nil {
		return 0, nil, err
	}
	connect := func() error {
		offer, err := p.Offer(ctx)
		if err != nil {
			return err
		}
		j, _, err := s.Message(ctx, h, map[string]any{"audio": true, "video": true}, map[string]any{"type": "offer", "sdp": offer})
		if err != nil {
			return err
		}
		b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
		if err != nil {
			return err
		}
		return p.SetAnswer(jsepSDP(b))
	}
	if err := connect(); err != nil {
		p.Close()
		return 0, nil, err
	}
	return h, p, nil
}

// failingCall is an echotest call whose peer fails as opts say; it waits
// for what Janus then reports (until, a janus type, "" for nothing) and
// detaches.
func failingCall(opts media.Options, until string) taptest.Flow {
	return func(ctx context.Context, s *janus.Session) error {
		h, p, err := echoPeer(ctx, s, opts, nil)
		if err != nil {
			return err
		}
		defer p.Close()
		if opts.DropCandidates {
			// As a browser does at the end of its gathering: Janus then
			// knows no candidate is to come, and gives up on ICE sooner.
			if _, _, err := s.Request(ctx, "trickle", h, map[string]any{"candidate": map[string]any{"completed": true}}); err != nil {
				return err
			}
		}
		if until != "" {
			if _, _, err := s.WaitEvent(ctx, janus.ForType(until)); err != nil {
				return fmt.Errorf("%s: %w", until, err)
			}
		}
		if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
			return err
		}
		_, _, err = s.WaitEvent(ctx, janus.ForType("detached"))
		return err
	}
}

// TestReplayFailures captures echotest calls whose peer fails on purpose,
// and replays each on a second Janus with the failure flag: the new run
// shows the failure the capture shows, and matches it; without the flag
// the replay differs.
func TestReplayFailures(t *testing.T) {
	a, b := withSlowlink(t), withSlowlink(t)
	tp := taptest.New(t, a, "a")
	cases := []struct {
		name  string
		opts  media.Options
		until string // what the capture waited for
		shows func(evs []*schema.Event) bool
	}{
		{"dtls-close", media.Options{DTLSClose: true}, "hangup", func(evs []*schema.Event) bool {
			return slices.ContainsFunc(evs, func(ev *schema.Event) bool {
				return ev.Janus != nil && ev.Janus.Janus == "hangup" && ev.Janus.Reason == "DTLS alert"
			})
		}},
		{"loss", media.Options{LossPercent: 30}, "slowlink", func(evs []*schema.Event) bool {
			return slices.ContainsFunc(evs, func(ev *schema.Event) bool { return ev.Janus != nil && ev.Janus.Janus == "slowlink" })
		}},
		{"no-media", media.Options{NoMedia: true}, "webrtcup", func(evs []*schema.Event) bool {
			return slices.ContainsFunc(evs, func(ev *schema.Event) bool { return ev.Janus != nil && ev.Janus.Janus == "webrtcup" }) &&
				!slices.ContainsFunc(evs, func(ev *schema.Event) bool { return ev.Janus != nil && ev.Janus.Janus == "media" })
		}},
		// Janus's checks to the one candidate it gets go unanswered: it
		// hangs up with "ICE failed" about 13 s after the offer.
		{"drop-candidates", media.Options{DropCandidates: true}, "hangup", func(evs []*schema.Event) bool {
			return slices.ContainsFunc(evs, func(ev *schema.Event) bool {
				return ev.Janus != nil && ev.Janus.Janus == "hangup" && ev.Janus.Reason == "ICE failed"
			}) && !slices.ContainsFunc(evs, func(ev *schema.Event) bool { return ev.Janus != nil && ev.Janus.Janus == "webrtcup" })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, evs := taptest.Run(t, tp, "ws", failingCall(tc.opts, tc.until))
			if !tc.shows(evs) {
				t.Fatal("the capture does not show the failure")
			}
			// The replay waits for Janus's "ICE failed" as long as Janus
			// takes to give up.
			wait := 3 * time.Second
			if tc.opts.DropCandidates {
				wait = 20 * time.Second
			}
			replay := func(o media.Options, wait time.Duration) (*replayer.Result, string) {
				res, err := replayer.Replay(t.Context(), evs, replayer.Options{
					Options: drive.Options{Target: drive.Target{WS: b.WS}, Wait: wait, Media: &o},
				})
				if err != nil {
					t.Fatalf("%v; waits %q errors %q", err, res.Runs[0].Waits, res.Runs[0].Errors)
				}
				var buf bytes.Buffer
				diff.WriteText(&buf, res.Reports[0])
				return res, buf.String()
			}
			res, text := replay(tc.opts, wait)
			if !tc.shows(res.Runs[0].Events) || !res.Same() {
				t.Fatalf("with the flag: the new run shows the failure %v, same %v; waits %q errors %q\n%s", tc.shows(res.Runs[0].Events), res.Same(), res.Runs[0].Waits, res.Runs[0].Errors, text)
			}
			if tc.opts.DropCandidates {
				evs := res.Runs[0].Events
				for _, ev := range evs {
					if ev.Janus != nil && ev.Janus.Janus == "hangup" {
						t.Logf("Janus hung up with %q %v into the new run", ev.Janus.Reason, ev.Time.Sub(evs[0].Time).Round(100*time.Millisecond))
					}
				}
			}
			if tc.name == "dtls-close" {
				// A DTLS alert the capture shows is reproduced without the
				// flag too (the peer closes where the client did); the flag
				// makes one where the capture has none.
				_, clean := taptest.Run(t, tp, "ws", echoWithMedia)
				res, err := replayer.Replay(t.Context(), clean, replayer.Options{
					Options: drive.Options{Target: drive.Target{WS: b.WS}, Wait: 3 * time.Second, Media: &tc.opts},
				})
				if err != nil || !tc.shows(res.Runs[0].Events) || res.Same() {
					t.Errorf("--dtls-close on a call without failure: err %v, shows the alert %v, same %v", err, tc.shows(res.Runs[0].Events), res.Same())
				}
				return
			}
			if res, text := replay(media.Options{}, 3*time.Second); res.Same() {
				t.Errorf("without the flag the replay matches a capture of a failure:\n%s", text)
			}
		})
	}
}

// TestReplayWithMediaLoad replays a call with media five times, five at
// once: every run has its own connected peer, and matches.
func TestReplayWithMediaLoad(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "http", echoWithMedia)
	res, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Wait: 5 * time.Second, Media: &media.Options{}},
		Repeat:  5, Concurrency: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Summary(); s.Matched != 5 {
		for i, r := range res.Reports {
			var buf bytes.Buffer
			diff.WriteText(&buf, r)
			t.Logf("run %d: waits %q errors %q\n%s", i+1, res.Runs[i].Waits, res.Runs[i].Errors, buf.String())
		}
		t.Fatalf("summary %+v, want 5 matched", s)
	}
	for i, r := range res.Runs {
		if len(r.Media) != 1 || !r.Media[0].Connected || len(r.Media[0].Received) == 0 {
			t.Errorf("run %d: media %+v, want one connected peer that received", i+1, r.Media)
		}
	}
}

// echoRenegotiated is an echotest call whose client renegotiates once media
// flows: a second offer on the same PeerConnection, Janus's second answer.
func echoRenegotiated(ctx context.Context, s *janus.Session) error {
	h, p, err := echoPeer(ctx, s, media.Options{}, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	// Janus's media events of both m-lines first: one coming after the
	// renegotiation would race the detach.
	for _, typ := range []string{"webrtcup", "media", "media"} {
		if _, _, err := s.WaitEvent(ctx, janus.ForType(typ)); err != nil {
			return fmt.Errorf("%s: %w", typ, err)
		}
	}
	offer, err := p.Reoffer(ctx, "")
	if err != nil {
		return err
	}
	j, _, err := s.Message(ctx, h, map[string]any{"audio": true, "video": true}, map[string]any{"type": "offer", "sdp": offer})
	if err != nil {
		return err
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
	if err != nil {
		return err
	}
	if err := p.SetAnswer(jsepSDP(b)); err != nil {
		return err
	}
	if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
		return err
	}
	_, _, err = s.WaitEvent(ctx, janus.ForType("detached"))
	return err
}

// iceUfrags returns the ice-ufrag of each offer the new run's requests
// carried, in order.
func iceUfrags(evs []*schema.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Direction != schema.ToGateway || ev.Janus == nil || ev.Janus.JSEP != "offer" {
			continue
		}
		sdp := jsepSDP(ev.Body)
		_, rest, _ := strings.Cut(sdp, "a=ice-ufrag:")
		ufrag, _, _ := strings.Cut(rest, "\r\n")
		out = append(out, ufrag)
	}
	return out
}

// TestReplayRenegotiation replays a call whose client renegotiated: the
// peer makes its own second offer on its PeerConnection (its ICE
// credentials, not the captured client's), Janus answers it, and the runs
// match.
func TestReplayRenegotiation(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "ws", echoRenegotiated)
	if n := len(iceUfrags(evs)); n != 2 {
		t.Fatalf("the capture has %d offers, want 2", n)
	}
	run := replaySame(t, evs, b, "")
	if u := iceUfrags(run.Events); len(u) != 2 || u[0] != u[1] || u[0] == iceUfrags(evs)[1] {
		t.Errorf("the new run's offers have ice-ufrag %q, want two of the peer's own, the same (the captured ones: %q)", u, iceUfrags(evs))
	}
	answers := 0
	for _, ev := range run.Events {
		if ev.Direction == schema.ToClient && ev.Janus != nil && ev.Janus.JSEP == "answer" {
			answers++
		}
	}
	if answers != 2 || len(run.Media) != 1 || !run.Media[0].Connected {
		t.Errorf("%d answers from Janus, peers %+v; want 2 answers to one connected peer", answers, run.Media)
	}
}

// simulcastSeen returns what Janus's events of a run show of the
// publisher's simulcast: whether the publish answer lists a simulcast
// stream, the substreams of the media events, and those the subscriber
// was told it gets (plugindata.data.substream).
func simulcastSeen(evs []*schema.Event) (simulcast bool, substreams, relayed []int) {
	for _, ev := range evs {
		if ev.Direction != schema.ToClient || ev.Janus == nil {
			continue
		}
		var m struct {
			Substream  *int `json:"substream"`
			Plugindata struct {
				Data struct {
					Streams   []struct{ Simulcast bool }
					Substream *int
				}
			}
		}
		if json.Unmarshal(ev.Body, &m) != nil {
			continue
		}
		if s := m.Plugindata.Data.Substream; s != nil {
			relayed = append(relayed, *s)
		}
		for _, st := range m.Plugindata.Data.Streams {
			simulcast = simulcast || st.Simulcast
		}
		if ev.Janus.Janus == "media" && m.Substream != nil {
			substreams = append(substreams, *m.Substream)
		}
	}
	slices.Sort(substreams)
	return simulcast, substreams, relayed
}

// TestReplayVideoRoomSimulcast captures a videoroom publisher whose peer
// offers its video in three simulcast layers (rids h, m, l, as Chromium
// with janus.js's simulcast on) and a subscriber of it, and replays the
// capture on a second Janus with the replay's peers: the new run's offer
// carries the captured rids, the replay's peer sends every layer (Janus
// lists the video as simulcast, reports media of substreams 0, 1 and 2,
// and tells the subscriber it relays substream 2), and the runs match.
func TestReplayVideoRoomSimulcast(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	_, evs := taptest.Run(t, tp, "ws", func(ctx context.Context, s *janus.Session) error {
		return videoRoomPublish(ctx, s, janus.SimulcastOfferSDP, 4)
	})
	if sim, subs, rel := simulcastSeen(evs); !sim || !slices.Equal(subs, []int{0, 1, 2}) || !slices.Equal(rel, []int{2}) {
		t.Fatalf("the capture shows simulcast %v, media of substreams %v, the subscriber's substream %v: want true, 0 1 2, 2", sim, subs, rel)
	}
	run := replaySame(t, evs, b, "")
	offers := 0
	for _, ev := range run.Events {
		if ev.Direction != schema.ToGateway || ev.Janus == nil || ev.Janus.JSEP != "offer" {
			continue
		}
		offers++
		sdp := jsepSDP(ev.Body)
		for _, l := range []string{"a=rid:h send", "a=rid:m send", "a=rid:l send", "a=simulcast:send h;m;l"} {
			if !strings.Contains(sdp, l+"\r\n") {
				t.Errorf("the new run's offer has no %q:\n%s", l, sdp)
			}
		}
	}
	if offers != 1 {
		t.Errorf("%d offers in the new run, want the publisher's", offers)
	}
	if sim, subs, rel := simulcastSeen(run.Events); !sim || !slices.Equal(subs, []int{0, 1, 2}) || !slices.Equal(rel, []int{2}) {
		t.Errorf("Janus's events of the new run show simulcast %v, media of substreams %v, the subscriber's substream %v: want true, 0 1 2, 2", sim, subs, rel)
	}
	if m := run.Media; len(m) != 2 || !m[0].Connected || len(m[0].Sent) == 0 || !m[1].Connected || len(m[1].Received) == 0 {
		t.Errorf("peers %+v: want the publisher to send and the subscriber to receive", m)
	}
}

// replaySame replays evs on b over transport to ("" as captured) with the
// replay's own media peers, and fails the test unless the runs match with
// nothing waited for in vain; it returns the new run.
func replaySame(t *testing.T, evs []*schema.Event, b *janustest.Janus, to schema.Transport) *drive.Result {
	t.Helper()
	res, err := replayer.Replay(t.Context(), evs, replayer.Options{
		Options: drive.Options{Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to, Wait: 5 * time.Second,
			Media: &media.Options{}},
	})
	if err != nil {
		run := res.Runs[0]
		t.Fatalf("%v; waits %q errors %q media %+v", err, run.Waits, run.Errors, run.Media)
	}
	run := res.Runs[0]
	if !res.Same() || len(run.Waits) > 0 {
		var buf bytes.Buffer
		diff.WriteText(&buf, res.Reports[0])
		t.Fatalf("waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
	}
	return run
}

// audioOfferSDP is janus.OfferSDP without its video m-line.
var audioOfferSDP = strings.Replace(janus.OfferSDP[:strings.Index(janus.OfferSDP, "m=video")], "a=group:BUNDLE 0 1", "a=group:BUNDLE 0", 1)

// withDataChannel is audioOfferSDP with a data channel m-line after.
var withDataChannel = strings.Replace(audioOfferSDP, "a=group:BUNDLE 0", "a=group:BUNDLE 0 1", 1) +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sctp-port:5000\r\n"

// mediaEvent reports whether body is Janus's media event saying whether
// it receives the kind of media typ, receiving.
func mediaEvent(body []byte, typ string, receiving bool) bool {
	var m struct {
		Janus     string `json:"janus"`
		Type      string `json:"type"`
		Receiving bool   `json:"receiving"`
	}
	return json.Unmarshal(body, &m) == nil && m.Janus == "media" && m.Type == typ && m.Receiving == receiving
}

// echoChangesMLines is an echotest call whose client offers first, and
// once Janus receives its media, renegotiates with a new offer, next (the
// first offer's m-lines and more, or some of them no longer sending): it
// waits for Janus's media event saying whether it receives the kind of
// the changed m-line, typ (receiving; "" waits for none), and detaches.
func echoChangesMLines(first, next, typ string, receiving bool) taptest.Flow {
	return func(ctx context.Context, s *janus.Session) error {
		h, err := s.Attach(ctx, janus.EchoTest, nil)
		if err != nil {
			return err
		}
		p, err := media.New(first, media.Options{Later: []string{next}})
		if err != nil {
			return err
		}
		defer p.Close()
		exchange := func(offer string) error {
			j, _, err := s.Message(ctx, h, map[string]any{"audio": true, "video": true}, map[string]any{"type": "offer", "sdp": offer})
			if err != nil {
				return err
			}
			b, _, err := s.WaitEvent(ctx, janus.ForTx(j.Transaction))
			if err != nil {
				return err
			}
			return p.SetAnswer(jsepSDP(b))
		}
		offer, err := p.Offer(ctx)
		if err != nil {
			return err
		}
		if err := exchange(offer); err != nil {
			return err
		}
		// Janus's media event of each m-line first: one coming after the
		// renegotiation would race the detach.
		for _, typ := range append([]string{"webrtcup"}, slices.Repeat([]string{"media"}, len(mLines(first)))...) {
			if _, _, err := s.WaitEvent(ctx, janus.ForType(typ)); err != nil {
				return fmt.Errorf("%s: %w", typ, err)
			}
		}
		if offer, err = p.Reoffer(ctx, next); err != nil {
			return err
		}
		if err := exchange(offer); err != nil {
			return err
		}
		for typ != "" {
			b, _, err := s.WaitEvent(ctx, janus.ForType("media"))
			if err != nil {
				return fmt.Errorf("media of the changed %s m-line: %w", typ, err)
			}
			if mediaEvent(b, typ, receiving) {
				break
			}
		}
		if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
			return err
		}
		_, _, err = s.WaitEvent(ctx, janus.ForType("detached"))
		return err
	}
}

// mLines returns the m-lines of an SDP: kind, port 0 or not, direction
// ("video sendrecv", "audio port0 inactive").
func mLines(sdp string) []string {
	var out []string
	for _, l := range strings.Split(sdp, "\r\n") {
		if m, ok := strings.CutPrefix(l, "m="); ok {
			f := strings.Fields(m)
			out = append(out, f[0])
			if len(f) > 1 && f[1] == "0" {
				out[len(out)-1] += " port0"
			}
			continue
		}
		switch l {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			if len(out) > 0 {
				out[len(out)-1] += " " + l[2:]
			}
		}
	}
	return out
}

// TestReplayRenegotiationChangesMLines replays calls whose client
// renegotiated with an offer adding an m-line, or making one inactive: the
// replay's peer adds it to its PeerConnection, or stops it, before its own
// new offer, Janus answers with the captured m-lines, media flows on the
// new m-line or stops on the inactive one (Janus's media event of its
// kind, as in the capture), and the runs match, over both transports.
func TestReplayRenegotiationChangesMLines(t *testing.T) {
	videoOff := strings.Replace(janus.OfferSDP, "a=mid:1\r\na=sendrecv\r\n", "a=mid:1\r\na=inactive\r\n", 1)
	cases := []struct {
		name        string
		first, next string
		typ         string // the kind of Janus's media event after the renegotiation ("" none)
		receiving   bool   // what it says
		sending     int    // m-lines the replay's peer sent on, at least
	}{
		{"audio, then video", audioOfferSDP, janus.OfferSDP, "video", true, 2},
		{"video made inactive", janus.OfferSDP, videoOff, "", false, 1},
		{"video made recvonly", janus.OfferSDP, strings.Replace(videoOff, "a=inactive", "a=recvonly", 1), "", false, 1},
		{"audio, then a data channel", audioOfferSDP, withDataChannel, "", false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := janustest.Start(t, janustest.Options{})
			b := janustest.Start(t, janustest.Options{})
			tp := taptest.New(t, a, "a")
			_, evs := taptest.Run(t, tp, "ws", echoChangesMLines(c.first, c.next, c.typ, c.receiving))
			want := jsepMLines(evs, schema.ToClient, "answer")
			if len(want) != 2 || slices.Equal(want[0], want[1]) {
				t.Fatalf("the capture's answers have m-lines %q, want two, different", want)
			}
			t.Logf("Janus's answers in the capture: %q", want)
			for _, to := range []schema.Transport{"", schema.HTTP} {
				t.Run(cmp.Or(string(to), "as captured"), func(t *testing.T) {
					run := replaySame(t, evs, b, to)
					if got := jsepMLines(run.Events, schema.ToClient, "answer"); !slices.EqualFunc(got, want, slices.Equal) {
						t.Errorf("Janus's answers in the new run have m-lines %q, want %q as captured", got, want)
					}
					media := false
					for _, ev := range run.Events {
						media = media || ev.Direction == schema.ToClient && mediaEvent(ev.Body, c.typ, c.receiving)
					}
					if c.typ != "" && !media {
						t.Errorf("no media event of %s receiving %v from Janus in the new run", c.typ, c.receiving)
					}
					if m := run.Media; len(m) != 1 || !m[0].Connected || len(m[0].Sent) < c.sending {
						t.Errorf("peers %+v: want one connected, sending on %d m-lines or more", m, c.sending)
					} else if dc := strings.Contains(c.next, "m=application"); m[0].DataChannel != dc {
						t.Errorf("peer %+v: data channel open %v, want %v", m[0], m[0].DataChannel, dc)
					}
				})
			}
		})
	}
}

// videoRoomUpdate is a videoroom publisher of audio and video and a
// subscriber of its audio alone that then updates its subscription:
// Janus's new offer adds the video m-line (add), or, after that, takes
// it off again (remove too). The subscriber answers each offer on its
// PeerConnection; the flow waits for the media of the publisher and for
// the subscriber's first packet.
func videoRoomUpdate(remove bool) taptest.Flow {
	return func(ctx context.Context, s *janus.Session) error {
		room, pub, feed, pp, err := publishInNewRoom(ctx, s, janus.OfferSDP, 2)
		if err != nil {
			return err
		}
		defer pp.Close()
		var (
			j *schema.Janus
			b []byte
		)
		sub, err := s.Attach(ctx, janus.VideoRoom, nil)
		if err != nil {
			return err
		}
		// Later: the video codec of the m-line Janus's update adds.
		sp, _, err := subscribe(ctx, s, sub, room, []any{map[string]any{"feed": feed, "mid": "0"}}, media.Options{Later: []string{janus.OfferSDP}})
		if err != nil {
			return err
		}
		defer sp.Close()
		updates := []map[string]any{{"request": "update", "subscribe": []any{map[string]any{"feed": feed, "mid": "1"}}}}
		if remove {
			updates = append(updates, map[string]any{"request": "update", "unsubscribe": []any{map[string]any{"feed": feed, "mid": "1"}}})
		}
		for _, u := range updates {
			if j, _, err = s.Message(ctx, sub, u, nil); err != nil {
				return err
			}
			if b, _, err = s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
				return err
			}
			o := jsepSDP(b)
			if o == "" {
				return fmt.Errorf("update: no offer in %s", b)
			}
			answer, err := sp.Reanswer(ctx, o)
			if err != nil {
				return err
			}
			if j, _, err = s.Message(ctx, sub, map[string]any{"request": "start"}, map[string]any{"type": "answer", "sdp": answer}); err != nil {
				return err
			}
			if _, _, err = s.WaitEvent(ctx, janus.ForTx(j.Transaction)); err != nil {
				return err
			}
		}
		if _, _, err := s.Message(ctx, pub, map[string]any{"request": "destroy", "room": room}, nil); err != nil {
			return err
		}
		for _, h := range []uint64{sub, pub} {
			if _, _, err := s.Request(ctx, "detach", h, nil); err != nil {
				return err
			}
			if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "detached" && j.Sender == h }); err != nil {
				return err
			}
		}
		return nil
	}
}

// jsepMLines returns the m-lines (mLines) of each jsep of type typ in evs
// going dir, in order.
func jsepMLines(evs []*schema.Event, dir schema.Direction, typ string) [][]string {
	var out [][]string
	for _, ev := range evs {
		if ev.Direction == dir && ev.Janus != nil && ev.Janus.JSEP == typ {
			out = append(out, mLines(jsepSDP(ev.Body)))
		}
	}
	return out
}

// TestReplayVideoRoomUpdateRenegotiation replays a videoroom subscriber
// whose subscription update makes Janus offer again with an m-line more
// (then, in the second case, with it taken off): the replay's peer
// answers each new offer on its PeerConnection (pion makes the new
// transceivers from Janus's offer), Janus's offers have the captured
// m-lines, and the runs match, over both transports.
func TestReplayVideoRoomUpdateRenegotiation(t *testing.T) {
	for _, remove := range []bool{false, true} {
		t.Run(map[bool]string{false: "add video", true: "add video, then remove it"}[remove], func(t *testing.T) {
			a := janustest.Start(t, janustest.Options{})
			b := janustest.Start(t, janustest.Options{})
			tp := taptest.New(t, a, "a")
			_, evs := taptest.Run(t, tp, "ws", videoRoomUpdate(remove))
			want, wantAnswers := jsepMLines(evs, schema.ToClient, "offer"), jsepMLines(evs, schema.ToGateway, "answer")
			t.Logf("Janus's offers in the capture: %q, the client's answers %q", want, wantAnswers)
			if n := 2 + map[bool]int{true: 1}[remove]; len(want) != n || len(want[1]) <= len(want[0]) {
				t.Fatalf("the capture has Janus's offers with m-lines %q, want %d, the second with more", want, n)
			}
			for _, to := range []schema.Transport{"", schema.HTTP} {
				t.Run(cmp.Or(string(to), "as captured"), func(t *testing.T) {
					run := replaySame(t, evs, b, to)
					if got := jsepMLines(run.Events, schema.ToClient, "offer"); !slices.EqualFunc(got, want, slices.Equal) {
						t.Errorf("Janus's offers in the new run have m-lines %q, want %q as captured", got, want)
					}
					if got := jsepMLines(run.Events, schema.ToGateway, "answer"); !slices.EqualFunc(got, wantAnswers, slices.Equal) {
						t.Errorf("the peer's answers in the new run have m-lines %q, want %q as captured", got, wantAnswers)
					}
					if m := run.Media; len(m) != 2 || !m[1].Connected || len(m[1].Received) == 0 {
						t.Errorf("peers %+v: want the subscriber connected and receiving", m)
					}
				})
			}
		})
	}
}
