package media_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// TestPeerEchoTest connects a peer made after package janus's offer to a real
// Janus's echotest: Janus reports webrtcup and media, and echoes the
// peer's packets back.
func TestPeerEchoTest(t *testing.T) {
	ctx, s := wsSession(t)
	h, err := s.Attach(ctx, janus.EchoTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := media.New(janus.OfferSDP, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jm, _, err := s.Message(ctx, h, map[string]any{"audio": true, "video": true}, map[string]any{"type": "offer", "sdp": offer})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(jm.Transaction))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		JSEP struct{ Type, SDP string } `json:"jsep"`
	}
	if err := json.Unmarshal(b, &ev); err != nil || ev.JSEP.Type != "answer" {
		t.Fatalf("echotest answer: %s", b)
	}
	if err := p.SetAnswer(ev.JSEP.SDP); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"webrtcup", "media"} {
		if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == typ }); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	// Echotest sends the peer's packets back.
	select {
	case <-p.Receiving():
	case <-ctx.Done():
		t.Fatalf("no packet came back: %+v", p.Stats())
	}
	if st := p.Stats(); st.State != "connected" || len(st.Sent) == 0 {
		t.Errorf("peer stats %+v: want connected, packets sent", st)
	}
}

// TestPeerSimulcastVideoRoom publishes to a real Janus's videoroom with a
// peer made after a simulcast offer (three rids): the peer's offer carries
// the rids, Janus answers with them, and the publisher's video stream is
// simulcast in what Janus reports.
func TestPeerSimulcastVideoRoom(t *testing.T) {
	ctx, s := wsSession(t)
	h, err := s.Attach(ctx, janus.VideoRoom, nil)
	if err != nil {
		t.Fatal(err)
	}
	jm, _, err := s.Message(ctx, h, map[string]any{"request": "join", "ptype": "publisher", "room": 1234}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(jm.Transaction))
	if err != nil {
		t.Fatal(err)
	}
	var joined struct {
		Plugindata struct{ Data struct{ ID uint64 } }
	}
	if err := json.Unmarshal(b, &joined); err != nil || joined.Plugindata.Data.ID == 0 {
		t.Fatalf("joined: %s", b)
	}
	p, err := media.New(janus.SimulcastOfferSDP, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"a=rid:h send", "a=rid:m send", "a=rid:l send", "a=simulcast:send h;m;l"} {
		if !strings.Contains(offer, l+"\r\n") {
			t.Errorf("the peer's offer has no %q:\n%s", l, offer)
		}
	}
	jm, _, err = s.Message(ctx, h, map[string]any{"request": "publish"}, map[string]any{"type": "offer", "sdp": offer})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err = s.WaitEvent(ctx, janus.ForTx(jm.Transaction))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		JSEP       struct{ Type, SDP string } `json:"jsep"`
		Plugindata struct {
			Data struct {
				Streams []struct {
					Type      string
					Simulcast bool
				}
			}
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil || ev.JSEP.Type != "answer" {
		t.Fatalf("publish answer: %s", b)
	}
	if st := ev.Plugindata.Data.Streams; len(st) != 2 || st[1].Type != "video" || !st[1].Simulcast {
		t.Errorf("Janus's streams %+v: want the video simulcast", st)
	}
	if !strings.Contains(ev.JSEP.SDP, "a=simulcast:recv h;m;l\r\n") {
		t.Errorf("Janus's answer does not receive the three layers:\n%s", ev.JSEP.SDP)
	}
	if err := p.SetAnswer(ev.JSEP.SDP); err != nil {
		t.Fatal(err)
	}
	// Janus reports media per layer it receives: substream 0, 1 and 2.
	seen := map[int]bool{}
	for len(seen) < 3 {
		b, _, err := s.WaitEvent(ctx, janus.ForType("media"))
		if err != nil {
			t.Fatalf("media of substreams 0, 1, 2: got %v: %v (peer %+v)", seen, err, p.Stats())
		}
		var m struct {
			Substream *int `json:"substream"`
		}
		if json.Unmarshal(b, &m) == nil && m.Substream != nil {
			seen[*m.Substream] = true
		}
	}
	// Subscribers that want the highest layer and the lowest: Janus says
	// it relays substream 2 to the first at once (the first layer sends
	// key frames), and 0 to the second once the lowest layer sent the key
	// frame Janus asked for.
	for _, want := range []int{2, 0} {
		sub, sp := subscribePeer(ctx, t, s, map[string]any{"feed": joined.Plugindata.Data.ID, "mid": "1", "substream": want})
		defer sp.Close()
		var got []int
		for !slices.Contains(got, want) {
			b, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Sender == sub && j.PluginValue == "event" })
			if err != nil {
				t.Fatalf("subscriber wanting substream %d: told %v: %v", want, got, err)
			}
			var m struct {
				Plugindata struct{ Data struct{ Substream *int } }
			}
			if json.Unmarshal(b, &m) == nil && m.Plugindata.Data.Substream != nil {
				got = append(got, *m.Plugindata.Data.Substream)
			}
		}
		if want == 2 && !slices.Equal(got, []int{2}) {
			t.Errorf("the subscriber wanting substream 2 was told %v, want 2 alone", got)
		}
		t.Logf("the subscriber wanting substream %d was told %v", want, got)
	}
}

// wsSession starts a private Janus and creates a session on it over
// WebSocket; both end with the test, which has 30 s.
func wsSession(t *testing.T) (context.Context, *janus.Session) {
	t.Helper()
	j := janustest.Start(t, janustest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	c, err := janus.DialWS(ctx, j.WS, janus.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &janus.Session{C: c, WS: true}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, s
}

// subscribePeer attaches a videoroom subscriber to stream in room 1234 on
// s and answers Janus's offer with a peer of its own, closed by the
// caller. It returns the subscriber's handle and the peer.
func subscribePeer(ctx context.Context, t *testing.T, s *janus.Session, stream map[string]any) (uint64, *media.Peer) {
	t.Helper()
	sub, err := s.Attach(ctx, janus.VideoRoom, nil)
	if err != nil {
		t.Fatal(err)
	}
	jm, _, err := s.Message(ctx, sub, map[string]any{"request": "join", "ptype": "subscriber", "room": 1234, "streams": []any{stream}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.WaitEvent(ctx, janus.ForTx(jm.Transaction))
	if err != nil {
		t.Fatal(err)
	}
	var offer struct {
		JSEP struct{ SDP string } `json:"jsep"`
	}
	if err := json.Unmarshal(b, &offer); err != nil || offer.JSEP.SDP == "" {
		t.Fatalf("subscriber offer: %s", b)
	}
	sp, err := media.New(strings.ReplaceAll(offer.JSEP.SDP, "a=sendonly", "a=recvonly"), media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := sp.Answer(ctx, offer.JSEP.SDP)
	if err != nil {
		sp.Close()
		t.Fatal(err)
	}
	if _, _, err := s.Message(ctx, sub, map[string]any{"request": "start"}, map[string]any{"type": "answer", "sdp": answer}); err != nil {
		sp.Close()
		t.Fatal(err)
	}
	return sub, sp
}
