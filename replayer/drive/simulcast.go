package drive

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// simulcastPlans reads from a captured flow how each client that offered
// simulcast (a=rid, a=simulcast:send) sent its layers, by the SDP of its
// offer, for the replay's peer made after that offer to send the same:
//
//   - The layers sent are the substreams Janus reported media of
//     ("media", "receiving": true, "substream" n), in the order it did.
//     A browser sends fewer layers than it offers when its camera's
//     resolution is small (Chromium drops the highest at 640×480); the
//     rids it did not send are offered and not sent.
//   - A layer that Janus later reported not receiving ("receiving": false,
//     after "seconds", 1 when absent, without a packet) stops after as
//     long as it was sent in the capture: a browser's bandwidth estimate
//     pauses a layer it cannot carry.
//   - The subscribers of the publisher (videoroom "attached"/"updated"
//     streams with its feed id and mid) were first told they get substream
//     S: that layer sends a key frame every time, those above it none
//     (Janus never moved a subscriber up to them), those below on request.
//     Without subscribers, the highest layer sent is the key one.
//   - When the subscribers were told a temporal layer ("temporal"), the
//     frames carry temporal layer ids.
//
// Janus numbers the substreams by the order of the a=rid lines: the first
// is the highest (substream n-1 of n), unless the jsep said "rid_order":
// "lmh". An m-line of which the capture shows no media event with a
// substream is not planned: the peer sends every rid.
func simulcastPlans(evs []*schema.Event) map[string]map[int]media.Simulcast {
	type offer struct {
		sdp   string
		lines []simulcastLine
	}
	type key struct {
		feed uint64
		mid  string
	}
	type report struct {
		substream int
		receiving bool
		seconds   int
		at        time.Time
	}
	offers := map[uint64]*offer{}               // by captured handle: its first simulcast offer
	feedOf := map[uint64]uint64{}               // publisher handle → its feed id
	streams := map[uint64]map[string]key{}      // subscriber handle → its mid → feed and mid
	first := map[key]int{}                      // the first substream a subscriber was told
	temporal := map[key]bool{}                  // a subscriber was told a temporal layer
	reports := map[uint64]map[string][]report{} // publisher handle → mid → media events
	for _, ev := range evs {
		j := ev.Janus
		if j == nil {
			continue
		}
		if ev.Direction == schema.ToGateway {
			if j.JSEP != "offer" || j.HandleID == 0 || offers[j.HandleID] != nil {
				continue
			}
			var m struct {
				JSEP struct {
					SDP      string `json:"sdp"`
					RIDOrder string `json:"rid_order"`
				} `json:"jsep"`
			}
			if json.Unmarshal(ev.Body, &m) != nil || !strings.Contains(m.JSEP.SDP, "a=simulcast:") {
				continue
			}
			if lines := simulcastLines(m.JSEP.SDP, m.JSEP.RIDOrder == "lmh"); len(lines) > 0 {
				offers[j.HandleID] = &offer{sdp: m.JSEP.SDP, lines: lines}
			}
			continue
		}
		if j.Sender == 0 {
			continue
		}
		var m struct {
			Type       string `json:"type"`
			Mid        string `json:"mid"`
			Substream  *int   `json:"substream"`
			Receiving  *bool  `json:"receiving"`
			Seconds    int    `json:"seconds"`
			Plugindata struct {
				Data struct {
					Videoroom string `json:"videoroom"`
					ID        uint64 `json:"id"`
					Mid       string `json:"mid"`
					Substream *int   `json:"substream"`
					Temporal  *int   `json:"temporal"`
					Streams   []struct {
						Mid     string `json:"mid"`
						FeedID  uint64 `json:"feed_id"`
						FeedMid string `json:"feed_mid"`
					} `json:"streams"`
				} `json:"data"`
			} `json:"plugindata"`
		}
		if json.Unmarshal(ev.Body, &m) != nil {
			continue
		}
		if j.Janus == "media" {
			if m.Type == "video" && m.Substream != nil && m.Receiving != nil {
				if reports[j.Sender] == nil {
					reports[j.Sender] = map[string][]report{}
				}
				reports[j.Sender][m.Mid] = append(reports[j.Sender][m.Mid], report{*m.Substream, *m.Receiving, m.Seconds, ev.Time})
			}
			continue
		}
		d := m.Plugindata.Data
		switch {
		case d.Videoroom == "joined" && d.ID != 0:
			feedOf[j.Sender] = d.ID
		case d.Videoroom == "attached" || d.Videoroom == "updated":
			if len(d.Streams) > 0 {
				streams[j.Sender] = map[string]key{}
			}
			for _, s := range d.Streams {
				streams[j.Sender][s.Mid] = key{s.FeedID, s.FeedMid}
			}
		case d.Videoroom == "event" && (d.Substream != nil || d.Temporal != nil):
			k, ok := streams[j.Sender][d.Mid]
			if !ok || k.feed == 0 {
				continue
			}
			if _, told := first[k]; !told && d.Substream != nil {
				first[k] = *d.Substream
			}
			if d.Temporal != nil {
				temporal[k] = true
			}
		}
	}
	plans := map[string]map[int]media.Simulcast{}
	for h, o := range offers {
		for _, line := range o.lines {
			rs := reports[h][line.mid]
			var sc media.Simulcast
			started := map[int]time.Time{}
			var order []int
			stops := map[int]time.Duration{}
			for _, r := range rs {
				switch {
				case r.receiving && started[r.substream].IsZero():
					started[r.substream] = r.at
					order = append(order, r.substream)
				case r.receiving:
					delete(stops, r.substream) // it came back: sent to the end
				case !started[r.substream].IsZero():
					silent := time.Duration(max(r.seconds, 1)) * time.Second
					stops[r.substream] = max(r.at.Sub(started[r.substream])-silent, time.Millisecond)
				}
			}
			if len(order) == 0 {
				continue
			}
			k := key{feedOf[h], line.mid}
			keySub, told := first[k]
			if !told || !slices.Contains(order, keySub) {
				keySub = slices.Max(order)
			}
			for _, s := range order {
				rid, ok := line.rids[s]
				if !ok {
					continue
				}
				l := media.Layer{RID: rid, For: stops[s]}
				switch {
				case s == keySub:
					l.Key = media.KeyAlways
				case s > keySub:
					l.Key = media.KeyNever
				}
				sc.Layers = append(sc.Layers, l)
			}
			if len(sc.Layers) == 0 {
				continue // substreams the offer has no rid for: send every rid
			}
			sc.Temporal = temporal[k]
			if plans[o.sdp] == nil {
				plans[o.sdp] = map[int]media.Simulcast{}
			}
			plans[o.sdp][line.index] = sc
		}
	}
	return plans
}

