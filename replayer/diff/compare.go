package diff

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/janustap/janustap/schema"
)

// Options change what Compare reports. The zero value is the default.
type Options struct {
	// CompareMedia compares the messages that need media like any other,
	// reporting them as Differences rather than in Report.NeedsMedia.
	CompareMedia bool
	// OwnPeer says the new run's client was a WebRTC peer of its own
	// rather than the captured one: the session descriptions and ICE
	// candidates the clients sent (jsep.sdp and candidate of requests) are
	// theirs and are not compared; Janus's answers to them are.
	OwnPeer bool
	// Rooms are the rooms the new run played in instead of the captured
	// ones (new room → captured room), as a load replay does when each run
	// gets rooms of its own: the new run's room at a "room" key compares
	// as the captured one.
	Rooms map[uint64]uint64
}

// message is one event of a run that takes part in the comparison.
type message struct {
	index int // 1-based position among the events given to Compare
	pos   int // position among the messages of its run
	ev    *schema.Event
	req   bool // client to gateway

	tree    any // the decoded body: nil when empty, a string when not JSON
	top     map[string]any
	janus   string // janus verb or type, lower case
	rawTx   string
	handle  string // handle literal: handle_id, the HTTP path's, or sender
	session string // session literal
	link    int    // pos of the request this message answers, or -1

	norm   any    // the normalised body
	path   string // the normalised HTTP path of a request
	tx     string // normalised transaction
	sender string // normalised sender or handle
	nsess  string // normalised session
	media  bool   // needs media
	racy   bool   // came after its session's destroy was sent: Janus may drop it
	// teardown: a hangup, or a plugin's event, after the client hung up or
	// detached its handle: it races the detach even with media.
	teardown bool
	timing   bool // caused by a timer
}

// run is one run of the flow, ready to be compared.
type run struct {
	msgs    []*message // in logical order: each reply after its request
	skipped int
}

// Compare compares run b of a flow with run a, the captured one, and reports
// how they differ. Events are in the order they were captured. Both runs are
// normalised with rules (nil means DefaultRules) before anything is
// compared. See the package documentation for how messages are matched.
func Compare(a, b []*schema.Event, rules *Rules, opts Options) *Report {
	c := compile(rules)
	ra, rb := newRun(a, c, nil), newRun(b, c, opts.Rooms)
	if opts.OwnPeer {
		ra.maskPeer()
		rb.maskPeer()
	}
	cmpr := &comparison{c: c, opts: opts, a: ra, b: rb}
	cmpr.match()
	return cmpr.report()
}

// unaliasRooms puts the captured room back in place of the new run's at
// every "room" key of v, and in the session name of an SDP (the videoroom
// names it "VideoRoom ROOM").
func unaliasRooms(v any, rooms map[uint64]uint64) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if sdp, ok := x.(string); ok && k == "sdp" {
				v[k] = unaliasSDPName(sdp, rooms)
				continue
			}
			if n, ok := x.(json.Number); ok && k == "room" {
				if id, err := strconv.ParseUint(string(n), 10, 64); err == nil {
					if old, ok := rooms[id]; ok {
						v[k] = json.Number(strconv.FormatUint(old, 10))
					}
				}
				continue
			}
			unaliasRooms(x, rooms)
		}
	case []any:
		for _, x := range v {
			unaliasRooms(x, rooms)
		}
	}
}

func unaliasSDPName(sdp string, rooms map[uint64]uint64) string {
	lines := strings.SplitAfter(sdp, "\n")
	for i, l := range lines {
		name, ok := strings.CutPrefix(l, "s=")
		if !ok {
			continue
		}
		f := strings.Fields(name)
		for j, w := range f {
			if id, err := strconv.ParseUint(w, 10, 64); err == nil {
				if old, ok := rooms[id]; ok {
					f[j] = strconv.FormatUint(old, 10)
				}
			}
		}
		lines[i] = "s=" + strings.Join(f, " ") + l[len(strings.TrimRight(l, "\r\n")):]
		break
	}
	return strings.Join(lines, "")
}

