package verdict

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

// maxEvidence bounds the evidence of one finding; the first ones are kept.
const maxEvidence = 8

// Rules returns the rules in the order their findings are listed: the
// likeliest root cause first.
func Rules() []Rule {
	return []Rule{
		{Name: "janus-unreachable", Check: janusUnreachable,
			Doc: "the tap could not reach Janus: a request answered 502 by the tap (failure events), a WebSocket whose Janus side dropped (1006) or that the tap closed with 1011"},
		{Name: "connection-dropped", Check: connectionDropped,
			Doc: "the client's connection went while the session was open: its WebSocket closed (with the close code), or its long-polls stopped and the session then ended or was unknown"},
		{Name: "session-timeout", Check: sessionTimeout,
			Doc: "Janus timed the session out (timeout event), or answered 458 for a session it had not destroyed; with the gap since the client's last request (keepalive)"},
		{Name: "janus-error", Check: janusError,
			Doc: "Janus's core refused a request (error code and what it means: 465 invalid SDP, 459 no such handle, 403 unauthorized, ...); 458 is left to session-timeout when the session ended"},
		{Name: "plugin-error", Check: pluginError,
			Doc: "a plugin refused a request (error_code and what it means for videoroom, echotest, textroom: 426 no such room, 428 no such feed, 433 unauthorized, ...)"},
		{Name: "ice-failed", Check: iceFailed,
			Doc: "Janus's event handler says ICE failed on a handle, and why it likely did: no remote candidate reached Janus, no pair was selected, only host candidates"},
		{Name: "dtls-failed", Check: dtlsFailed,
			Doc: "DTLS failed on a handle: Janus hung it up for a reason naming DTLS (\"DTLS alert\", \"DTLS timeout\", \"DTLS error\"), or its event handler said DTLS failed; says whether the PeerConnection had come up, with Janus's DTLS states"},
		{Name: "hangup", Check: hangup,
			Doc: "Janus hung up a PeerConnection for a reason other than a request to (ICE failed, ...); DTLS reasons are left to dtls-failed"},
		{Name: "pc-never-up", Check: pcNeverUp,
			Doc: "a handle exchanged an offer and an answer but Janus never said webrtcup: the PeerConnection never came up (ICE or DTLS); for a session still going, 30 s after the answer"},
		{Name: "no-media", Check: noMedia,
			Doc: "the PeerConnection came up but Janus never received media on a mid the client's SDP sends on (2 s or more up without \"media\" receiving:true), or Janus said receiving:false; names the mid; Janus's receiving is the client → Janus direction only"},
		{Name: "slowlink", Check: slowlink,
			Doc: "Janus reported 3 or more slow links on a handle in one direction: uplink false is client → Janus (Janus sent NACKs), uplink true is Janus → client; names the mids and the packets lost"},
	}
}

func janusUnreachable(f *Facts) []Finding {
	var fd *Finding
	add := func(ev Evidence, cause string) {
		if fd == nil {
			fd = &Finding{Severity: Error, Cause: cause}
		}
		if len(fd.Evidence) < maxEvidence {
			fd.Evidence = append(fd.Evidence, ev)
		}
	}
	n := 0
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || !unreachable(e) {
			continue
		}
		n++
		if r, ok := f.request(i); ok {
			add(r, "")
		}
		why := e.Error
		if _, after, ok := strings.Cut(why, "unreachable: "); ok {
			why = after
		}
		add(f.at(i), "Janus was unreachable from the tap: "+why)
	}
	if len(f.Closes) > 0 && janusSideClosed(f.Closes) {
		for i := range f.Closes {
			add(outside(&f.Closes[i]), "Janus's side of the WebSocket went without a close ("+closeMeaning(f.Closes[0].CloseCode)+
				"): Janus crashed, was restarted, or the network to it failed")
		}
	}
	if fd == nil {
		return nil
	}
	if n > 0 {
		fd.Detail = fmt.Sprintf("%d message(s) could not be forwarded; is Janus running, and is the tap's --janus-http/--janus-ws right?", n)
	} else {
		fd.Detail = "the tap closed the client's WebSocket when Janus's side went; is Janus running?"
	}
	return []Finding{*fd}
}

