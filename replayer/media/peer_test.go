package media_test

import (
	"context"
	"encoding/json"
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
	j := janustest.Start(t, janustest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := janus.DialWS(ctx, j.WS, janus.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := &janus.Session{C: c, WS: true}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
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