// newRun picks the messages of a run, links replies to requests, puts them
// in logical order, normalises and classifies them.
func newRun(evs []*schema.Event, c *compiled, rooms map[uint64]uint64) *run {
	r := &run{}
	skippedIDs := map[string]bool{}
	var msgs []*message
	for i, ev := range evs {
		if ev == nil {
			continue
		}
		if noise(ev, skippedIDs) {
			if ev.ID != "" {
				skippedIDs[ev.ID] = true
			}
			r.skipped++
			continue
		}
		m := &message{index: i + 1, ev: ev, req: ev.Direction == schema.ToGateway, link: -1}
		if len(ev.Body) > 0 {
			if v, err := decodeJSON(ev.Body); err == nil {
				m.tree = v
				if len(rooms) > 0 {
					unaliasRooms(v, rooms)
				}
			} else {
				m.tree = string(ev.Body)
			}
		}
		m.top, _ = m.tree.(map[string]any)
		if s, ok := m.top["janus"].(string); ok {
			m.janus = strings.ToLower(s)
		}
		m.rawTx, _ = m.top["transaction"].(string)
		if !m.req && m.janus == "keepalive" && m.rawTx == "" && ev.Kind != schema.Frame {
			r.skipped++ // an empty long poll
			continue
		}
		var pathSession, pathHandle uint64
		if isHTTP(ev) {
			_, pathSession, pathHandle = schema.ParsePath(ev.Path)
		}
		m.session = cmp.Or(literal(m.top["session_id"]), idText(pathSession))
		m.handle = cmp.Or(literal(m.top["handle_id"]), literal(m.top["sender"]))
		if m.req {
			m.handle = cmp.Or(m.handle, idText(pathHandle))
		}
		m.pos = len(msgs)
		msgs = append(msgs, m)
	}
	link(msgs)

	// Logical order: a reply right after its request, so that the order in
	// which Janus raced an event and an ack does not change the numbering.
	anchor := func(m *message) int {
		if m.link >= 0 {
			return m.link
		}
		return m.pos
	}
	slices.SortFunc(msgs, func(x, y *message) int {
		return cmp.Or(cmp.Compare(anchor(x), anchor(y)), compareBool(!x.req, !y.req), cmp.Compare(x.pos, y.pos))
	})
	r.msgs = msgs

	n := newNormaliser(c)
	hungUp := map[string]bool{}     // handles a hangup was asked for
	destroying := map[string]bool{} // sessions a destroy was sent for
	timedOut := map[string]bool{}   // sessions that timed out
	for _, m := range r.msgs {
		pathHandle := ""
		if m.req && isHTTP(m.ev) {
			m.path, pathHandle = n.path(m.ev.Path)
		}
		m.norm = n.message(m.tree, pathHandle)
		top, _ := m.norm.(map[string]any)
		m.tx, _ = top["transaction"].(string)
		m.nsess = placeholderOf(top["session_id"])
		m.sender = cmp.Or(placeholderOf(top["sender"]), placeholderOf(top["handle_id"]))
		if m.req {
			if m.sender == "" && pathHandle != "" {
				m.sender = n.placeholder(c.handleKind, pathHandle)
			}
			if c.hangupReqs[m.janus] {
				hungUp[m.handle] = true
			}
			if m.janus == "destroy" {
				destroying[m.session] = true
			}
			continue
		}
		m.racy = m.rawTx == "" && (m.janus == "detached" || m.janus == "hangup" || m.janus == "event")
		m.media = c.mediaEvents[m.janus] || c.pluginMedia[pluginEvent(m.top)]
		switch {
		case m.janus == "hangup":
			// Janus sends a hangup only when a PeerConnection existed, and
			// whether it still does when a handle is hung up or detached
			// depends on how far ICE and DTLS got: media again.
			reason, _ := m.top["reason"].(string)
			m.media = c.hangupWhy[reason] || !hungUp[m.handle]
			// A PeerConnection closed because its handle was detached or
			// hung up, or its room destroyed: which of these Janus
			// reports, and whether before the session goes, is a race.
			m.teardown = hungUp[m.handle] || reason == "Detach" || reason == "Close PC"
		case m.janus == "event" && m.rawTx == "" && hungUp[m.handle]:
			// A plugin's own event after its handle was hung up or
			// detached reports the PeerConnection going away (echotest
			// "result": "done"); it races the detach.
			m.media = true
			m.teardown = true
		}
		if c.timingEvent[m.janus] {
			m.timing = true
			timedOut[m.session] = true
			timedOut[""] = true
		}
		if m.janus == "error" && c.timingCodes[errorCode(m.top)] && timedOut[m.session] {
			m.timing = true
		}
	}
	// A detach's detached event, or a plugin's teardown event, in a session
	// the client destroys races the destroy: Janus sends it or drops it with
	// the session, depending on timing. Only such messages of destroyed
	// sessions stay racy.
	for _, m := range r.msgs {
		m.racy = m.racy && destroying[m.session]
	}
	// Types compared once per handle: the first stays, reduced to its
	// type, session and sender; the others are left out.
	seen := map[string]bool{}
	r.msgs = slices.DeleteFunc(r.msgs, func(m *message) bool {
		if m.req || !c.once[m.janus] {
			return false
		}
		k := m.janus + "\x00" + m.nsess + "\x00" + m.sender
		if seen[k] {
			r.skipped++
			return true
		}
		seen[k] = true
		top, _ := m.norm.(map[string]any)
		m.norm = map[string]any{"janus": m.janus, "session_id": top["session_id"], "sender": top["sender"]}
		return false
	})
	return r
}