// simulcastLine is a simulcast m-line of an offer: its index, its mid and
// the rid of each substream, numbered as Janus numbers them.
type simulcastLine struct {
	index int
	mid   string
	rids  map[int]string
}

// simulcastLines returns the m-lines of sdp that send rids, with Janus's
// substream number of each rid: the a=rid lines' order, the first the
// highest (hml) or, with lmh, the lowest.
func simulcastLines(sdp string, lmh bool) []simulcastLine {
	var out []simulcastLine
	index := -1
	var mid string
	var rids []string
	flush := func() {
		if index >= 0 && len(rids) > 1 {
			l := simulcastLine{index: index, mid: mid, rids: map[int]string{}}
			n := min(len(rids), 3) // Janus keeps three
			for i, r := range rids[:n] {
				if lmh {
					l.rids[i] = r
				} else {
					l.rids[n-1-i] = r
				}
			}
			out = append(out, l)
		}
	}
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			flush()
			index, mid, rids = index+1, "", nil
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=rid:"):
			if f := strings.Fields(strings.TrimPrefix(line, "a=rid:")); len(f) >= 2 && f[1] == "send" {
				rids = append(rids, f[0])
			}
		}
	}
	flush()
	return out
}

// layeredAnswers returns the SDPs of the answers of the captured clients
// whose handles Janus told a simulcast substream or temporal layer (a
// videoroom subscriber's "substream", "temporal"): Janus tells it with the
// first video it relays, so before the replay goes on, the peer made after
// such an answer waits for packets on every m-line (media.Peer.Flowing),
// not only its first packet.
func layeredAnswers(evs []*schema.Event) map[string]bool {
	answers := map[uint64]string{}
	told := map[uint64]bool{}
	for _, ev := range evs {
		j := ev.Janus
		switch {
		case j == nil:
		case ev.Direction == schema.ToGateway && j.JSEP == "answer" && j.HandleID != 0:
			if _, ok := answers[j.HandleID]; !ok {
				_, answers[j.HandleID] = jsepOf(ev.Body)
			}
		case ev.Direction == schema.ToClient && j.Sender != 0 && j.PluginValue == "event":
			var m struct {
				Plugindata struct {
					Data struct {
						Substream *int `json:"substream"`
						Temporal  *int `json:"temporal"`
					} `json:"data"`
				} `json:"plugindata"`
			}
			if json.Unmarshal(ev.Body, &m) == nil && (m.Plugindata.Data.Substream != nil || m.Plugindata.Data.Temporal != nil) {
				told[j.Sender] = true
			}
		}
	}
	out := map[string]bool{}
	for h := range told {
		if sdp := answers[h]; sdp != "" {
			out[sdp] = true
		}
	}
	return out
}
