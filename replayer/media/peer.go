// Package media is the replayer's WebRTC endpoint: a PeerConnection
// (github.com/pion/webrtc/v4) that stands in for the captured client of a
// handle that carried JSEP. The captured session description is its
// template: the peer registers the template's codecs (payload types, fmtp,
// rtcp-fb) and header extensions, makes its m-lines in the template's
// order with the template's directions, and makes its own offer or answer
// from them, so that Janus answers the new run as it answered the capture.
// It sends generated RTP on every sending m-line and counts what it
// receives, so that Janus reports webrtcup and media for real.
//
// It may import pion's packages and the standard library, nothing of
// janustap.
package media

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options are the failures a replay can cause on purpose, and what the peer
// sends.
type Options struct {
	// NoMedia sends no RTP: Janus sees the PeerConnection up, and no media.
	NoMedia bool
	// DropCandidates gives Janus none of the peer's candidates and the
	// peer none of Janus's: in their place, in the SDP and in every
	// trickle, Janus gets one host candidate on a loopback UDP socket that
	// never answers. Janus's connectivity checks to it fail and Janus hangs
	// up with "ICE failed" (about 13 s after the offer with Janus 1.1.2).
	// With no candidate at all Janus would wait for one forever.
	DropCandidates bool
	// LossPercent drops this share of the RTP packets the peer would send,
	// leaving gaps in their sequence numbers: Janus asks for them again and
	// reports slowlink.
	LossPercent float64
	// DTLSClose closes the PeerConnection (a DTLS close_notify alert) as
	// soon as media came back from Janus: Janus hangs up with "DTLS alert".
	DTLSClose bool
	// ICEFailed is how long ICE may try before the peer gives up; 0 means
	// 10 s.
	ICEFailed time.Duration
	// IPFilter says which local addresses the peer may use; nil means all.
	IPFilter func(net.IP) bool
	// Simulcast says, by the template's m-line index, how the captured
	// client sent the layers of a simulcast m-line. An m-line it does not
	// name sends every rid of its a=simulcast, the first with a key frame
	// every time and the next ones on request.
	Simulcast map[int]Simulcast
	// Later are the captured client's later session descriptions on the
	// handle (its renegotiations). The peer registers the codecs of their
	// m-lines of a kind the template has none of (audio or video), so
	// that Reoffer can add such m-lines.
	Later []string
}

// Peer is one PeerConnection of the replay.
type Peer struct {
	opts Options
	pc   *webrtc.PeerConnection
	tmpl *sdp.SessionDescription

	connected chan struct{} // closed when ICE and DTLS are up
	receiving chan struct{} // closed at the first packet received
	flowing   chan struct{} // closed once every m-line Janus sends on brought packets (Flowing)
	flowSDP   string        // Janus's description whose sending mids are flowMids
	flowMids  []string
	failed    chan struct{} // closed when the connection failed or closed
	failOnce  sync.Once
	stop      chan struct{} // ends the senders
	wg        sync.WaitGroup

	mu       sync.Mutex
	tracks   []*webrtc.TrackLocalStaticRTP
	senderOf map[*webrtc.TrackLocalStaticRTP]*webrtc.RTPSender // of the tracks with a rid
	mline    map[*webrtc.TrackLocalStaticRTP]int               // the template's m-line of each track
	layers   map[string]int                                    // packets sent, by mid and rid ("1/m")
	received map[string]int                                    // packets received, by mid
	sent     map[string]int                                    // packets sent, by mid
	state    webrtc.PeerConnectionState
	dcOpen   bool          // the data channel of an m=application opened
	dc       bool          // the template has a data channel
	dcOpened chan struct{} // closed when it opens
	data     dataChannel   // what was sent and received on it (datachannel.go)
	once     sync.Once
	started  map[*webrtc.TrackLocalStaticRTP]bool // the tracks whose sender was started
	closeErr error
	// sink is the socket of the only candidate Janus gets with
	// DropCandidates: it never reads, so Janus's checks go unanswered.
	sink net.PacketConn
}

// kinds maps an m-line's media to pion's codec type.
func kindOf(media string) (webrtc.RTPCodecType, bool) {
	switch media {
	case "audio":
		return webrtc.RTPCodecTypeAudio, true
	case "video":
		return webrtc.RTPCodecTypeVideo, true
	}
	return 0, false
}