// peerMarker stands for what a client's own WebRTC peer sent.
const peerMarker = "$peer"

// maskPeer replaces, in the requests of the run, the session description of
// a jsep and the candidates of a trickle by peerMarker.
func (r *run) maskPeer() {
	for _, m := range r.msgs {
		top, ok := m.norm.(map[string]any)
		if !m.req || !ok {
			continue
		}
		if j, ok := top["jsep"].(map[string]any); ok {
			if sdp, ok := j["sdp"]; ok {
				j["sdp"] = peerShape(sdp)
			}
		}
		mask := func(v any) {
			if c, ok := v.(map[string]any); ok {
				for _, k := range []string{"candidate", "sdpMid", "sdpMLineIndex"} {
					if _, ok := c[k]; ok {
						c[k] = peerMarker
					}
				}
			}
		}
		mask(top["candidate"])
		if l, ok := top["candidates"].([]any); ok {
			for _, v := range l {
				mask(v)
			}
		}
	}
}

// peerShape is what is compared of an SDP a client's own peer made: the
// kind and direction of each m-line, in order (a rejected m-line, port 0,
// counts as inactive: pion offers a stopped transceiver so; no direction
// is sendrecv; a data channel's is not compared). Its codecs,
// ICE and DTLS details are the peer's; Janus's answers to it are compared
// in full.
func peerShape(sdp any) any {
	norm, ok := sdp.(map[string]any)
	if !ok {
		return peerMarker
	}
	lines, _ := norm["m"].([]any)
	shape := make([]any, 0, len(lines))
	for _, l := range lines {
		sec, _ := l.(map[string]any)
		m := map[string]any{"media": sec["media"]}
		switch {
		case sec["media"] == "application": // a data channel has no direction
		case sec["rejected"] == true:
			m["direction"] = "inactive"
		case sec["direction"] != nil:
			m["direction"] = sec["direction"]
		default: // RFC 4566: sendrecv unless said otherwise (Chromium leaves it out)
			m["direction"] = "sendrecv"
		}
		shape = append(shape, m)
	}
	return map[string]any{"own peer": peerMarker, "m": shape}
}

// noise reports whether ev is transport noise that is not compared: WebSocket
// opens and closes, tap failures, CORS preflights, long-poll GETs and their
// answers. The ids of events left out are in skipped.
func noise(ev *schema.Event, skipped map[string]bool) bool {
	switch ev.Kind {
	case schema.Open, schema.Close, schema.Failure:
		return true
	case schema.Request:
		if ev.Method == "OPTIONS" {
			return true
		}
		if ev.Method == "GET" && ev.Transport == schema.HTTP {
			_, session, _ := schema.ParsePath(ev.Path)
			return session != 0 // a long poll, or a GET on a handle (302)
		}
	case schema.Response:
		return ev.Parent != "" && skipped[ev.Parent]
	}
	return false
}

