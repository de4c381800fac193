package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// mediaWait is how long a peer that expects media from Janus may wait for
// its first packet before its handle is hung up or detached.
const mediaWait = 3 * time.Second

// peers are the WebRTC peers of one replay, by the new run's handle id.
type peers struct {
	opts   *media.Options
	fail   context.CancelCauseFunc // ends the run when a peer cannot connect
	byH    map[uint64]*media.Peer
	offers map[uint64]string // Janus's offers not answered yet, by handle
	cands  map[uint64]int    // trickled candidates, by handle
	// awaited are the peers whose first packet from Janus was waited for.
	awaited map[*media.Peer]bool
	// awaitedDC are the peers whose data channel was waited for.
	awaitedDC map[*media.Peer]bool
	// hungUp is closed, per handle, when Janus's hangup for it arrives:
	// with DTLSClose the run waits for it, so that the next request does
	// not race the alert.
	hungUp map[uint64]chan struct{}
	order  []uint64
	// simulcast says how the captured clients sent their simulcast
	// layers, by the SDP of their offer (simulcastPlans).
	simulcast map[string]map[int]media.Simulcast
	// layered are the captured answers of subscribers told a substream or
	// temporal layer (layeredAnswers); flowing are the peers made after
	// them, which awaitMedia waits for until media.Peer.Flowing.
	layered map[string]bool
	flowing map[*media.Peer]bool
	// later are the captured clients' later SDPs on a handle (their
	// renegotiations), by the SDP of its first (laterSDPs).
	later map[string][]string
}

// laterSDPs returns, by the first SDP a captured client sent on a handle,
// the SDPs it sent on it after (offers or answers of renegotiations).
func laterSDPs(evs []*schema.Event) map[string][]string {
	first := map[uint64]string{}
	out := map[string][]string{}
	for _, ev := range evs {
		if ev.Direction != schema.ToGateway || ev.Janus == nil || ev.Janus.HandleID == 0 {
			continue
		}
		if j := ev.Janus.JSEP; j != "offer" && j != "answer" {
			continue
		}
		_, sdp := jsepOf(ev.Body)
		if sdp == "" {
			continue
		}
		f, ok := first[ev.Janus.HandleID]
		if !ok {
			first[ev.Janus.HandleID] = sdp
			continue
		}
		out[f] = append(out[f], sdp)
	}
	return out
}

// hangupOf returns the channel closed when Janus hangs up handle h.
// The caller holds r.mu.
func (ps *peers) hangupOf(h uint64) chan struct{} {
	if ps.hungUp == nil {
		ps.hungUp = map[uint64]chan struct{}{}
	}
	c, ok := ps.hungUp[h]
	if !ok {
		c = make(chan struct{})
		ps.hungUp[h] = c
	}
	return c
}

// jsepOf returns the type and SDP of a message's jsep, if any.
func jsepOf(body []byte) (typ, sdp string) {
	if !bytes.Contains(body, []byte(`"jsep"`)) {
		return "", ""
	}
	var m struct {
		JSEP *struct {
			Type string `json:"type"`
			SDP  string `json:"sdp"`
		} `json:"jsep"`
	}
	if json.Unmarshal(body, &m) != nil || m.JSEP == nil {
		return "", ""
	}
	return m.JSEP.Type, m.JSEP.SDP
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// withSDP returns body with its jsep's sdp replaced.
func withSDP(body []byte, sdp string) ([]byte, error) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	j, ok := m["jsep"].(map[string]any)
	if !ok {
		return body, nil
	}
	j["sdp"] = sdp
	return json.Marshal(m)
}