// New makes a peer whose media follow the session description template
// (the captured client's offer or answer).
func New(template string, opts Options) (*Peer, error) {
	var tmpl sdp.SessionDescription
	if err := tmpl.UnmarshalString(template); err != nil {
		return nil, fmt.Errorf("media peer: parse the captured SDP: %w", err)
	}
	me := &webrtc.MediaEngine{}
	seenPT := map[string]bool{}
	type ext struct {
		id   int
		uri  string
		kind webrtc.RTPCodecType
	}
	var exts []ext
	maxID := 0
	for _, md := range tmpl.MediaDescriptions {
		kind, ok := kindOf(md.MediaName.Media)
		if !ok {
			continue
		}
		// A simulcast m-line needs the mid and rid header extensions:
		// Janus tells the layers apart by them.
		need := map[string]bool{}
		if len(sendRIDs(md)) > 1 {
			need[sdp.SDESMidURI], need[sdp.SDESRTPStreamIDURI] = true, true
		}
		for _, c := range codecsOf(md) {
			key := md.MediaName.Media + "/" + strconv.Itoa(int(c.PayloadType))
			if seenPT[key] {
				continue
			}
			seenPT[key] = true
			if err := me.RegisterCodec(c, kind); err != nil {
				return nil, fmt.Errorf("media peer: codec %s: %w", c.MimeType, err)
			}
		}
		for _, a := range md.Attributes {
			if a.Key != "extmap" {
				continue
			}
			f := strings.Fields(a.Value)
			if len(f) < 2 {
				continue
			}
			id, _ := strconv.Atoi(strings.Split(f[0], "/")[0])
			exts = append(exts, ext{id, f[1], kind})
			maxID = max(maxID, id)
			delete(need, f[1])
		}
		for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
			if need[uri] {
				maxID++
				exts = append(exts, ext{maxID, uri, kind})
			}
		}
	}
	// The codecs of a kind only a later description has.
	has := map[string]bool{}
	for _, md := range tmpl.MediaDescriptions {
		has[md.MediaName.Media] = true
	}
	for i, later := range opts.Later {
		var d sdp.SessionDescription
		if err := d.UnmarshalString(later); err != nil {
			return nil, fmt.Errorf("media peer: parse the captured SDP of renegotiation %d: %w", i+1, err)
		}
		for _, md := range d.MediaDescriptions {
			kind, ok := kindOf(md.MediaName.Media)
			if !ok || has[md.MediaName.Media] {
				continue
			}
			for _, c := range codecsOf(md) {
				key := md.MediaName.Media + "/" + strconv.Itoa(int(c.PayloadType))
				if seenPT[key] {
					continue
				}
				seenPT[key] = true
				if err := me.RegisterCodec(c, kind); err != nil {
					return nil, fmt.Errorf("media peer: codec %s of renegotiation %d: %w", c.MimeType, i+1, err)
				}
			}
		}
	}
	// pion numbers header extensions 1, 2... in the order they are
	// registered: in the template's order of ids, they keep the template's
	// ids when those have no gap.
	// An id the template leaves out is taken by a placeholder extension
	// (offered, never used), so that the next ones keep their ids.
	slices.SortStableFunc(exts, func(a, b ext) int { return a.id - b.id })
	next := 1
	for _, e := range exts {
		for ; next < e.id && next < 15; next++ {
			if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: "urn:janustap:unused:" + strconv.Itoa(next)}, e.kind); err != nil {
				return nil, fmt.Errorf("media peer: header extension placeholder: %w", err)
			}
		}
		if e.id >= next {
			next = e.id + 1
		}
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("media peer: header extension %s: %w", e.uri, err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if opts.IPFilter != nil {
		se.SetIPFilter(opts.IPFilter)
	}
	failedAfter := opts.ICEFailed
	if failedAfter == 0 {
		failedAfter = 10 * time.Second
	}
	se.SetICETimeouts(failedAfter/2, failedAfter, time.Second)
	// No interceptors: they would add feedback (transport-cc) and header
	// extensions the template does not have.
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("media peer: %w", err)
	}
	p := &Peer{
		opts: opts, pc: pc, tmpl: &tmpl,
		connected: make(chan struct{}), receiving: make(chan struct{}), failed: make(chan struct{}), stop: make(chan struct{}),
		flowing:  make(chan struct{}),
		received: map[string]int{}, sent: map[string]int{}, dcOpened: make(chan struct{}),
		senderOf: map[*webrtc.TrackLocalStaticRTP]*webrtc.RTPSender{},
		mline:    map[*webrtc.TrackLocalStaticRTP]int{}, layers: map[string]int{},
		started: map[*webrtc.TrackLocalStaticRTP]bool{},
	}
	if opts.DropCandidates {
		if p.sink, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			pc.Close()
			return nil, fmt.Errorf("media peer: the socket of the candidate that never answers: %w", err)
		}
	}
	var upOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.mu.Lock()
		p.state = s
		p.mu.Unlock()
		switch s {
		case webrtc.PeerConnectionStateConnected:
			upOnce.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.failOnce.Do(func() { close(p.failed) })
		}
	})
	var recvOnce sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mid := ""
		for _, t := range pc.GetTransceivers() {
			if t.Receiver() == r {
				mid = t.Mid()
			}
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				p.mu.Lock()
				p.received[mid]++
				p.mu.Unlock()
				p.checkFlowing()
				recvOnce.Do(func() {
					close(p.receiving)
					if opts.DTLSClose {
						go p.Close()
					}
				})
			}
		}()
	})
	return p, nil
}