func isHTTP(ev *schema.Event) bool {
	return ev.Transport == schema.HTTP || ev.Transport == schema.AdminHTTP
}

// link sets the request each reply answers: an HTTP response's parent, or
// else the last request with the same transaction before it (the first
// after it, when the reply was seen first).
func link(msgs []*message) {
	byID := map[string]int{}
	byTx := map[string][]int{}
	noTx := map[string]int{} // connection → its last request without a transaction, until answered
	for _, m := range msgs {
		if !m.req {
			continue
		}
		if m.ev.ID != "" {
			byID[m.ev.ID] = m.pos
		}
		if m.rawTx != "" {
			byTx[m.rawTx] = append(byTx[m.rawTx], m.pos)
		}
	}
	for _, m := range msgs {
		if m.req {
			if m.rawTx == "" && !isHTTP(m.ev) {
				noTx[m.ev.Conn] = m.pos
			}
			continue
		}
		if p, ok := byID[m.ev.Parent]; ok && m.ev.Kind == schema.Response && m.ev.Parent != "" {
			m.link = p
			continue
		}
		if m.rawTx == "" && m.janus == "error" {
			// Over WebSocket, Janus answers a request it could not read a
			// transaction from (malformed, or without one) with an error
			// that has none either: it answers the last such request of
			// the connection.
			if p, ok := noTx[m.ev.Conn]; ok && p < m.pos {
				m.link = p
				delete(noTx, m.ev.Conn)
			}
			continue
		}
		reqs := byTx[m.rawTx]
		if m.rawTx == "" || len(reqs) == 0 {
			continue
		}
		i, _ := slices.BinarySearch(reqs, m.pos)
		if i > 0 {
			m.link = reqs[i-1]
		} else {
			m.link = reqs[0]
		}
	}
}

// pluginEvent returns "<plugin>\x00<event>" for a plugin event, such as
// videoroom's {"videoroom": "talking"}, to look up in the media rules.
func pluginEvent(top map[string]any) string {
	pd, _ := top["plugindata"].(map[string]any)
	name, _ := pd["plugin"].(string)
	data, _ := pd["data"].(map[string]any)
	if name == "" || data == nil {
		return ""
	}
	short := name[strings.LastIndexByte(name, '.')+1:]
	ev, _ := data[short].(string)
	return name + "\x00" + ev
}

func errorCode(top map[string]any) int {
	e, _ := top["error"].(map[string]any)
	n, _ := e["code"].(json.Number)
	code, _ := strconv.Atoi(string(n))
	return code
}

func placeholderOf(v any) string {
	s, _ := v.(string)
	if isPlaceholder(s) {
		return s
	}
	return ""
}

func idText(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 10)
}

// requestKey is what two requests must share to be paired.
func requestKey(m *message) string {
	if m.top == nil {
		return m.ev.Method + " " + m.path
	}
	k := m.janus
	if body, ok := m.top["body"].(map[string]any); ok {
		if r, ok := body["request"].(string); ok {
			k += " " + r
		}
	}
	if jsep, ok := m.top["jsep"].(map[string]any); ok {
		t, _ := jsep["type"].(string)
		k += " jsep=" + t
	}
	return k
}

// comparison pairs the messages of two runs and collects what differs.
type comparison struct {
	c    *compiled
	opts Options
	a, b *run

	pairs [][2]*message
	onlyA []*message
	onlyB []*message
}

// classify splits a run's messages into requests, replies by the index of
// their request, and messages that answer no request.
func classify(msgs []*message) (reqs []*message, replies map[int][]*message, async []*message) {
	replies = map[int][]*message{}
	for _, m := range msgs {
		switch {
		case m.req:
			reqs = append(reqs, m)
		case m.link >= 0:
			replies[m.link] = append(replies[m.link], m)
		default:
			async = append(async, m)
		}
	}
	return reqs, replies, async
}

