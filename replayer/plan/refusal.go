package plan

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/janustap/janustap/schema"
)

// refusalCodes are Janus's refusals of a request on a handle whose
// teardown is under way: 458 no such session, 459 no such handle (the
// detach or destroy was through), 469 "Unexpected ANSWER (did we offer?)"
// (the handle's PeerConnection was hung up, Janus has no offer pending),
// 465 "Error processing SDP" (the answer came while Janus was hanging the
// PeerConnection up).
var refusalCodes = map[int]bool{458: true, 459: true, 465: true, 469: true}

// Refusal is Janus's refusal, in the capture, of a request that carried
// JSEP because it raced its handle's teardown: a client answered Janus's
// new offer on a subscriber as it was tearing that subscriber down (the
// videoroom demo over REST, when the publisher left). The request and the
// teardown were in flight together; the capture shows which came first,
// and the new run keeps that order so that Janus refuses again.
type Refusal struct {
	// Code is the refusal's error code (458, 459 or 469).
	Code int
	// Handle is the captured handle the request was for.
	Handle uint64
	// Reply is the captured refusal.
	Reply *schema.Event
	// Evidence are the captured messages before the refusal that show the
	// handle's teardown under way: a detach or hangup of the handle, a
	// destroy of its session, Janus's hangup or detached of the handle, a
	// publisher it subscribes to leaving or unpublished.
	Evidence []*schema.Event
	// Hangup is Janus's hangup of the handle's PeerConnection, the first
	// after the offer the request answers (it may come just after the
	// refusal: Janus marks the PeerConnection closed at once and says so
	// later, from the handle's loop), nil when none came. The new run sends
	// the request only once its counterpart came.
	Hangup *schema.Event
	// ClosePeer says the hangup was a "DTLS alert": the captured client had
	// closed its PeerConnection, so the replay's peer closes before the
	// request too.
	ClosePeer bool
	// Before is the step of the client before which the teardown happens
	// in the new run (the peer closed, Janus's hangup in): the refused
	// step itself, or the first teardown request it was moved after, since
	// a client closes its PeerConnection before it detaches (janus.js
	// does), and Janus says nothing of a PeerConnection whose handle is
	// gone.
	Before *Step
}

// isTeardown reports whether a request tears down handle h of session s.
func isTeardown(ev *schema.Event, s, h uint64) bool {
	if ev.Direction != schema.ToGateway || ev.Janus == nil {
		return false
	}
	switch ev.Janus.Janus {
	case "detach", "hangup":
		return ev.HandleID() == h
	case "destroy":
		return ev.SessionID() == s
	}
	return false
}

// refusals finds the steps of p whose request carried JSEP and that Janus
// refused because it raced its handle's teardown, sets their Refused, and
// lets a teardown request of the same client that the capture had in
// flight before the refusal go first (see moveAfter).
func (p *Plan) refusals(evs []*schema.Event) {
	at := make(map[*schema.Event]int, len(evs))
	for i, ev := range evs {
		at[ev] = i
	}
	for _, c := range p.Clients {
		var refused []*Step
		for _, s := range c.Steps {
			req := s.Request
			if req.Janus == nil || !req.Janus.HasJSEP || req.HandleID() == 0 {
				continue
			}
			reply := replyOf(s, evs, at)
			if reply == nil || reply.Janus == nil || reply.Janus.Janus != "error" || !refusalCodes[reply.Janus.ErrorCode] {
				continue
			}
			r := refusalOf(evs, at[req], at[reply])
			if r == nil {
				continue
			}
			r.Reply, r.Before = reply, s
			s.Refused = r
			refused = append(refused, s)
		}
		for _, s := range refused {
			c.moveAfter(slices.Index(c.Steps, s), evs, at)
		}
	}
}

// refusalOf returns the refusal of the request evs[ri], refused at
// evs[ei], when the capture shows its handle's teardown under way before
// the refusal; nil otherwise (a refusal that is not this race stays a
// request like any other, and the new run is compared with it).
func refusalOf(evs []*schema.Event, ri, ei int) *Refusal {
	req := evs[ri]
	h, sess := req.HandleID(), req.SessionID()
	// Since the offer the request answers (Janus's last JSEP to the handle).
	from := 0
	feeds := map[string]bool{} // publishers the handle subscribes to
	for i, ev := range evs[:ri] {
		if ev.Janus == nil || ev.HandleID() != h {
			continue
		}
		if ev.Direction == schema.ToClient && ev.Janus.HasJSEP {
			from = i
		}
		if ev.Direction == schema.ToGateway {
			for _, f := range subscribedFeeds(ev.Body) {
				feeds[f] = true
			}
		}
	}
	r := &Refusal{Code: evs[ei].Janus.ErrorCode, Handle: h}
	for _, ev := range evs[from:ei] {
		if ev.Janus == nil {
			continue
		}
		switch {
		case isTeardown(ev, sess, h):
			r.Evidence = append(r.Evidence, ev)
		case ev.Direction == schema.ToClient && ev.Janus.Sender == h && (ev.Janus.Janus == "hangup" || ev.Janus.Janus == "detached"):
			r.Evidence = append(r.Evidence, ev)
		case ev.Direction == schema.ToClient && ev.SessionID() == sess && ev.Janus.Janus == "event" && len(feeds) > 0 && feedGone(ev.Body, feeds):
			r.Evidence = append(r.Evidence, ev)
		}
	}
	if len(r.Evidence) == 0 {
		return nil
	}
	// Janus's hangup of the handle, before a JSEP request of it other than
	// this one.
	for _, ev := range evs[from:] {
		if ev.Janus == nil || ev.HandleID() != h || ev == req {
			continue
		}
		if ev.Direction == schema.ToGateway && ev.Janus.HasJSEP {
			break
		}
		if ev.Direction == schema.ToClient && ev.Janus.Janus == "hangup" {
			r.Hangup = ev
			r.ClosePeer = ev.Janus.Reason == "DTLS alert"
			break
		}
	}
	return r
}