// codecsOf returns the codecs of an m-line: rtpmap with its fmtp and
// rtcp-fb, under the template's payload types.
func codecsOf(md *sdp.MediaDescription) []webrtc.RTPCodecParameters {
	byPT := map[int]*webrtc.RTPCodecParameters{}
	var order []int
	for _, a := range md.Attributes {
		pts, rest, _ := strings.Cut(a.Value, " ")
		pt, err := strconv.Atoi(pts)
		if err != nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			f := strings.Split(rest, "/")
			c := &webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(pt)}
			c.MimeType = md.MediaName.Media + "/" + f[0]
			if len(f) > 1 {
				r, _ := strconv.Atoi(f[1])
				c.ClockRate = uint32(r)
			}
			if len(f) > 2 {
				ch, _ := strconv.Atoi(f[2])
				c.Channels = uint16(ch)
			}
			byPT[pt] = c
			order = append(order, pt)
		case "fmtp":
			if c := byPT[pt]; c != nil {
				c.SDPFmtpLine = rest
			}
		case "rtcp-fb":
			if c := byPT[pt]; c != nil {
				typ, param, _ := strings.Cut(rest, " ")
				c.RTCPFeedback = append(c.RTCPFeedback, webrtc.RTCPFeedback{Type: typ, Parameter: param})
			}
		}
	}
	var out []webrtc.RTPCodecParameters
	for _, pt := range order {
		out = append(out, *byPT[pt])
	}
	return out
}

// direction returns an m-line's direction attribute (sendrecv when none).
func direction(md *sdp.MediaDescription) webrtc.RTPTransceiverDirection {
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return webrtc.NewRTPTransceiverDirection(a.Key)
		}
	}
	return webrtc.RTPTransceiverDirectionSendrecv
}

// sendRIDs returns the rids an m-line sends (a=rid:h send ...), in the
// order of its a=simulcast:send when it has one (alternatives, "h,m", count
// by their first; a paused rid, "~l", is left out as pion cannot offer it).
func sendRIDs(md *sdp.MediaDescription) []string {
	var rids, order []string
	for _, a := range md.Attributes {
		switch a.Key {
		case "rid":
			f := strings.Fields(a.Value)
			if len(f) >= 2 && f[1] == "send" {
				rids = append(rids, f[0])
			}
		case "simulcast":
			f := strings.Fields(a.Value)
			if len(f) >= 2 && f[0] == "send" {
				for _, alt := range strings.Split(f[1], ";") {
					order = append(order, strings.Split(alt, ",")[0])
				}
			}
		}
	}
	if len(order) == 0 {
		return rids
	}
	var out []string
	for _, r := range order {
		if slices.Contains(rids, r) {
			out = append(out, r)
		}
	}
	return out
}

func sends(d webrtc.RTPTransceiverDirection) bool {
	return d == webrtc.RTPTransceiverDirectionSendrecv || d == webrtc.RTPTransceiverDirectionSendonly
}

// addMedia adds the template's m-lines as transceivers, in order, with a
// track on each one that sends; a data channel for an application m-line.
func (p *Peer) addMedia() error {
	for i, md := range p.tmpl.MediaDescriptions {
		if err := p.addLine(i, md); err != nil {
			return err
		}
	}
	return nil
}

