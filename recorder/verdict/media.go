package verdict

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/janustap/janustap/schema"
)

// The rules on a PeerConnection that came up, or tried to: DTLS, media,
// slow links. They read the events Janus sends the client (hangup, media,
// slowlink) and, when Janus posted them, its event handler's (transport
// evh): DTLS states, media statistics.

// dtlsFailed finds a handle whose DTLS failed: Janus hung it up for a
// reason that names DTLS ("DTLS alert", a handshake timeout), or Janus's
// event handler said its DTLS state was failed.
func dtlsFailed(f *Facts) []Finding {
	var out []Finding
	seen := map[uint64]bool{}
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || e.Janus != "hangup" {
			continue
		}
		reason := hangupReason(e.Body)
		if !dtlsReason(reason) || seen[e.HandleID] {
			continue
		}
		seen[e.HandleID] = true
		fd := Finding{Severity: Error, HandleID: e.HandleID, Detail: dtlsDetail(reason)}
		up := f.clientEvent(e.HandleID, "webrtcup")
		if up >= 0 {
			fd.Cause = fmt.Sprintf("DTLS failed on handle %d after the PeerConnection was up (webrtcup at message %d): Janus hung up with %q",
				e.HandleID, up+1, reason)
			fd.Evidence = append(fd.Evidence, f.at(up))
		} else {
			fd.Cause = fmt.Sprintf("DTLS failed on handle %d before the PeerConnection came up: Janus hung up with %q", e.HandleID, reason)
		}
		fd.Evidence = append(fd.Evidence, f.dtlsStates(e.HandleID)...)
		fd.Evidence = append(fd.Evidence, f.at(i))
		slices.SortStableFunc(fd.Evidence, func(a, b Evidence) int { return a.N - b.N })
		out = append(out, fd)
	}
	for _, h := range f.Janus {
		if seen[h.ID] || (h.DTLSState != "failed" && !slices.Contains(h.DTLSStates, "failed")) {
			continue
		}
		ev := f.dtlsStates(h.ID)
		if len(ev) == 0 {
			continue // the timeline does not hold Janus's events of it
		}
		out = append(out, Finding{Severity: Error, HandleID: h.ID, Evidence: ev,
			Cause:  fmt.Sprintf("DTLS failed on handle %d: Janus's DTLS states %s", h.ID, strings.Join(h.DTLSStates, " → ")),
			Detail: dtlsDetail(h.HangupReason)})
	}
	return out
}

// dtlsReason says whether a hangup reason is about DTLS.
func dtlsReason(reason string) bool {
	return strings.Contains(strings.ToUpper(reason), "DTLS")
}

func dtlsDetail(reason string) string {
	switch {
	case strings.Contains(reason, "alert"):
		return "the DTLS association ended with an alert: the client closed its PeerConnection (close_notify), or a fatal alert (fingerprint mismatch, bad certificate)"
	case strings.Contains(strings.ToLower(reason), "timeout"):
		return "the DTLS handshake did not complete in time: packets lost after ICE connected, or a client that never started DTLS (setup role?)"
	}
	return "the DTLS handshake or association failed: check the fingerprints and a=setup roles of both SDPs"
}

// dtlsStates returns the evidence of Janus's DTLS state events of handle h.
func (f *Facts) dtlsStates(h uint64) []Evidence {
	var out []Evidence
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Transport == schema.EVH && e.HandleID == h && e.Direction == "webrtc-dtls" && len(out) < maxEvidence {
			out = append(out, f.at(i))
		}
	}
	return out
}

// clientEvent returns the index of the first event of type what Janus sent
// the client about handle h, or -1.
func (f *Facts) clientEvent(h uint64, what string) int {
	for i := range f.Timeline {
		if e := &f.Timeline[i]; e.Direction == schema.ToClient && e.HandleID == h && e.Janus == what {
			return i
		}
	}
	return -1
}

// mediaTime is how long a PeerConnection must have been up without Janus
// receiving anything on a mid before no-media says so: Janus says
// "receiving" at the first packet, and the client's first packets follow
// webrtcup within a second.
const mediaTime = 2 * time.Second