// match pairs the messages of the runs: requests by their order (aligned on
// verb and plugin request, so that one missing request does not shift the
// rest), the replies of paired requests by janus type then order, and
// messages that answer no request by transaction, session, sender and janus
// type, then order.
func (x *comparison) match() {
	reqA, repliesA, asyncA := classify(x.a.msgs)
	reqB, repliesB, asyncB := classify(x.b.msgs)
	keysA, keysB := make([]string, len(reqA)), make([]string, len(reqB))
	for i, m := range reqA {
		keysA[i] = requestKey(m)
	}
	for i, m := range reqB {
		keysB[i] = requestKey(m)
	}
	pairedA, pairedB := make([]bool, len(reqA)), make([]bool, len(reqB))
	for _, p := range align(keysA, keysB) {
		ma, mb := reqA[p[0]], reqB[p[1]]
		pairedA[p[0]], pairedB[p[1]] = true, true
		x.pairs = append(x.pairs, [2]*message{ma, mb})
		x.pairGroup(repliesA[ma.pos], repliesB[mb.pos], true)
	}
	x.pairMoved(reqA, reqB, keysA, keysB, pairedA, pairedB, repliesA, repliesB)
	for i, m := range reqA {
		if !pairedA[i] {
			x.onlyA = append(x.onlyA, m)
			x.onlyA = append(x.onlyA, repliesA[m.pos]...)
		}
	}
	for i, m := range reqB {
		if !pairedB[i] {
			x.onlyB = append(x.onlyB, m)
			x.onlyB = append(x.onlyB, repliesB[m.pos]...)
		}
	}
	// Messages that answer no request in their run: by key, then order.
	asyncKey := func(m *message) string {
		return m.tx + "\x00" + m.nsess + "\x00" + m.sender + "\x00" + m.janus
	}
	var keys []string
	groupsA, groupsB := map[string][]*message{}, map[string][]*message{}
	for _, m := range asyncA {
		k := asyncKey(m)
		if _, ok := groupsA[k]; !ok {
			keys = append(keys, k)
		}
		groupsA[k] = append(groupsA[k], m)
	}
	for _, m := range asyncB {
		k := asyncKey(m)
		groupsB[k] = append(groupsB[k], m)
	}
	for _, k := range keys {
		x.pairGroup(groupsA[k], groupsB[k], false)
		delete(groupsB, k)
	}
	for _, m := range asyncB {
		if _, ok := groupsB[asyncKey(m)]; ok {
			x.onlyB = append(x.onlyB, m)
		}
	}
}

// pairMoved pairs the requests left unpaired by their order that carry the
// same transaction in both runs (the new run's may have a run suffix,
// "~r2"), with their replies. The replay sends requests in the capture's
// order but one: a request that Janus refused because it raced its
// handle's teardown goes after the teardown request of its client that
// was in flight with it (plan.Refusal), so that Janus refuses it again.
// When such a pair exists, the transactions of the new run are named as
// the capture's, since their placeholders, numbered by order of
// appearance, are swapped.
func (x *comparison) pairMoved(reqA, reqB []*message, keysA, keysB []string, pairedA, pairedB []bool, repliesA, repliesB map[int][]*message) {
	sameTx := func(a, b string) bool { return a != "" && (b == a || strings.HasPrefix(b, a+"~")) }
	moved := false
	for i, ma := range reqA {
		if pairedA[i] {
			continue
		}
		for j, mb := range reqB {
			if pairedB[j] || keysA[i] != keysB[j] || !sameTx(ma.rawTx, mb.rawTx) {
				continue
			}
			pairedA[i], pairedB[j], moved = true, true, true
			x.pairs = append(x.pairs, [2]*message{ma, mb})
			x.pairGroup(repliesA[ma.pos], repliesB[mb.pos], true)
			break
		}
	}
	if !moved {
		return
	}
	alias := map[string]string{} // new run's placeholder → the capture's
	for _, p := range x.pairs {
		if a, b := p[0], p[1]; a.req && b.req && a.tx != b.tx && sameTx(a.rawTx, b.rawTx) {
			alias[b.tx] = a.tx
		}
	}
	for _, m := range x.b.msgs {
		tx, ok := alias[m.tx]
		if !ok {
			continue
		}
		m.tx = tx
		if top, ok := m.norm.(map[string]any); ok {
			top["transaction"] = tx
		}
	}
}