// addLine adds m-line i of a template: a transceiver with a track when it
// sends, the data channel for the first application m-line.
func (p *Peer) addLine(i int, md *sdp.MediaDescription) error {
	kind, ok := kindOf(md.MediaName.Media)
	if !ok {
		p.mu.Lock()
		dc := p.dc
		p.mu.Unlock()
		if md.MediaName.Media == "application" && !dc {
			ch, err := p.pc.CreateDataChannel("JanusDataChannel", nil)
			if err != nil {
				return fmt.Errorf("media peer: data channel: %w", err)
			}
			p.mu.Lock()
			p.dc = true
			p.mu.Unlock()
			p.data.attach(ch)
			ch.OnOpen(func() {
				p.mu.Lock()
				defer p.mu.Unlock()
				if !p.dcOpen {
					p.dcOpen = true
					close(p.dcOpened)
				}
			})
		}
		return nil
	}
	dir := direction(md)
	if !sends(dir) {
		if _, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			return fmt.Errorf("media peer: m-line %d: %w", i, err)
		}
		return nil
	}
	codecs := codecsOf(md)
	if len(codecs) == 0 {
		return fmt.Errorf("media peer: m-line %d (%s) has no codec", i, md.MediaName.Media)
	}
	rids := sendRIDs(md)
	if len(rids) < 2 || kind != webrtc.RTPCodecTypeVideo {
		rids = []string{""}
	}
	// Simulcast: a track per rid, the first one the sender's, the next
	// ones its further encodings; the offer has their a=rid and
	// a=simulcast lines.
	var sender *webrtc.RTPSender
	for _, rid := range rids {
		var topts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			topts = append(topts, webrtc.WithRTPStreamID(rid))
		}
		track, err := webrtc.NewTrackLocalStaticRTP(codecs[0].RTPCodecCapability, md.MediaName.Media+strconv.Itoa(i), "janustap", topts...)
		if err != nil {
			return fmt.Errorf("media peer: track: %w", err)
		}
		if sender == nil {
			t, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: dir})
			if err != nil {
				return fmt.Errorf("media peer: m-line %d: %w", i, err)
			}
			sender = t.Sender()
		} else if err := sender.AddEncoding(track); err != nil {
			return fmt.Errorf("media peer: m-line %d, simulcast rid %s: %w", i, rid, err)
		}
		p.mu.Lock()
		p.tracks = append(p.tracks, track)
		p.mline[track] = i
		if rid != "" {
			p.senderOf[track] = sender
		}
		p.mu.Unlock()
	}
	return nil
}

// local finishes a local description: sets it, waits for every candidate
// (or ctx), and returns the SDP, without candidates with DropCandidates.
func (p *Peer) local(ctx context.Context, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("media peer: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("media peer: gather candidates: %w", ctx.Err())
	}
	s := p.pc.LocalDescription().SDP
	if p.opts.DropCandidates {
		s = p.deadCandidate(dropCandidates(s))
	}
	return s, nil
}

// deadLine is the candidate Janus gets with DropCandidates ("candidate:...").
func (p *Peer) deadLine() string {
	return "candidate:1 1 udp 2130706431 127.0.0.1 " + strconv.Itoa(p.sink.LocalAddr().(*net.UDPAddr).Port) + " typ host"
}

// deadCandidate puts the candidate that never answers in the first m-line
// of s (the bundle's), right after its ice-pwd.
func (p *Peer) deadCandidate(s string) string {
	i := strings.Index(s, "a=ice-pwd:")
	if i < 0 {
		return s
	}
	j := strings.Index(s[i:], "\n")
	if j < 0 {
		return s
	}
	j += i + 1
	return s[:j] + "a=" + p.deadLine() + "\r\n" + s[j:]
}

func dropCandidates(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "a=candidate:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// Offer makes the peer's offer after the template.
func (p *Peer) Offer(ctx context.Context) (string, error) {
	if err := p.addMedia(); err != nil {
		return "", err
	}
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("media peer: create offer: %w", err)
	}
	return p.local(ctx, o)
}

// SetAnswer takes Janus's answer to the peer's offer and starts the media.
func (p *Peer) SetAnswer(answer string) error {
	if p.opts.DropCandidates {
		answer = dropCandidates(answer)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("media peer: set Janus's answer: %w", err)
	}
	p.startMedia()
	return nil
}