// mediaEvent is what Janus's "media", "slowlink" events say.
type mediaEvent struct {
	Mid       string `json:"mid"`
	Type      string `json:"type"`
	Media     string `json:"media"`
	Receiving *bool  `json:"receiving"`
	Uplink    *bool  `json:"uplink"`
	Lost      int64  `json:"lost"`
}

// sentMid is an m-line the client said it sends on.
type sentMid struct{ mid, media string }

// clientSends returns the mids the client's first SDP of handle h sends on
// (sendrecv or sendonly), and the index of that message, or -1.
func (f *Facts) clientSends(h uint64) ([]sentMid, int) {
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToGateway || e.HandleID != h || !e.HasJSEP {
			continue
		}
		var m struct {
			JSEP struct {
				SDP string `json:"sdp"`
			} `json:"jsep"`
		}
		if json.Unmarshal(e.Body, &m) != nil || m.JSEP.SDP == "" {
			continue
		}
		var out []sentMid
		var cur *sentMid
		sends := true
		flush := func() {
			if cur != nil && sends && cur.mid != "" {
				out = append(out, *cur)
			}
		}
		for _, l := range strings.Split(m.JSEP.SDP, "\n") {
			l = strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(l, "m="):
				flush()
				media, _, _ := strings.Cut(strings.TrimPrefix(l, "m="), " ")
				cur, sends = &sentMid{media: media}, media == "audio" || media == "video"
			case cur == nil:
			case strings.HasPrefix(l, "a=mid:"):
				cur.mid = strings.TrimPrefix(l, "a=mid:")
			case l == "a=recvonly" || l == "a=inactive":
				sends = false
			}
		}
		flush()
		return out, i
	}
	return nil, -1
}

// noMedia finds the mids a PeerConnection that came up never received on,
// or stopped receiving on. Janus's "receiving" is about what Janus
// receives from the client (the client's upstream, client → Janus): what
// the client receives from Janus it cannot tell.
func noMedia(f *Facts) []Finding {
	var out []Finding
	for _, h := range f.handles() {
		up := f.clientEvent(h, "webrtcup")
		if up < 0 {
			continue
		}
		end := f.pcEnd(h, up)
		ended := f.Timeline[end].Time
		received := map[string]bool{}
		stopped := map[string]int{} // mid → index of its receiving:false
		for i := up; i <= end; i++ {
			e := &f.Timeline[i]
			if e.Direction != schema.ToClient || e.HandleID != h || e.Janus != "media" {
				continue
			}
			var m mediaEvent
			if json.Unmarshal(e.Body, &m) != nil || m.Receiving == nil {
				continue
			}
			if *m.Receiving {
				received[m.Mid] = true
				delete(stopped, m.Mid)
			} else {
				stopped[m.Mid] = i
			}
		}
		sends, offer := f.clientSends(h)
		for _, s := range sends {
			what := fmt.Sprintf("mid %s (%s), client → Janus", s.mid, s.media)
			switch i, ok := stopped[s.mid]; {
			case ok:
				out = append(out, Finding{Severity: Warning, HandleID: h,
					Cause:    fmt.Sprintf("Janus stopped receiving media from the client on handle %d, %s: media receiving:false at message %d", h, what, i+1),
					Detail:   "Janus's \"receiving\" is what Janus gets from the client: the client stopped sending (muted, track ended) or the network lost it",
					Evidence: []Evidence{f.at(up), f.at(i)}})
			case !received[s.mid] && ended.Sub(f.Timeline[up].Time) >= mediaTime:
				fd := Finding{Severity: Error, HandleID: h,
					Cause: fmt.Sprintf("Janus never received media from the client on handle %d, %s, in the %s the PeerConnection was up",
						h, what, round(ended.Sub(f.Timeline[up].Time))),
					Detail: "Janus's \"receiving\" is what Janus gets from the client; the client's SDP (message " + fmt.Sprint(offer+1) +
						") says it sends there, yet no \"media\" receiving:true came: no track attached, a muted or ended track, or RTP dropped on the way",
					Evidence: []Evidence{f.at(offer), f.at(up)}}
				fd.Evidence = append(fd.Evidence, f.stats(h, s.mid, 2)...)
				fd.Evidence = append(fd.Evidence, f.at(end))
				out = append(out, fd)
			}
		}
	}
	return out
}