// pairGroup pairs the replies of one request (or the async messages of one
// key): identical messages first, then the same janus type, in order; then,
// for replies, what is left in order, so that an error in place of a
// success is one changed message.
func (x *comparison) pairGroup(as, bs []*message, replies bool) {
	usedB := make([]bool, len(bs))
	usedA := make([]bool, len(as))
	pair := func(i, j int) {
		usedA[i], usedB[j] = true, true
		x.pairs = append(x.pairs, [2]*message{as[i], bs[j]})
	}
	if len(as)*len(bs) <= maxExactPairing {
		for i, a := range as {
			for j, b := range bs {
				if !usedB[j] && a.janus == b.janus && sameMessage(a, b) {
					pair(i, j)
					break
				}
			}
		}
	}
	for i, a := range as {
		for j, b := range bs {
			if !usedA[i] && !usedB[j] && a.janus == b.janus {
				pair(i, j)
				break
			}
		}
	}
	if replies {
		j := 0
		for i, a := range as {
			if usedA[i] || (a.media && !x.opts.CompareMedia) {
				continue
			}
			for j < len(bs) && (usedB[j] || (bs[j].media && !x.opts.CompareMedia)) {
				j++
			}
			if j == len(bs) {
				break
			}
			pair(i, j)
		}
	}
	for i, a := range as {
		if !usedA[i] {
			x.onlyA = append(x.onlyA, a)
		}
	}
	for j, b := range bs {
		if !usedB[j] {
			x.onlyB = append(x.onlyB, b)
		}
	}
}

// maxExactPairing bounds the comparisons spent looking for identical
// messages in one group.
const maxExactPairing = 64 * 64