// Answer answers Janus's offer after the template (the captured client's
// answer) and starts the media.
func (p *Peer) Answer(ctx context.Context, offer string) (string, error) {
	if err := p.addMedia(); err != nil {
		return "", err
	}
	if p.opts.DropCandidates {
		offer = dropCandidates(offer)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("media peer: set Janus's offer: %w", err)
	}
	a, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("media peer: create answer: %w", err)
	}
	s, err := p.local(ctx, a)
	if err != nil {
		return "", err
	}
	p.startMedia()
	return s, nil
}

// Reoffer makes a new offer on the peer's PeerConnection, as the captured
// client renegotiated, with the same ICE and DTLS. The m-lines of captured
// (the captured client's new offer; "" for the same m-lines) after the
// peer's current ones are added first, in order, with the captured kinds
// and directions; those that send start sending once Janus answered.
func (p *Peer) Reoffer(ctx context.Context, captured string) (string, error) {
	if err := p.addLater(captured); err != nil {
		return "", closedError(err)
	}
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", closedError(fmt.Errorf("media peer: create a new offer: %w", err))
	}
	s, err := p.local(ctx, o)
	return s, closedError(err)
}

// addLater adds the m-lines of captured past the peer's local description.
func (p *Peer) addLater(captured string) error {
	if captured == "" || p.pc.LocalDescription() == nil {
		return nil
	}
	var d, cur sdp.SessionDescription
	if err := d.UnmarshalString(captured); err != nil {
		return fmt.Errorf("media peer: parse the captured new offer: %w", err)
	}
	if err := cur.UnmarshalString(p.pc.LocalDescription().SDP); err != nil {
		return fmt.Errorf("media peer: parse its own description: %w", err)
	}
	for i, md := range cur.MediaDescriptions {
		if i >= len(d.MediaDescriptions) {
			break
		}
		if err := p.stopSending(md, d.MediaDescriptions[i]); err != nil {
			return fmt.Errorf("media peer: m-line %d: %w", i, err)
		}
	}
	for i := len(cur.MediaDescriptions); i < len(d.MediaDescriptions); i++ {
		if err := p.addLine(i, d.MediaDescriptions[i]); err != nil {
			return err
		}
	}
	return nil
}

// stopSending makes the peer's m-line cur stop sending where the captured
// new offer's m-line at its place, captured, does not send: inactive or
// port 0 stops its transceiver (pion offers it inactive), recvonly takes
// its track off.
func (p *Peer) stopSending(cur, captured *sdp.MediaDescription) error {
	if _, ok := kindOf(cur.MediaName.Media); !ok {
		return nil
	}
	d := direction(captured)
	if captured.MediaName.Port.Value != 0 && sends(d) {
		return nil
	}
	var mid string
	for _, a := range cur.Attributes {
		if a.Key == "mid" {
			mid = a.Value
		}
	}
	for _, t := range p.pc.GetTransceivers() {
		if t.Mid() != mid || !sends(t.Direction()) {
			continue
		}
		if captured.MediaName.Port.Value == 0 || d == webrtc.RTPTransceiverDirectionInactive {
			return t.Stop()
		}
		return p.pc.RemoveTrack(t.Sender())
	}
	return nil
}

// Reanswer answers Janus's new offer on the peer's PeerConnection (Janus
// renegotiated).
func (p *Peer) Reanswer(ctx context.Context, offer string) (string, error) {
	if p.opts.DropCandidates {
		offer = dropCandidates(offer)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", closedError(fmt.Errorf("media peer: set Janus's new offer: %w", err))
	}
	a, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", closedError(fmt.Errorf("media peer: create a new answer: %w", err))
	}
	s, err := p.local(ctx, a)
	return s, closedError(err)
}

// ErrClosed says the peer's PeerConnection was closed (by the replay, or
// by Janus's DTLS alert as it detached the handle) while it renegotiated.
var ErrClosed = errors.New("the replay's WebRTC peer is closed")