// janusSideClosed says whether a WebSocket went because of Janus's side:
// the first close came from Janus without a close frame (1006), or the tap
// closed the client's side because Janus could not be reached (1011).
func janusSideClosed(closes []store.TimelineEntry) bool {
	first := &closes[0]
	if first.Direction == schema.ToClient && first.CloseCode == 1006 {
		return true
	}
	for i := range closes {
		if closes[i].CloseCode == 1011 {
			return true
		}
	}
	return false
}

// unreachable says whether e is the tap failing to reach Janus.
func unreachable(e *store.TimelineEntry) bool {
	switch {
	case e.Kind == schema.Failure:
		return strings.Contains(e.Error, "unreachable")
	case e.Kind == schema.Response && e.Status == 502 && e.Janus == "":
		return true
	}
	return false
}

func connectionDropped(f *Facts) []Finding {
	s := f.Session
	if s == nil {
		return nil
	}
	var out []Finding
	if s.Ended == store.EndWSClosed {
		if len(f.Closes) > 0 && janusSideClosed(f.Closes) {
			return nil // janus-unreachable says why
		}
		fd := Finding{Severity: Error, Evidence: []Evidence{}}
		first := "?"
		if len(f.Closes) > 0 {
			c := &f.Closes[0]
			side := "the client"
			if c.Direction == schema.ToClient {
				side = "Janus"
			}
			first = closeMeaning(c.CloseCode)
			if c.CloseCode == 1000 || c.CloseCode == 1001 {
				fd.Severity = Warning
			}
			fd.Cause = fmt.Sprintf("the client's WebSocket closed (%s, first closed by %s) while the session was open", first, side)
			for j := range f.Closes {
				fd.Evidence = append(fd.Evidence, outside(&f.Closes[j]))
			}
		} else {
			fd.Cause = "the client's WebSocket closed while the session was open"
		}
		if last := f.lastFrom(schema.ToGateway, s.EndedAt); last >= 0 {
			fd.Evidence = append([]Evidence{f.at(last)}, fd.Evidence...)
			fd.Detail = fmt.Sprintf("the client's last message was %s before; Janus destroys the sessions of a closed WebSocket (unless reclaim_session_timeout)",
				round(s.EndedAt.Sub(f.Timeline[last].Time)))
		}
		out = append(out, fd)
	}
	if s.Transport == schema.HTTP && s.Ended != store.EndDestroyed {
		if fd, ok := f.pollsStopped(); ok {
			out = append(out, fd)
		}
	}
	return out
}

// pollsStopped finds an HTTP session whose long-polls stopped before it
// ended unseen: timed out, or a later 458.
func (f *Facts) pollsStopped() (Finding, bool) {
	lastPoll, lost := -1, -1
	for i := range f.Timeline {
		e := &f.Timeline[i]
		switch {
		case e.Kind == schema.Request && e.Method == "GET" && e.Janus == "":
			lastPoll = i
		case e.Direction == schema.ToClient && (e.ErrorCode == 458 || e.Janus == "timeout" ||
			(e.Kind == schema.Response && e.Method == "GET" && e.Status == 404)):
			if lost < 0 {
				lost = i
			}
		}
	}
	if lastPoll < 0 || lost < 0 || lost < lastPoll {
		return Finding{}, false
	}
	p := &f.Timeline[lastPoll]
	ev := []Evidence{f.at(lastPoll)}
	how := "was never answered"
	for j := lastPoll + 1; j < len(f.Timeline); j++ {
		e := &f.Timeline[j]
		if e.Conn == p.Conn && e.Direction == schema.ToClient {
			ev = append(ev, f.at(j))
			how = "was answered"
			if e.Kind == schema.Failure {
				how = "was cut by the client (" + e.Error + ")"
			}
			break
		}
	}
	ev = append(ev, f.at(lost))
	gap := f.Timeline[lost].Time.Sub(p.Time)
	return Finding{Severity: Error, Evidence: ev,
		Cause: fmt.Sprintf("the client stopped long-polling: its last long-poll (message %d) %s, and %s later Janus no longer had the session",
			lastPoll+1, how, round(gap)),
		Detail: "a page closed or a network gone: without long-polls or keepalives Janus times the session out (session_timeout, 60 s by default)",
	}, true
}

// lastFrom returns the index of the last message in direction dir before
// t (all of them when t is zero), or -1.
func (f *Facts) lastFrom(dir schema.Direction, t time.Time) int {
	for i := len(f.Timeline) - 1; i >= 0; i-- {
		e := &f.Timeline[i]
		if e.Direction == dir && (t.IsZero() || !e.Time.After(t)) && e.Kind != schema.Failure {
			return i
		}
	}
	return -1
}