// transplant makes a request of a handle that carries JSEP the peer's own:
// an offer or answer made by the replay's peer after the captured SDP, a
// trickled candidate of the peer in place of the captured client's.
func (c *conn) transplant(ctx context.Context, body []byte, handle uint64) ([]byte, error) {
	ps := c.r.peers
	if ps == nil {
		return body, nil
	}
	if handle == 0 {
		// A session's request (a destroy) may end what the peers wait for.
		c.r.awaitMedia(ctx)
		return body, nil
	}
	typ, captured := jsepOf(body)
	c.r.mu.Lock()
	p := ps.byH[handle]
	offer := ps.offers[handle]
	c.r.mu.Unlock()
	if p != nil && (typ == "offer" || typ == "answer") {
		select {
		case <-p.Failed():
			// Closed (a hangup, the client's DTLS alert) or failed: the
			// peer cannot renegotiate, and a new one would wait for a
			// connection Janus may never make (the handle may be gone, as
			// when the captured client answered too late and got 459). The
			// captured SDP goes as it was; Janus's answer to it is compared.
			return body, nil
		default:
		}
	}
	switch typ {
	case "offer", "answer":
		if p != nil {
			// A renegotiation: the peer's own new offer, or its answer to
			// Janus's new offer, on the PeerConnection it has.
			gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var sdp string
			var err error
			switch {
			case typ == "offer":
				sdp, err = p.Reoffer(gctx, captured)
			case offer != "":
				sdp, err = p.Reanswer(gctx, offer)
			default:
				return body, fmt.Errorf("media: an answer for handle %d, and Janus made no new offer", handle)
			}
			if errors.Is(err, media.ErrClosed) {
				// Closed while it renegotiated (Janus's DTLS alert as it
				// detached the handle): as a closed peer above, the
				// captured SDP goes, and Janus's answer to it is compared.
				return body, nil
			}
			if err != nil {
				return body, err
			}
			c.r.mu.Lock()
			delete(ps.offers, handle)
			c.r.mu.Unlock()
			return withSDP(body, sdp)
		}
		if typ == "answer" && offer == "" {
			return body, fmt.Errorf("media: an answer for handle %d, and Janus made no offer", handle)
		}
		opts := *ps.opts
		opts.Simulcast = ps.simulcast[captured]
		opts.Later = ps.later[captured]
		np, err := media.New(captured, opts)
		if err != nil {
			return body, err
		}
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var sdp string
		if typ == "offer" {
			sdp, err = np.Offer(gctx)
		} else {
			sdp, err = np.Answer(gctx, offer)
		}
		if err != nil {
			np.Close()
			return body, err
		}
		if !ps.opts.DropCandidates {
			go c.r.watch(ctx, np, handle)
		}
		c.r.mu.Lock()
		ps.byH[handle] = np
		if typ == "answer" && ps.layered[captured] {
			if ps.flowing == nil {
				ps.flowing = map[*media.Peer]bool{}
			}
			ps.flowing[np] = true
		}
		ps.order = append(ps.order, handle)
		delete(ps.offers, handle)
		c.r.mu.Unlock()
		return withSDP(body, sdp)
	}
	c.r.awaitMedia(ctx)
	if p == nil || !bytes.Contains(body, []byte(`"trickle"`)) {
		return body, nil
	}
	cands := p.Candidates()
	if len(cands) == 0 {
		return body, nil
	}
	m, err := decodeObject(body)
	if err != nil {
		return body, nil
	}
	next := func() string {
		c.r.mu.Lock()
		i := ps.cands[handle]
		ps.cands[handle]++
		c.r.mu.Unlock()
		return cands[i%len(cands)]
	}
	fix := func(v any) {
		if cm, ok := v.(map[string]any); ok {
			if _, ok := cm["candidate"].(string); ok {
				cm["candidate"] = next()
				cm["sdpMid"], cm["sdpMLineIndex"] = "0", 0
			}
		}
	}
	fix(m["candidate"])
	if list, ok := m["candidates"].([]any); ok {
		for _, v := range list {
			fix(v)
		}
	}
	return json.Marshal(m)
}

// awaitMedia waits, before a request, until every peer that Janus sends
// media to (and that has not failed) has received its first packet (or,
// for a subscriber Janus told a simulcast layer, packets on every m-line it
// sends on: those events come with the first video), each for mediaWait at
// most once: the captured client had media before it went on (nothing in
// the signaling shows it), and the next request may end what sends it (a
// publisher leaving, a room destroyed).
func (r *runner) awaitMedia(ctx context.Context) {
	r.mu.Lock()
	var wait, dcs []*media.Peer
	recv := map[*media.Peer]<-chan struct{}{}
	for _, h := range r.peers.order {
		p := r.peers.byH[h]
		select {
		case <-p.Failed():
			continue
		default:
		}
		if !r.peers.awaited[p] && p.ExpectsMedia() {
			r.peers.awaited[p] = true
			wait = append(wait, p)
			recv[p] = p.Receiving()
			if r.peers.flowing[p] {
				recv[p] = p.Flowing()
			}
		}
		if !r.peers.awaitedDC[p] && p.HasDataChannel() {
			r.peers.awaitedDC[p] = true
			dcs = append(dcs, p)
		}
	}
	hungUp := map[*media.Peer]chan struct{}{}
	if r.peers.opts.DTLSClose {
		for _, h := range r.peers.order {
			if p := r.peers.byH[h]; slices.Contains(wait, p) {
				hungUp[p] = r.peers.hangupOf(h)
			}
		}
	}
	r.mu.Unlock()
	for _, p := range wait {
		select {
		case <-recv[p]:
		case <-p.Failed():
		case <-time.After(mediaWait):
		case <-ctx.Done():
		}
	}
	// The peer closes at its first packet (DTLSClose); Janus's hangup for
	// the alert comes before the next request, as it did for the client
	// whose failure the flag reproduces.
	for _, c := range hungUp { // not Failed: closing the peer is that
		select {
		case <-c:
		case <-time.After(mediaWait):
		case <-ctx.Done():
		}
	}
	// The captured client's data channel was open before it went on (a
	// textroom client joins over it); the peer's opens once ICE, DTLS and
	// SCTP are up.
	for _, p := range dcs {
		select {
		case <-p.DataChannelOpen():
		case <-p.Failed():
		case <-time.After(mediaWait):
		case <-ctx.Done():
		}
	}
}