// closedError marks err with ErrClosed when pion refused because the
// PeerConnection is closed.
func closedError(err error) error {
	if errors.Is(err, webrtc.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// Candidates returns the peer's candidate lines ("candidate:..."), for
// trickle requests; with DropCandidates, only the one that never answers.
func (p *Peer) Candidates() []string {
	if p.opts.DropCandidates {
		return []string{p.deadLine()}
	}
	if p.pc.LocalDescription() == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(p.pc.LocalDescription().SDP, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a="); ok && strings.HasPrefix(c, "candidate:") {
			out = append(out, c)
		}
	}
	return out
}

// Connected is closed when ICE and DTLS are up.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// ExpectsMedia reports whether Janus's session description says it sends
// media to the peer (an m-line of it sendrecv or sendonly).
func (p *Peer) ExpectsMedia() bool {
	rd := p.pc.RemoteDescription()
	if rd == nil {
		return false
	}
	var d sdp.SessionDescription
	if d.UnmarshalString(rd.SDP) != nil {
		return false
	}
	for _, md := range d.MediaDescriptions {
		if _, ok := kindOf(md.MediaName.Media); ok && md.MediaName.Port.Value != 0 && sends(direction(md)) {
			return true
		}
	}
	return false
}

// HasDataChannel reports whether the template has a data channel
// (m=application), which the peer opens.
func (p *Peer) HasDataChannel() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dc
}

// DataChannelOpen is closed when the peer's data channel is open.
func (p *Peer) DataChannelOpen() <-chan struct{} { return p.dcOpened }

// Receiving is closed when the first packet arrives from Janus.
func (p *Peer) Receiving() <-chan struct{} { return p.receiving }

// Failed is closed when the connection failed or was closed.
func (p *Peer) Failed() <-chan struct{} { return p.failed }

// ErrNotConnected says the peer could not reach Janus.
var ErrNotConnected = errors.New("the replay's WebRTC peer could not connect to Janus")

// Wait waits until the peer is connected, has failed, or ctx ends.
func (p *Peer) Wait(ctx context.Context) error {
	select {
	case <-p.connected: // connected once, whatever came after
		return nil
	default:
	}
	select {
	case <-p.connected:
		return nil
	case <-p.failed:
		return ErrNotConnected
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotConnected, ctx.Err())
	}
}

// Stats are the packets the peer sent and received, by mid.
type Stats struct {
	Sent, Received map[string]int
	// Layers are the packets sent on each simulcast layer, by mid and rid
	// ("1/m").
	Layers map[string]int
	State  string
	// DataChannel says the data channel of the template's m=application
	// opened. The peer sends on it only what its user asks (SendData);
	// DataCounts says how much.
	DataChannel bool
}

// Stats returns what the peer sent and received so far.
func (p *Peer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Sent: map[string]int{}, Received: map[string]int{}, State: p.state.String(), DataChannel: p.dcOpen}
	for k, v := range p.sent {
		s.Sent[k] = v
	}
	if len(p.layers) > 0 {
		s.Layers = maps.Clone(p.layers)
	}
	for k, v := range p.received {
		s.Received[k] = v
	}
	return s
}

// startMedia starts a sender per sending track once the peer is connected:
// Opus silence every 20 ms, or a small VP8 key frame every 50 ms.
func (p *Peer) startMedia() {
	p.senders()
}

func (p *Peer) senders() {
	if p.opts.NoMedia {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	mids := map[*webrtc.TrackLocalStaticRTP]string{}
	for _, t := range p.pc.GetTransceivers() {
		if s := t.Sender(); s != nil {
			if tr, ok := s.Track().(*webrtc.TrackLocalStaticRTP); ok {
				mids[tr] = t.Mid()
			}
			for tr, ps := range p.senderOf {
				if ps == s {
					mids[tr] = t.Mid()
				}
			}
		}
	}
	// One sender per m-line: the layers of a simulcast one (tracks of
	// the same RTPSender) go together.
	var groups [][]*webrtc.TrackLocalStaticRTP
	group := map[*webrtc.RTPSender]int{}
	for _, track := range p.tracks {
		if p.started[track] {
			continue // from an earlier negotiation
		}
		p.started[track] = true
		if sender := p.senderOf[track]; sender != nil {
			if i, ok := group[sender]; ok {
				groups[i] = append(groups[i], track)
				continue
			}
			group[sender] = len(groups)
		}
		groups = append(groups, []*webrtc.TrackLocalStaticRTP{track})
	}
	for _, tracks := range groups {
		var sc *Simulcast
		if s, ok := p.opts.Simulcast[p.mline[tracks[0]]]; ok {
			sc = &s
		}
		layers := layersOf(tracks, sc)
		if len(layers) == 0 {
			continue
		}
		mid := mids[tracks[0]]
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			select {
			case <-p.connected:
			case <-p.failed:
				return
			case <-p.stop:
				return
			}
			p.send(layers, mid, sc != nil && sc.Temporal)
		}()
	}
}