func sessionTimeout(f *Facts) []Finding {
	end := -1
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction == schema.ToClient && e.Janus == "timeout" {
			end = i
			break
		}
	}
	lost := false
	if end < 0 && f.Session != nil && f.Session.Ended == store.EndUnknown {
		for i := range f.Timeline {
			if e := &f.Timeline[i]; e.Direction == schema.ToClient && e.ErrorCode == 458 {
				end, lost = i, true
				break
			}
		}
	}
	if end < 0 {
		return nil
	}
	at := f.Timeline[end].Time
	fd := Finding{Severity: Error}
	// The client's last request before the end, that Janus saw (a request
	// that failed to reach it does not count).
	from := end - 1
	if r, ok := f.request(end); ok && lost {
		from = r.N - 2 // the request Janus answered 458 came after the end
	}
	last := -1
	for i := from; i >= 0; i-- {
		e := &f.Timeline[i]
		if e.Direction == schema.ToGateway && e.Kind != schema.Open && e.Kind != schema.Close {
			last = i
			break
		}
	}
	what := "Janus timed the session out"
	if lost {
		what = fmt.Sprintf("Janus no longer knew the session (458 at message %d): it most likely timed out", end+1)
	}
	if last >= 0 {
		l := &f.Timeline[last]
		kind := l.Janus
		if kind == "" {
			kind = strings.ToLower(l.Method) + " (long-poll)"
		}
		fd.Cause = fmt.Sprintf("%s, %s after the client's last request (%s, message %d)", what, round(at.Sub(l.Time)), kind, last+1)
		fd.Evidence = append(fd.Evidence, f.at(last))
		var keepalive time.Time
		for i := last; i >= 0; i-- {
			if e := &f.Timeline[i]; e.Direction == schema.ToGateway && e.Janus == "keepalive" {
				keepalive = e.Time
				break
			}
		}
		if keepalive.IsZero() {
			fd.Detail = "the client sent no keepalive at all: janus.js sends one every 25 s; a client must send one more often than Janus's session_timeout"
		} else {
			fd.Detail = fmt.Sprintf("the last keepalive was %s before; a client must send one more often than Janus's session_timeout", round(at.Sub(keepalive)))
		}
	} else {
		fd.Cause = what
	}
	fd.Evidence = append(fd.Evidence, f.at(end))
	return []Finding{fd}
}

func janusError(f *Facts) []Finding {
	ended := f.Session != nil && (f.Session.Ended == store.EndTimeout || f.Session.Ended == store.EndUnknown ||
		f.Session.Ended == store.EndWSClosed)
	byCode := map[int]*Finding{}
	var codes []int
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || e.ErrorCode == 0 || (e.ErrorCode == 458 && ended) {
			continue
		}
		fd := byCode[e.ErrorCode]
		if fd == nil {
			verb := "a request"
			if r, ok := f.request(i); ok {
				verb = fmt.Sprintf("%s (message %d)", f.Timeline[r.N-1].Janus, r.N)
			}
			meaning := CoreError(e.ErrorCode)
			if meaning == "" {
				meaning = "an error code Janus 1.1.2 does not define"
			}
			fd = &Finding{Severity: Error, Cause: fmt.Sprintf("Janus refused %s with error %d %q", verb, e.ErrorCode, e.ErrorReason),
				Detail: fmt.Sprintf("%d %s", e.ErrorCode, meaning)}
			byCode[e.ErrorCode] = fd
			codes = append(codes, e.ErrorCode)
		}
		f.addExchange(fd, i)
	}
	var out []Finding
	for _, c := range codes {
		out = append(out, *byCode[c])
	}
	return out
}