// closedByClient closes the peers whose captured client closed its
// PeerConnection: Janus hung up with "DTLS alert" (janus.js closes the
// PeerConnection as it sends hangup, and the alert can come first).
func (r *runner) closedByClient(expect []*schema.Event) {
	if r.peers == nil {
		return
	}
	for _, ev := range expect {
		if ev.Janus == nil || ev.Janus.Janus != "hangup" || ev.Janus.Reason != "DTLS alert" {
			continue
		}
		h, ok := r.ids.ID(ev.Janus.Sender)
		if !ok {
			continue
		}
		r.mu.Lock()
		p := r.peers.byH[h]
		r.mu.Unlock()
		if p != nil {
			p.Close()
		}
	}
}

// watch ends the run when the peer of handle does not connect in time: a
// replay without a working peer would only report what media did not make
// happen.
func (r *runner) watch(ctx context.Context, p *media.Peer, handle uint64) {
	limit := r.peers.opts.ICEFailed
	if limit == 0 {
		limit = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	if err := p.Wait(wctx); err != nil && ctx.Err() == nil {
		r.peers.fail(fmt.Errorf("%w (handle %d, state %s): no ICE path to Janus; is UDP between this host and Janus blocked?", media.ErrNotConnected, handle, p.Stats().State))
	}
}

// incoming gives Janus's JSEP to the peer of its handle: an answer to the
// peer's offer, or an offer the peer answers at the captured client's
// answer.
func (r *runner) incoming(ev *schema.Event) {
	ps := r.peers
	if ps == nil || ev.Janus == nil || ev.Janus.Sender == 0 {
		return
	}
	if ev.Janus.Janus == "hangup" {
		r.mu.Lock()
		c := ps.hangupOf(ev.Janus.Sender)
		select {
		case <-c:
		default:
			close(c)
		}
		r.mu.Unlock()
		return
	}
	if ev.Janus.JSEP == "" {
		return
	}
	typ, sdp := jsepOf(ev.Body)
	h := ev.Janus.Sender
	r.mu.Lock()
	p := ps.byH[h]
	if typ == "offer" {
		ps.offers[h] = sdp // answered by the peer made then, or by the peer there is
	}
	r.mu.Unlock()
	if typ == "answer" && p != nil {
		if err := p.SetAnswer(sdp); err != nil {
			r.addError(fmt.Sprintf("handle %d: %v", h, err))
		}
	}
}

// closePeers closes the peers of the run and reports those that never
// connected, and what each sent and received.
func (r *runner) closePeers(ctx context.Context) error {
	ps := r.peers
	if ps == nil {
		return nil
	}
	r.mu.Lock()
	order := slices.Clone(ps.order)
	r.mu.Unlock()
	var failed []string
	for _, h := range order {
		p := ps.byH[h]
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.Wait(wctx)
		cancel()
		st := p.Stats()
		dsent, drecv := p.DataCounts()
		derrs := r.dataErrors(h)
		r.mu.Lock()
		r.res.Media = append(r.res.Media, MediaStats{Handle: h, Connected: err == nil, Sent: st.Sent, Received: st.Received, Layers: st.Layers,
			DataChannel: st.DataChannel, DataSent: dsent, DataReceived: drecv, DataErrors: derrs})
		r.mu.Unlock()
		if err != nil {
			failed = append(failed, strconv.FormatUint(h, 10))
		}
		p.Close()
	}
	if len(failed) > 0 && !ps.opts.DropCandidates {
		return fmt.Errorf("%w (handles %v): no ICE path to Janus; is UDP between this host and Janus blocked?", media.ErrNotConnected, failed)
	}
	return nil
}

// MediaStats is what the peer of one handle did.
type MediaStats struct {
	Handle    uint64         `json:"handle"`
	Connected bool           `json:"connected"`
	Sent      map[string]int `json:"sent"`     // packets by mid
	Received  map[string]int `json:"received"` // packets by mid
	// Layers are the packets sent on each simulcast layer, by mid and rid
	// ("1/m").
	Layers map[string]int `json:"layers,omitempty"`
	// DataChannel says the data channel the captured SDP had opened.
	DataChannel bool `json:"data_channel,omitempty"`
	// DataSent and DataReceived count the messages on it: the requests
	// Janus's events of the capture show the client sent
	// (Options.DataChannel), and what Janus sent (answers, notifications).
	// What else the client sent (chat messages) is not in the capture.
	DataSent     int `json:"data_sent,omitempty"`
	DataReceived int `json:"data_received,omitempty"`
	// DataErrors are the requests Janus refused on it, or that could not
	// be sent; each is also among the run's Errors.
	DataErrors []string `json:"data_errors,omitempty"`
}