// send sends the layers of one m-line (one track, or the simulcast layers
// of one sender), every 20 ms for audio (Opus silence), every 50 ms for
// video (VP8 frames).
func (p *Peer) send(layers []sendLayer, mid string, temporal bool) {
	audio := layers[0].track.Kind() == webrtc.RTPCodecTypeAudio
	every, step := 50*time.Millisecond, uint32(4500)
	if audio {
		every, step = 20*time.Millisecond, 960
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	pkts := make([]*rtp.Packet, len(layers))
	for i, l := range layers {
		pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
		if err := p.simulcastHeader(l.track, mid, &pkts[i].Header); err != nil {
			return
		}
	}
	// A layer that sends key frames on request (a browser's, and every
	// simulcast layer but the first by default) sends one when Janus asks
	// (PLI, FIR): a subscriber that wants another layer gets its key frame
	// once Janus asks for it.
	keyWanted := make([]atomic.Bool, len(layers))
	for i, l := range layers {
		p.mu.Lock()
		sender := p.senderOf[l.track]
		p.mu.Unlock()
		if sender == nil || l.Key != KeyOnRequest {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 1500)
			for {
				n, _, err := sender.ReadSimulcast(buf, l.track.RID())
				if err != nil {
					return // the sender stopped
				}
				pkts, err := rtcp.Unmarshal(buf[:n])
				if err != nil {
					continue // not RTCP pion can read: not a key frame request
				}
				for _, pkt := range pkts {
					switch pkt.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						keyWanted[i].Store(true)
					}
				}
			}
		}()
	}
	started := make([]time.Time, len(layers))
	for frame := 0; ; frame++ {
		select {
		case <-tick.C:
		case <-p.stop:
			return
		case <-p.failed:
			return
		}
		// The layers of a simulcast m-line go together, in their order.
		for i, l := range layers {
			if started[i].IsZero() {
				started[i] = time.Now()
			} else if l.For > 0 && time.Since(started[i]) >= l.For {
				continue // the captured client stopped sending this layer
			}
			pkt := pkts[i]
			pkt.SequenceNumber++
			pkt.Timestamp += step
			if audio {
				pkt.Payload = []byte{0xf8, 0xff, 0xfe}
			} else {
				key := l.Key == KeyAlways || keyWanted[i].Swap(false)
				pkt.Payload = vp8Frame(key, temporal, tids[frame%len(tids)])
			}
			if p.opts.LossPercent > 0 && rand.Float64()*100 < p.opts.LossPercent {
				continue
			}
			p.mu.Lock()
			p.sent[mid]++ // before it goes: its echo may come back first
			if l.RID != "" {
				p.layers[mid+"/"+l.RID]++
			}
			p.mu.Unlock()
			if err := l.track.WriteRTP(pkt); err != nil {
				return
			}
		}
	}
}

// simulcastHeader sets the mid and rid header extensions of the packets
// of a simulcast layer (a track with a rid), with the ids negotiated:
// pion does not add them.
func (p *Peer) simulcastHeader(track *webrtc.TrackLocalStaticRTP, mid string, h *rtp.Header) error {
	p.mu.Lock()
	sender := p.senderOf[track]
	p.mu.Unlock()
	if sender == nil {
		return nil
	}
	for _, e := range sender.GetParameters().HeaderExtensions {
		var v string
		switch e.URI {
		case sdp.SDESMidURI:
			v = mid
		case sdp.SDESRTPStreamIDURI:
			v = track.RID()
		default:
			continue
		}
		if err := h.SetExtension(uint8(e.ID), []byte(v)); err != nil {
			return fmt.Errorf("media peer: simulcast header extension %s: %w", e.URI, err)
		}
	}
	return nil
}

// Close ends the media and closes the PeerConnection (DTLS close_notify:
// Janus hangs up with "DTLS alert").
func (p *Peer) Close() error {
	p.once.Do(func() {
		close(p.stop)
		p.closeErr = p.pc.Close()
		// Closed is failed to the replay from now on, not only once
		// pion's state change comes: a renegotiation then goes with the
		// captured SDP instead of failing on the closed PeerConnection.
		p.failOnce.Do(func() { close(p.failed) })
		p.wg.Wait()
		if p.sink != nil {
			p.sink.Close()
		}
	})
	return p.closeErr
}