func pluginError(f *Facts) []Finding {
	type key struct {
		plugin string
		code   int
	}
	byKey := map[key]*Finding{}
	var keys []key
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || e.PluginError == 0 {
			continue
		}
		k := key{strings.TrimPrefix(e.Plugin, "janus.plugin."), e.PluginError}
		fd := byKey[k]
		if fd == nil {
			what := "a message"
			r, ok := f.request(i)
			if ok {
				what = fmt.Sprintf("a message (message %d)", r.N)
				if req := &f.Timeline[r.N-1]; req.PluginValue != "" {
					what = fmt.Sprintf("%s (message %d)", req.PluginValue, r.N)
				}
			}
			meaning := PluginError(k.plugin, k.code)
			if meaning == "" {
				meaning = "see the plugin's documentation"
			}
			fd = &Finding{Severity: Error, HandleID: e.HandleID,
				Cause:  fmt.Sprintf("%s refused %s with error %d %q", k.plugin, what, k.code, pluginErrorText(e.Body)),
				Detail: fmt.Sprintf("%s %d: %s", k.plugin, k.code, meaning)}
			byKey[k] = fd
			keys = append(keys, k)
		}
		f.addExchange(fd, i)
	}
	var out []Finding
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out
}

// addExchange adds to fd the request that entry i answers (when the
// timeline holds it) and entry i, unless fd already has maxEvidence.
func (f *Facts) addExchange(fd *Finding, i int) {
	if len(fd.Evidence) >= maxEvidence {
		return
	}
	if r, ok := f.request(i); ok {
		fd.Evidence = append(fd.Evidence, r)
	}
	fd.Evidence = append(fd.Evidence, f.at(i))
}

// normalHangups are the reasons Janus gives when a hangup was asked for.
var normalHangups = []string{"Janus API", "Close PC", "Detach", "Destroy", "Hangup", "Session destroyed"}

// hangupDetails explain the reasons Janus gives when a PeerConnection fails.
var hangupDetails = map[string]string{
	"ICE failed": "no candidate pair worked: check the candidates both sides sent (host only? TURN configured?), firewalls and Janus's nat settings",
}

func hangup(f *Facts) []Finding {
	var out []Finding
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToClient || e.Janus != "hangup" {
			continue
		}
		reason := hangupReason(e.Body)
		if slices.Contains(normalHangups, reason) || dtlsReason(reason) {
			continue
		}
		detail := hangupDetails[reason]
		if detail == "" {
			detail = "Janus closed the PeerConnection on its own"
		}
		out = append(out, Finding{Severity: Error, HandleID: e.HandleID, Detail: detail,
			Cause:    fmt.Sprintf("Janus hung up handle %d: %q", e.HandleID, reason),
			Evidence: []Evidence{f.at(i)}})
	}
	return out
}

// setupTime is how long after the answer a PeerConnection of a session
// still going is given to come up before pc-never-up says it never did.
const setupTime = 30 * time.Second

func pcNeverUp(f *Facts) []Finding {
	type pc struct {
		offer, answer, up, end int
	}
	handles := map[uint64]*pc{}
	var order []uint64
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.HandleID == 0 {
			continue
		}
		p := handles[e.HandleID]
		if p == nil {
			p = &pc{offer: -1, answer: -1, up: -1, end: -1}
			handles[e.HandleID] = p
			order = append(order, e.HandleID)
		}
		switch {
		case e.HasJSEP && e.JSEP == "offer" && p.offer < 0:
			p.offer = i
		case e.HasJSEP && e.JSEP == "answer" && p.answer < 0:
			p.answer = i
		case e.Janus == "webrtcup":
			p.up = i
		case e.Janus == "hangup" || e.Janus == "detached" || e.Janus == "detach":
			if p.end < 0 {
				p.end = i
			}
		}
	}
	var out []Finding
	for _, h := range order {
		p := handles[h]
		if p.offer < 0 || p.answer < 0 || p.up >= 0 || f.upInRow(h) {
			continue
		}
		// A call being set up has no webrtcup yet: only a PeerConnection
		// that ended, or had its time, never came up.
		ended := p.end >= 0 || (f.Session != nil && f.Session.Ended != "")
		last := f.Timeline[len(f.Timeline)-1].Time
		if !ended && last.Sub(f.Timeline[p.answer].Time) < setupTime {
			continue
		}
		fd := Finding{Severity: Error, HandleID: h, Evidence: []Evidence{f.at(p.offer), f.at(p.answer)},
			Cause: fmt.Sprintf("the PeerConnection of handle %d never came up: offer and answer were exchanged (messages %d and %d) but Janus never said webrtcup",
				h, p.offer+1, p.answer+1),
			Detail: "ICE or DTLS did not complete: did the client trickle its candidates, can both sides reach each other (TURN)?"}
		if p.end >= 0 {
			fd.Evidence = append(fd.Evidence, f.at(p.end))
		}
		out = append(out, fd)
	}
	return out
}

