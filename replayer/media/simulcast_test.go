package media_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// TestPeerSimulcastLayers publishes to a real Janus's videoroom as
// Chromium did in a capture of the videoroom demo with simulcast: it
// offers rids h, m and l, sends m and l only (Janus numbers them 1 and 0),
// stops m after a while, gives key frames on l alone and temporal layer
// ids. Janus reports media of substreams 1 and 0 and not 2, then
// substream 1 not received; a subscriber that wants the highest is told
// substream 0 (no key frame on m ever moves it up) and temporal layer 2.
func TestPeerSimulcastLayers(t *testing.T) {
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
	const stopAfter = 1500 * time.Millisecond
	p, err := media.New(janus.SimulcastOfferSDP, media.Options{Simulcast: map[int]media.Simulcast{1: {
		Layers: []media.Layer{
			{RID: "m", Key: media.KeyNever, For: stopAfter},
			{RID: "l", Key: media.KeyAlways},
		},
		Temporal: true,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "a=simulcast:send h;m;l\r\n") {
		t.Errorf("the peer's offer does not offer the three rids:\n%s", offer)
	}
	jm, _, err = s.Message(ctx, h, map[string]any{"request": "publish"}, map[string]any{"type": "offer", "sdp": offer})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err = s.WaitEvent(ctx, janus.ForTx(jm.Transaction))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		JSEP struct{ SDP string } `json:"jsep"`
	}
	if err := json.Unmarshal(b, &answer); err != nil || answer.JSEP.SDP == "" {
		t.Fatalf("publish answer: %s", b)
	}
	if err := p.SetAnswer(answer.JSEP.SDP); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	// A videoroom lists a publisher once its PeerConnection is up.
	if _, _, err := s.WaitEvent(ctx, func(j *schema.Janus) bool { return j.Janus == "webrtcup" && j.Sender == h }); err != nil {
		t.Fatalf("publisher's webrtcup: %v", err)
	}

	// A subscriber that wants the highest layer (Janus's default).
	sub, sp := subscribePeer(ctx, t, s, map[string]any{"feed": joined.Plugindata.Data.ID, "mid": "1"})
	defer sp.Close()

	// Janus's media events for the publisher, until substream 1 stops,
	// and what the subscriber is told, until the temporal layer.
	type report struct {
		substream int
		receiving bool
	}
	var reports []report
	var substreams, temporal []int
	for !slices.Contains(reports, report{1, false}) || len(temporal) == 0 {
		b, j, err := s.WaitEvent(ctx, func(j *schema.Janus) bool {
			return (j.Janus == "media" && j.Sender == h) || (j.Sender == sub && j.PluginValue == "event")
		})
		if err != nil {
			t.Fatalf("publisher's media %v, subscriber told substreams %v temporal %v: %v (peer %+v)", reports, substreams, temporal, err, p.Stats())
		}
		var m struct {
			Type       string `json:"type"`
			Substream  *int   `json:"substream"`
			Receiving  bool   `json:"receiving"`
			Plugindata struct {
				Data struct{ Substream, Temporal *int }
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch {
		case j.Janus == "media" && m.Type == "video" && m.Substream != nil:
			reports = append(reports, report{*m.Substream, m.Receiving})
		case m.Plugindata.Data.Substream != nil:
			substreams = append(substreams, *m.Plugindata.Data.Substream)
		case m.Plugindata.Data.Temporal != nil:
			temporal = append(temporal, *m.Plugindata.Data.Temporal)
		}
	}
	if want := []report{{1, true}, {0, true}, {1, false}}; !slices.Equal(reports, want) {
		t.Errorf("Janus reported the publisher's video %v, want %v", reports, want)
	}
	if since := time.Since(started); since < stopAfter+time.Second {
		t.Errorf("substream 1 was reported not received %v after the answer, before the layer stopped (%v) and Janus's 1 s", since, stopAfter)
	}
	if !slices.Equal(substreams, []int{0}) || !slices.Equal(temporal, []int{2}) {
		t.Errorf("the subscriber was told substreams %v and temporal layers %v, want 0 and 2", substreams, temporal)
	}
	select {
	case <-sp.Flowing(): // every m-line Janus sends the subscriber brought packets
	case <-ctx.Done():
		t.Fatalf("the subscriber's peer received %+v, not yet flowing", sp.Stats())
	}
	st := p.Stats()
	if st.Layers["1/h"] != 0 || st.Layers["1/m"] == 0 || st.Layers["1/l"] <= st.Layers["1/m"] {
		t.Errorf("packets by layer %v: want none on h, some on m, more on l", st.Layers)
	}
}

// TestPeerClosedIsFailed: once Close returns, Failed is closed, so that a
// replay that closed the peer (the client's DTLS alert) sends a later
// renegotiation with the captured SDP rather than on the closed
// PeerConnection.
func TestPeerClosedIsFailed(t *testing.T) {
	p, err := media.New(janus.OfferSDP, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Offer(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Failed():
	default:
		t.Fatal("Failed is not closed once Close returned")
	}
	if _, err := p.Reoffer(t.Context(), ""); !errors.Is(err, media.ErrClosed) {
		t.Errorf("a new offer on the closed peer: %v, want ErrClosed", err)
	}
	if _, err := p.Reanswer(t.Context(), janus.OfferSDP); !errors.Is(err, media.ErrClosed) {
		t.Errorf("a new answer on the closed peer: %v, want ErrClosed", err)
	}
}