// align pairs equal keys of a and b in order, as a longest common
// subsequence: common ends first, then a table over the middle when it is
// small enough, else position by position.
func align(a, b []string) [][2]int {
	var pairs [][2]int
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pairs = append(pairs, [2]int{pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	switch {
	case len(ma) == 0 || len(mb) == 0:
	case len(ma)*len(mb) > 1<<20:
		for i := range min(len(ma), len(mb)) {
			if ma[i] == mb[i] {
				pairs = append(pairs, [2]int{pre + i, pre + i})
			}
		}
	default:
		// lcs[i][j] is the length of the LCS of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int32, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		for i, j := 0, 0; i < len(ma) && j < len(mb); {
			switch {
			case ma[i] == mb[j]:
				pairs = append(pairs, [2]int{pre + i, pre + j})
				i, j = i+1, j+1
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				i++
			default:
				j++
			}
		}
	}
	for k := range suf {
		pairs = append(pairs, [2]int{len(a) - suf + k, len(b) - suf + k})
	}
	return pairs
}

// entry is a difference or a note with where it sorts.
type entry struct {
	anchor int  // index in run A it comes at or after
	extra  bool // only in B: after the differences of anchor
	indexB int
	order  int // among the differences of one message
	d      Difference
	note   *Note
	racy   bool // the note goes to Report.Racing
	// refusal: the note goes to Report.RefusalRace
	refusal bool
}

func (x *comparison) report() *Report {
	r := &Report{
		Differences: []Difference{},
		NeedsMedia:  []Note{},
		Racing:      []Note{},
		Matched:     len(x.pairs),
		OnlyA:       len(x.onlyA),
		OnlyB:       len(x.onlyB),
		MessagesA:   len(x.a.msgs),
		MessagesB:   len(x.b.msgs),
		SkippedA:    x.a.skipped,
		SkippedB:    x.b.skipped,
	}
	// The anchor of a message only in B is the A message paired with the
	// B message before it.
	partner := map[*message]*message{}
	for _, p := range x.pairs {
		partner[p[1]] = p[0]
	}
	byIndexB := slices.Clone(x.b.msgs)
	slices.SortFunc(byIndexB, func(m, o *message) int { return cmp.Compare(m.index, o.index) })
	anchorB := map[*message]int{}
	last := 0
	for _, m := range byIndexB {
		if a, ok := partner[m]; ok {
			last = a.index
		}
		anchorB[m] = last
	}

	var entries []entry
	asNote := func(a, b *message) bool {
		return !x.opts.CompareMedia && (a != nil && a.media || b != nil && b.media)
	}
	for _, p := range x.pairs {
		a, b := p[0], p[1]
		diffs := diffMessages(a, b)
		if len(diffs) == 0 || a.teardown && b.teardown && a.racy && b.racy {
			continue
		}
		if x.refusalRace(a, b) {
			n := newNote(a, b, Changed)
			n.Path, n.A, n.B = diffs[0].path, renderIf(diffs[0].a, diffs[0].inA), renderIf(diffs[0].b, diffs[0].inB)
			entries = append(entries, entry{anchor: a.index, indexB: b.index, note: n, refusal: true})
			continue
		}
		if asNote(a, b) {
			n := newNote(a, b, Changed)
			n.Path, n.A, n.B = diffs[0].path, renderIf(diffs[0].a, diffs[0].inA), renderIf(diffs[0].b, diffs[0].inB)
			entries = append(entries, entry{anchor: a.index, indexB: b.index, note: n})
			continue
		}
		for i, pd := range diffs {
			entries = append(entries, entry{anchor: a.index, indexB: b.index, order: i, d: Difference{
				Index: a.index, IndexB: b.index, Kind: Changed, Path: pd.path,
				A: renderIf(pd.a, pd.inA), B: renderIf(pd.b, pd.inB),
				Transaction: cmp.Or(a.tx, b.tx), Janus: cmp.Or(a.janus, b.janus),
				Timing: a.timing || b.timing,
			}})
		}
	}
	for _, a := range x.onlyA {
		if a.racy && (!a.media || a.teardown) {
			entries = append(entries, entry{anchor: a.index, note: newNote(a, nil, Missing), racy: true})
			continue
		}
		if asNote(a, nil) {
			entries = append(entries, entry{anchor: a.index, note: newNote(a, nil, Missing)})
			continue
		}
		entries = append(entries, entry{anchor: a.index, d: Difference{
			Index: a.index, Kind: Missing, A: renderMessage(a),
			Transaction: a.tx, Janus: a.janus, Timing: a.timing,
		}})
	}
	for _, b := range x.onlyB {
		e := entry{anchor: anchorB[b], extra: true, indexB: b.index}
		if b.racy && (!b.media || b.teardown) {
			e.note, e.racy = newNote(nil, b, Extra), true
		} else if asNote(nil, b) {
			e.note = newNote(nil, b, Extra)
		} else {
			e.d = Difference{
				Index: b.index, IndexB: b.index, Kind: Extra, B: renderMessage(b),
				Transaction: b.tx, Janus: b.janus, Timing: b.timing,
			}
		}
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(e, f entry) int {
		return cmp.Or(
			cmp.Compare(e.anchor, f.anchor),
			compareBool(e.extra, f.extra),
			cmp.Compare(e.indexB, f.indexB),
			cmp.Compare(e.order, f.order),
		)
	})
	for _, e := range entries {
		if e.refusal {
			r.RefusalRace = append(r.RefusalRace, *e.note)
		} else if e.racy {
			r.Racing = append(r.Racing, *e.note)
		} else if e.note != nil {
			r.NeedsMedia = append(r.NeedsMedia, *e.note)
		} else {
			r.Differences = append(r.Differences, e.d)
		}
	}
	r.Same = len(r.Differences) == 0
	if !r.Same {
		first := r.Differences[0]
		r.FirstDivergence = &first
	}
	return r
}

func newNote(a, b *message, kind Change) *Note {
	n := &Note{Kind: kind}
	m := a
	if a != nil {
		n.Index = a.index
	}
	if b != nil {
		n.IndexB = b.index
		if m == nil {
			m = b
		}
	}
	n.Janus, n.Sender = m.janus, m.sender
	n.Reason, _ = m.top["reason"].(string)
	return n
}

func renderIf(v any, present bool) string {
	if !present {
		return ""
	}
	return render(v)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