// upInRow says whether the handles table has a webrtcup for h.
func (f *Facts) upInRow(h uint64) bool {
	if f.Session == nil {
		return false
	}
	for _, r := range f.Session.Handles {
		if r.ID == h {
			return !r.WebRTCUpAt.IsZero()
		}
	}
	return false
}

// round rounds a duration for a person: to the millisecond under a
// minute, to the second above.
func round(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// janusEvent returns the index of the Janus event (transport evh) of handle
// h whose Janus is what, nearest to at, or -1.
func (f *Facts) janusEvent(h uint64, what string, at time.Time) int {
	best := -1
	var gap time.Duration
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Transport != schema.EVH || e.HandleID != h || e.Janus != what {
			continue
		}
		d := e.Time.Sub(at).Abs()
		if best < 0 || d < gap {
			best, gap = i, d
		}
	}
	return best
}

// janusEvents returns the indexes of the Janus events of handle h whose
// Janus is what.
func (f *Facts) janusEvents(h uint64, what string) []int {
	var out []int
	for i := range f.Timeline {
		if e := &f.Timeline[i]; e.Transport == schema.EVH && e.HandleID == h && e.Janus == what {
			out = append(out, i)
		}
	}
	return out
}

// trickles counts the candidates the client trickled to handle h, says
// whether it sent the end of them (a trickle with completed: true), and
// gives the index of the first trickle (-1 if none).
func (f *Facts) trickles(h uint64) (candidates int, completed bool, first int) {
	first = -1
	for i := range f.Timeline {
		e := &f.Timeline[i]
		if e.Direction != schema.ToGateway || e.Janus != "trickle" || e.HandleID != h {
			continue
		}
		if first < 0 {
			first = i
		}
		var m struct {
			Candidate  json.RawMessage   `json:"candidate"`
			Candidates []json.RawMessage `json:"candidates"`
		}
		if json.Unmarshal(e.Body, &m) != nil {
			continue
		}
		for _, c := range append(m.Candidates, m.Candidate) {
			var cand struct {
				Completed bool `json:"completed"`
			}
			switch {
			case len(c) == 0:
			case json.Unmarshal(c, &cand) == nil && cand.Completed:
				completed = true
			default:
				candidates++
			}
		}
	}
	return candidates, completed, first
}

func iceFailed(f *Facts) []Finding {
	var out []Finding
	for _, h := range f.Janus {
		if h.ICEFailedAt.IsZero() && h.ICEState != "failed" {
			continue
		}
		why := ""
		switch {
		case h.RemoteCandidates == 0:
			why = "no remote candidate reached Janus: the client trickled none, or its SDP carried none"
		case h.SelectedPair == "":
			why = fmt.Sprintf("Janus had %d local and %d remote candidates but no pair was selected: none could reach the other side (firewall, NAT, no TURN)", h.LocalCandidates, h.RemoteCandidates)
		case h.LocalType == "host" && h.RemoteType == "host":
			why = "only host candidates on both sides: two networks that cannot route to each other need srflx or relay (STUN/TURN) candidates"
		default:
			why = "the selected pair " + h.SelectedPair + " stopped answering"
		}
		fd := Finding{Severity: Error, HandleID: h.ID, Cause: fmt.Sprintf("ICE failed on handle %d: %s", h.ID, why),
			Detail: fmt.Sprintf("Janus's ICE states: %s; %d local, %d remote candidates", strings.Join(h.ICEStates, " → "), h.LocalCandidates, h.RemoteCandidates)}
		if n, done, first := f.trickles(h.ID); n > 0 && !done {
			fd.Detail += fmt.Sprintf("; the client trickled %d candidate(s) and never said it was done (no trickle with completed)", n)
			fd.Evidence = append(fd.Evidence, f.at(first))
		}
		for _, i := range f.janusEvents(h.ID, "remote-candidate") {
			if len(fd.Evidence) < 3 {
				fd.Evidence = append(fd.Evidence, f.at(i))
			}
		}
		if i := f.janusEvent(h.ID, "failed", h.ICEFailedAt); i >= 0 {
			fd.Evidence = append(fd.Evidence, f.at(i))
		}
		if len(fd.Evidence) == 0 {
			continue // the timeline does not hold Janus's events of it
		}
		out = append(out, fd)
	}
	return out
}
