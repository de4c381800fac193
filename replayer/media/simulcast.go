package media

import (
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// KeyFrames says when a simulcast layer sends a key frame. Janus relays a
// subscriber the layer of the first key frame it sees, and moves it to
// another layer only at a key frame of that layer.
type KeyFrames int

const (
	// KeyOnRequest sends inter frames, and a key frame when Janus asks for
	// one (PLI, FIR), as a browser does.
	KeyOnRequest KeyFrames = iota
	// KeyAlways makes every frame a key frame: a subscriber starts on this
	// layer.
	KeyAlways
	// KeyNever sends inter frames only: Janus never moves a subscriber up
	// to this layer (the captured subscribers were never moved to it).
	KeyNever
)

// Layer is one rid of a simulcast m-line as the captured client sent it.
type Layer struct {
	RID string
	Key KeyFrames
	// For is how long the layer is sent from its first packet; 0 means
	// until the peer closes. A browser stops a layer its bandwidth estimate
	// cannot carry, and Janus says so ("receiving": false) once
	// no_media_timer passed without a packet.
	For time.Duration
}

// Simulcast is how the captured client sent the layers of one simulcast
// m-line (what Janus's media events and its subscribers' events showed).
type Simulcast struct {
	// Layers are the rids sent, in the order their packets go in each tick
	// (Janus reports a layer's media at its first packet). The template's
	// other rids are offered and never sent.
	Layers []Layer
	// Temporal gives the VP8 frames temporal layer ids 0, 2, 1, 2... (the
	// payload descriptor's TID, as Chromium's three temporal layers), so
	// that Janus tells a subscriber the temporal layer it relays
	// ("temporal": 2), as the captured subscribers were told.
	Temporal bool
}

// sendLayer is a track the peer sends, with how.
type sendLayer struct {
	track *webrtc.TrackLocalStaticRTP
	Layer
}

// layersOf returns what a sender of m-line i sends of its tracks (one, or
// one per rid in the order of a=simulcast): those sc names, in its order,
// or, without sc, every track, the first with a key frame every time (the
// highest with Chromium's h;m;l) and the next ones on request.
func layersOf(tracks []*webrtc.TrackLocalStaticRTP, sc *Simulcast) []sendLayer {
	if sc == nil || len(tracks) < 2 {
		out := make([]sendLayer, len(tracks))
		for i, t := range tracks {
			out[i] = sendLayer{track: t, Layer: Layer{RID: t.RID()}}
			if i == 0 {
				out[i].Key = KeyAlways
			}
		}
		return out
	}
	var out []sendLayer
	for _, l := range sc.Layers {
		for _, t := range tracks {
			if t.RID() == l.RID {
				out = append(out, sendLayer{track: t, Layer: l})
			}
		}
	}
	return out
}

// vp8Frame returns the payload of a generated VP8 frame: a payload
// descriptor (start of partition; with temporal, the extension with the
// TID) and the start of a key frame (a 64×48 picture) or of an inter
// frame. Janus needs no more to tell key frames and temporal layers.
func vp8Frame(key, temporal bool, tid uint8) []byte {
	var b []byte
	if temporal {
		b = []byte{0x90, 0x20, tid << 6} // X and S; T; TID
	} else {
		b = []byte{0x10} // S
	}
	if key {
		return append(b, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x30, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return append(b, 0x51, 0x01, 0x00, 0, 0, 0, 0, 0, 0) // the frame tag's inter frame bit set
}

// tids are the temporal layer ids of consecutive frames with three
// temporal layers (L1T3).
var tids = [4]uint8{0, 2, 1, 2}

// flowingPackets is how many packets each m-line Janus sends on must bring
// before Flowing: a cycle of temporal layers (tids), so that Janus has
// relayed a subscriber its first key frame and every temporal layer, and
// told it so ("substream", "temporal"), before the replay goes on.
const flowingPackets = len(tids)

// Flowing is closed once every m-line Janus's session description sends
// media on has brought the peer flowingPackets packets.
func (p *Peer) Flowing() <-chan struct{} { return p.flowing }

// checkFlowing closes flowing when every m-line Janus sends on brought
// enough packets.
func (p *Peer) checkFlowing() {
	select {
	case <-p.flowing:
		return
	default:
	}
	rd := p.pc.RemoteDescription()
	if rd == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flowSDP != rd.SDP { // parsed once per description Janus sent
		p.flowSDP, p.flowMids = rd.SDP, sendingMids(rd.SDP)
	}
	if len(p.flowMids) == 0 {
		return
	}
	for _, mid := range p.flowMids {
		if p.received[mid] < flowingPackets {
			return
		}
	}
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
}

// sendingMids returns the mids of the audio and video m-lines of sdp that
// send media (sendrecv or sendonly, port not 0).
func sendingMids(s string) []string {
	var d sdp.SessionDescription
	if d.UnmarshalString(s) != nil {
		return nil
	}
	var out []string
	for _, md := range d.MediaDescriptions {
		if _, ok := kindOf(md.MediaName.Media); !ok || md.MediaName.Port.Value == 0 || !sends(direction(md)) {
			continue
		}
		if mid, ok := md.Attribute("mid"); ok {
			out = append(out, mid)
		}
	}
	return out
}