// handles returns the handles of the timeline in the order they appear.
func (f *Facts) handles() []uint64 {
	var out []uint64
	for i := range f.Timeline {
		if h := f.Timeline[i].HandleID; h != 0 && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// pcEnd returns the index of the event that ended the PeerConnection of
// handle h that came up at up: its hangup or detach, else the last event of
// the timeline.
func (f *Facts) pcEnd(h uint64, up int) int {
	for i := up + 1; i < len(f.Timeline); i++ {
		e := &f.Timeline[i]
		if e.HandleID == h && e.Direction == schema.ToClient && (e.Janus == "hangup" || e.Janus == "detached") {
			return i
		}
	}
	return len(f.Timeline) - 1
}

// stats returns the evidence of the last n media statistics Janus posted
// for mid of handle h.
func (f *Facts) stats(h uint64, mid string, n int) []Evidence {
	var idx []int
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Transport == schema.EVH && e.HandleID == h && e.Janus == "stats" && strings.HasPrefix(e.Detail, "mid="+mid+" ") {
			idx = append(idx, i)
		}
	}
	if len(idx) > n {
		idx = idx[len(idx)-n:]
	}
	var out []Evidence
	for _, i := range idx {
		out = append(out, f.at(i))
	}
	return out
}

// slowlinkRepeat is how many slowlink events in one direction of a handle
// make a finding: one can be a blip.
const slowlinkRepeat = 3

// slowlink finds a handle Janus reported slow links on again and again, by
// direction: uplink false is Janus missing the client's packets (client →
// Janus, Janus sent NACKs); uplink true is the client missing Janus's
// (Janus → client, the client sent NACKs).
func slowlink(f *Facts) []Finding {
	type key struct {
		h      uint64
		uplink bool
	}
	type group struct {
		idx  []int
		mids map[string]int
		lost int64
	}
	groups := map[key]*group{}
	var keys []key
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || e.Janus != "slowlink" {
			continue
		}
		var m mediaEvent
		if json.Unmarshal(e.Body, &m) != nil {
			continue
		}
		k := key{e.HandleID, m.Uplink != nil && *m.Uplink}
		g := groups[k]
		if g == nil {
			g = &group{mids: map[string]int{}}
			groups[k] = g
			keys = append(keys, k)
		}
		g.idx = append(g.idx, i)
		name := m.Mid
		if media := cmpOr(m.Media, m.Type); media != "" {
			name += " (" + media + ")"
		}
		g.mids[name]++
		g.lost += m.Lost
	}
	var out []Finding
	for _, k := range keys {
		g := groups[k]
		if len(g.idx) < slowlinkRepeat {
			continue
		}
		var mids []string
		for m, n := range g.mids {
			mids = append(mids, fmt.Sprintf("mid %s ×%d", m, n))
		}
		sort.Strings(mids)
		dir, detail := "client → Janus", "uplink false: Janus missed the client's packets and asked for them again (NACKs); the client's upstream loses packets or is over its bandwidth"
		if k.uplink {
			dir, detail = "Janus → client", "uplink true: the client missed Janus's packets and asked for them again (NACKs); the client's downstream loses packets or is over its bandwidth"
		}
		first, last := f.Timeline[g.idx[0]].Time, f.Timeline[g.idx[len(g.idx)-1]].Time
		fd := Finding{Severity: Warning, HandleID: k.h, Detail: detail,
			Cause: fmt.Sprintf("repeated slow link on handle %d, %s: %d slowlink events in %s (%s), %d packets lost",
				k.h, dir, len(g.idx), round(last.Sub(first)), strings.Join(mids, ", "), g.lost)}
		for _, i := range g.idx {
			if len(fd.Evidence) < maxEvidence {
				fd.Evidence = append(fd.Evidence, f.at(i))
			}
		}
		out = append(out, fd)
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
