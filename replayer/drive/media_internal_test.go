package drive

import (
	"bytes"
	"testing"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/media"
)

// TestTransplantClosedPeer: a new offer or answer on a handle whose peer
// has closed (Janus hung up, or the client's DTLS alert) goes with the
// captured SDP instead of failing the request: the captured client sent
// it, and Janus's answer to it (459 when the handle is gone) is compared.
// Seen in a videoroom demo capture, where a subscriber answered Janus's
// new offer after its handle had gone.
func TestTransplantClosedPeer(t *testing.T) {
	p, err := media.New(janus.OfferSDP, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	<-p.Failed() // closed is failed to the replay
	const h = 7
	r := &runner{peers: &peers{opts: &media.Options{}, byH: map[uint64]*media.Peer{h: p}, offers: map[uint64]string{h: janus.OfferSDP}, order: []uint64{h}}}
	c := &conn{r: r}
	for _, typ := range []string{"offer", "answer"} {
		body := []byte(`{"janus":"message","body":{"request":"start"},"jsep":{"type":"` + typ + `","sdp":"captured"},"transaction":"t"}`)
		got, err := c.transplant(t.Context(), body, h)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("%s: sent %s, want the captured body", typ, got)
		}
	}
}
