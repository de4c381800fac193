package drive

import (
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// TestTeardownFirst: before a request Janus refused in the capture because
// it raced its handle's teardown, the peer of the handle closes (the
// captured client had closed its PeerConnection) and the request waits for
// Janus's hangup, which the client then expects; a hangup that never comes
// is reported after Options.Wait instead of holding the run.
func TestTeardownFirst(t *testing.T) {
	const captured, h = 22, 7
	p := &plan.Plan{}
	for _, tc := range []struct {
		name   string
		reason string // of the captured hangup
		hangup bool   // Janus's hangup comes
		want   string
	}{
		{"hangup_comes", "DTLS alert", true, ""},
		{"hangup_never_comes", "DTLS alert", false, "did not come within"},
		// The hangup of a detach, which the run does not wait for: the
		// detach went first, and the peer stays as it is.
		{"detach_hangup", "Detach", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hangup := &schema.Event{ID: "hangup", Direction: schema.ToClient, Body: []byte(`{"janus":"hangup","session_id":11,"sender":22,"reason":"` + tc.reason + `"}`)}
			hangup.Janus, _ = schema.ParseJanus(hangup.Body)
			closePeer := tc.reason == "DTLS alert"
			step := &plan.Step{Refused: &plan.Refusal{Code: 469, Handle: captured, Hangup: hangup, ClosePeer: closePeer}}
			peer, err := media.New(janus.OfferSDP, media.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			ids := rewrite.New()
			ids.Set(captured, h)
			r := &runner{opts: Options{Wait: 200 * time.Millisecond}, ids: ids,
				peers: &peers{opts: &media.Options{}, byH: map[uint64]*media.Peer{h: peer}, order: []uint64{h}}}
			c := &conn{r: r, changed: make(chan struct{}), txWait: map[string]txWait{}, matched: map[string]bool{}}
			if tc.hangup {
				got := &schema.Event{Direction: schema.ToClient, Body: []byte(`{"janus":"hangup","session_id":99,"sender":7,"reason":"DTLS alert"}`)}
				got.Janus, _ = schema.ParseJanus(got.Body)
				go func() {
					<-peer.Failed() // the peer closes first
					c.match(got)
				}()
			}
			missing := c.teardownFirst(t.Context(), p, step.Refused)
			if tc.want == "" && missing != "" || tc.want != "" && !strings.Contains(missing, tc.want) {
				t.Errorf("teardownFirst reported %q, want %q", missing, tc.want)
			}
			closed := false
			select {
			case <-peer.Failed():
				closed = true
			default:
			}
			if closed != closePeer {
				t.Errorf("the peer of the handle closed %v, want %v", closed, closePeer)
			}
			if c.matched[hangup.ID] != tc.hangup {
				t.Errorf("captured hangup matched %v, want %v", c.matched[hangup.ID], tc.hangup)
			}
		})
	}
}

// TestRefusedWithoutPeer: a request Janus refused in the capture, for a
// handle that has no peer, is sent without making one (a peer would wait
// for a PeerConnection Janus refuses); other requests, and a refused one
// for a handle with a peer, go through the transplant.
func TestRefusedWithoutPeer(t *testing.T) {
	peer, err := media.New(janus.OfferSDP, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	r := &runner{peers: &peers{byH: map[uint64]*media.Peer{7: peer}}}
	refused := &plan.Step{Refused: &plan.Refusal{Code: 469}}
	for _, tc := range []struct {
		name   string
		step   *plan.Step
		handle uint64
		want   bool
	}{
		{"refused_no_peer", refused, 8, true},
		{"refused_with_peer", refused, 7, false},
		{"not_refused", &plan.Step{}, 8, false},
	} {
		if got := r.refusedWithoutPeer(tc.step, tc.handle); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
