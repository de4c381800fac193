package media

import (
	"slices"
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestVP8Frame checks the generated VP8 payloads as Janus reads them
// (janus_vp8_is_keyframe, janus_vp8_parse_descriptor): the key frame bit
// of the frame tag after the payload descriptor, the TID of the
// descriptor's extension, and at least 16 bytes for a key frame.
func TestVP8Frame(t *testing.T) {
	for _, tt := range []struct {
		name     string
		key      bool
		temporal bool
		tid      uint8
	}{
		{"key", true, false, 0},
		{"inter", false, false, 0},
		{"key_tid0", true, true, 0},
		{"inter_tid2", false, true, 2},
		{"inter_tid1", false, true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := vp8Frame(tt.key, tt.temporal, tt.tid)
			hdr, tid := 1, uint8(0)
			if b[0]&0x80 != 0 { // X: the extension's control octet, then TID/Y/KEYIDX with T
				if b[1]&0x20 == 0 {
					t.Fatalf("% x: X without T", b)
				}
				hdr, tid = 3, b[2]>>6
			}
			if got := hdr == 3; got != tt.temporal {
				t.Errorf("% x: extension %v, want %v", b, got, tt.temporal)
			}
			if b[0]&0x10 == 0 {
				t.Errorf("% x: no start of partition", b)
			}
			if key := b[hdr]&0x01 == 0; key != tt.key {
				t.Errorf("% x: key frame %v, want %v", b, key, tt.key)
			}
			if tid != tt.tid {
				t.Errorf("% x: TID %d, want %d", b, tid, tt.tid)
			}
			if tt.key && len(b) < 16 {
				t.Errorf("% x: %d bytes, Janus needs 16 to see a key frame", b, len(b))
			}
		})
	}
}

// TestLayersOf: without a plan every track is sent, the first with key
// frames; with one, the plan's rids in its order, the others not at all.
func TestLayersOf(t *testing.T) {
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range []string{"h", "m", "l"} {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video1", "janustap", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	show := func(ls []sendLayer) []Layer {
		var out []Layer
		for _, l := range ls {
			if l.track.RID() != l.RID {
				t.Errorf("layer %s has the track of %s", l.RID, l.track.RID())
			}
			out = append(out, l.Layer)
		}
		return out
	}
	if got, want := show(layersOf(tracks, nil)), []Layer{{RID: "h", Key: KeyAlways}, {RID: "m"}, {RID: "l"}}; !slices.Equal(got, want) {
		t.Errorf("without a plan: %+v, want %+v", got, want)
	}
	plan := &Simulcast{Layers: []Layer{{RID: "m", Key: KeyNever, For: 1500}, {RID: "l", Key: KeyAlways}}}
	if got, want := show(layersOf(tracks, plan)), plan.Layers; !slices.Equal(got, want) {
		t.Errorf("with a plan: %+v, want %+v", got, want)
	}
}