// moveAfter moves step i of c after the last teardown request of its
// handle that the capture had sent before Janus refused step i, and that
// Janus took first: the refusal says the handle or session was gone (458,
// 459), or the teardown's answer came before the refusal. Over REST the
// two were concurrent requests on separate connections, and Janus took
// the teardown first; a replay that sent them in capture order, each after
// the other's reply, would have Janus take the request. A teardown Janus
// answered after the refusal (a 469 over WebSocket, the answer sent just
// before the detach, refused once the DTLS alert had hung the
// PeerConnection up) stays after the request, and waits for the refusal. The steps keep
// their orders in place (each order stays with a position, so the gate
// sees the client's steps in order), the messages with the moved step's
// transaction move with it, and the other messages it expected stay where
// they were waited for.
func (c *Client) moveAfter(i int, evs []*schema.Event, at map[*schema.Event]int) {
	s := c.Steps[i]
	r := s.Refused
	ei := at[r.Reply]
	sess := s.Request.SessionID()
	gone := r.Code == 458 || r.Code == 459
	tx := s.Request.Janus.Transaction
	first, last, inFlight := -1, -1, -1
	for j := i + 1; j < len(c.Steps); j++ {
		t := c.Steps[j].Request
		if at[t] >= ei || !isTeardown(t, sess, r.Handle) {
			continue
		}
		inFlight = j
		if reply := replyOf(c.Steps[j], evs, at); gone || reply == nil || at[reply] < ei {
			last = j
			if first < 0 {
				first = j
			}
		}
	}
	if last < 0 {
		if inFlight >= 0 {
			// Janus took the request first, with a teardown in flight:
			// the teardown goes once the refusal came, so that Janus
			// takes them in that order again (over WebSocket it handles
			// a plugin message and a detach on different threads).
			for _, t := range c.Steps[i+1 : inFlight+1] {
				t.Expect = slices.DeleteFunc(t.Expect, func(ev *schema.Event) bool {
					if ev.Janus != nil && ev.Janus.Transaction == tx {
						s.Expect = append(s.Expect, ev)
						return true
					}
					return false
				})
			}
		}
		return
	}
	r.Before = c.Steps[first]
	var own, others []*schema.Event
	for _, ev := range s.Expect {
		if ev.Janus != nil && ev.Janus.Transaction == tx {
			own = append(own, ev)
		} else {
			others = append(others, ev)
		}
	}
	for _, t := range c.Steps[i+1 : last+1] {
		t.Expect = slices.DeleteFunc(t.Expect, func(ev *schema.Event) bool {
			if ev.Janus != nil && ev.Janus.Transaction == tx {
				own = append(own, ev)
				return true
			}
			return false
		})
	}
	switch {
	case i > 0:
		prev := c.Steps[i-1]
		prev.Expect = append(prev.Expect, others...)
	default:
		own = append(others, own...)
	}
	s.Expect = own
	orders := make([]int, 0, last-i+1)
	for _, t := range c.Steps[i : last+1] {
		orders = append(orders, t.Order)
	}
	copy(c.Steps[i:], c.Steps[i+1:last+1])
	c.Steps[last] = s
	for k, t := range c.Steps[i : last+1] {
		t.Order = orders[k]
	}
}

// replyOf returns the captured reply to step s: its HTTP response, or over
// WebSocket the first frame after it with its transaction that is not an
// event; nil when none.
func replyOf(s *Step, evs []*schema.Event, at map[*schema.Event]int) *schema.Event {
	if s.Reply != nil {
		return s.Reply
	}
	req := s.Request
	if req.Janus == nil {
		return nil
	}
	for _, ev := range evs[at[req]+1:] {
		if ev.Direction == schema.ToClient && ev.Conn == req.Conn && ev.Janus != nil && ev.Janus.Transaction == req.Janus.Transaction && ev.Janus.Janus != "event" && ev.Janus.Janus != "ack" {
			return ev
		}
	}
	return nil
}

// subscribedFeeds returns the publishers a subscriber's join or subscribe
// request names (videoroom feed, streams[].feed), as JSON numbers.
func subscribedFeeds(body []byte) []string {
	if !bytes.Contains(body, []byte(`"feed"`)) {
		return nil
	}
	var m struct {
		Body struct {
			Feed    json.Number `json:"feed"`
			Streams []struct {
				Feed json.Number `json:"feed"`
			} `json:"streams"`
		} `json:"body"`
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []string
	if m.Body.Feed != "" {
		out = append(out, m.Body.Feed.String())
	}
	for _, s := range m.Body.Streams {
		if s.Feed != "" {
			out = append(out, s.Feed.String())
		}
	}
	return out
}

// feedGone reports whether a videoroom event says one of feeds left,
// unpublished or was kicked.
func feedGone(body []byte, feeds map[string]bool) bool {
	var m struct {
		Plugindata struct {
			Data struct {
				Leaving     json.Number `json:"leaving"`
				Unpublished json.Number `json:"unpublished"`
				Kicked      json.Number `json:"kicked"`
			} `json:"data"`
		} `json:"plugindata"`
	}
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	d := m.Plugindata.Data
	return feeds[d.Leaving.String()] || feeds[d.Unpublished.String()] || feeds[d.Kicked.String()]
}
