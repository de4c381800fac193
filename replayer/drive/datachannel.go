package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// A textroom client speaks to the plugin over its data channel; the tap
// sees none of it. Janus's event handlers report some of it (janus_textroom.c
// of Janus 1.1.2 notifies a join with room, username and display, a leave
// with room and username), and what they report is sent again by the peer
// of the handle, at the place it had in the capture. The chat messages are
// reported nowhere and are not sent.

// dcRequest is one request a captured client sent over its data channel,
// as a Janus event shows it.
type dcRequest struct {
	handle  uint64         // the captured handle
	client  string         // the plan's client whose requests name the handle
	before  int            // Order of the first step captured after it; -1 after them all
	request map[string]any // the textroom request, without its transaction
	what    string         // for the report: `textroom join (room 1234, username "x")`
	taken   bool
}

// dataChannels are the data channel requests of one replay.
type dataChannels struct {
	mu   sync.Mutex
	reqs []*dcRequest
	tx   int
	// errs are, by the new run's handle, the requests Janus refused or
	// that could not be sent.
	errs map[uint64][]string
}

// textroomEvent is the part of a textroom plugin event that the replay
// uses: what a client asked over its data channel.
type textroomEvent struct {
	Plugin string `json:"plugin"`
	Data   struct {
		Event    string `json:"event"`
		Room     any    `json:"room"` // a number, or a string with string_ids
		Username string `json:"username"`
		Display  string `json:"display"`
	} `json:"data"`
}

// dataChannelRequests turns Janus's events evs (schema.JanusEvent) into the
// requests their handles' clients sent over the data channel, each placed
// before the first step of p captured after it (ev.Time: see
// Options.DataChannel). Events that show no such request are skipped.
func dataChannelRequests(p *plan.Plan, evs []*schema.Event) []*dcRequest {
	var out []*dcRequest
	for i, ev := range evs {
		req, what, ok := textroomRequest(ev)
		if !ok || req["textroom"] == "leave" && pluginLeave(p, evs[i+1:], ev) {
			continue
		}
		r := &dcRequest{handle: ev.HandleID(), before: -1, request: req, what: what}
		for _, c := range p.Clients {
			for _, s := range c.Steps {
				if s.Request.Time.After(ev.Time) && (r.before < 0 || s.Order < r.before) {
					r.before = s.Order
				}
				if r.client == "" && s.Request.HandleID() == r.handle {
					r.client = c.Key
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// ownLeaveWindow is how soon after a textroom leave Janus's hangup of the
// handle's PeerConnection shows the leave was the plugin's own: it
// notifies the leave, then the hangup, in one go.
const ownLeaveWindow = time.Second

// pluginLeave reports whether the textroom leave ev is the plugin's own
// rather than the client's: janus_textroom.c leaves every room of a
// handle whose PeerConnection goes away, with a leave request of its own
// that it notifies like a client's. It is when Janus's hangup of the
// handle's PeerConnection comes next among Janus's later events of the
// handle (its other rooms' leaves aside), at once; or when the capture has the client's hangup or detach of the
// handle, or destroy of its session, before it. Taking a client's leave
// just before its PeerConnection went for the plugin's own changes
// nothing: the replay's hangup leaves the room too.
func pluginLeave(p *plan.Plan, later []*schema.Event, ev *schema.Event) bool {
	h := ev.HandleID()
	for _, next := range later {
		if next.HandleID() != h {
			continue
		}
		if req, _, ok := textroomRequest(next); ok && req["textroom"] == "leave" {
			continue // the plugin leaves the handle's rooms one by one
		}
		env, err := schema.ParseEvhEnvelope(next.Body)
		if err == nil && env.Type == schema.EvhWebRTC && env.Subtype == schema.EvhWebRTCPC && bytes.Contains(env.Event, []byte(`"hangup"`)) {
			return next.Time.Sub(ev.Time) <= ownLeaveWindow
		}
		if err == nil && (env.Type == schema.EvhPlugin || env.Type == schema.EvhWebRTC && env.Subtype == schema.EvhWebRTCPC) {
			break // something else happened on the handle first
		}
	}
	for _, req := range p.Events {
		if req.Direction != schema.ToGateway || req.Janus == nil || req.Time.After(ev.Time) {
			continue
		}
		switch req.Janus.Janus {
		case "hangup", "detach":
			if req.HandleID() == h {
				return true
			}
		case "destroy":
			if s := req.SessionID(); s != 0 && s == ev.SessionID() {
				return true
			}
		}
	}
	return false
}

// textroomRequest returns the textroom request a Janus event of the
// textroom plugin shows a client sent over its data channel: a join (room,
// username, display) or a leave (room). The plugin's other notifications
// (a room created, edited or destroyed, a participant kicked) do not say
// enough of the request to send it again (create's settings, kick's
// secret), or came from the Janus API, which the capture has.
func textroomRequest(ev *schema.Event) (map[string]any, string, bool) {
	if ev.Kind != schema.JanusEvent || ev.HandleID() == 0 || !bytes.Contains(ev.Body, []byte("janus.plugin.textroom")) {
		return nil, "", false
	}
	env, err := schema.ParseEvhEnvelope(ev.Body)
	if err != nil || env.Type != schema.EvhPlugin {
		return nil, "", false
	}
	var e textroomEvent
	dec := json.NewDecoder(bytes.NewReader(env.Event))
	dec.UseNumber()
	if dec.Decode(&e) != nil || e.Plugin != "janus.plugin.textroom" {
		return nil, "", false
	}
	room := e.Data.Room
	switch v := room.(type) {
	case json.Number:
	case string:
		if v == "" {
			return nil, "", false
		}
		room = strconv.Quote(v) // for the report; the request keeps the string
	default:
		return nil, "", false
	}
	switch e.Data.Event {
	case "join":
		if e.Data.Username == "" {
			return nil, "", false
		}
		req := map[string]any{"textroom": "join", "room": e.Data.Room, "username": e.Data.Username}
		if e.Data.Display != "" {
			req["display"] = e.Data.Display
		}
		return req, fmt.Sprintf("textroom join (room %v, username %q)", room, e.Data.Username), true
	case "leave":
		return map[string]any{"textroom": "leave", "room": e.Data.Room}, fmt.Sprintf("textroom leave (room %v)", room), true
	}
	return nil, "", false
}

// sendData sends, before the step of order o, the data channel requests
// captured before it whose handle has a peer by now (a request captured
// before the handle's peer exists in the new run waits for a later step).
func (r *runner) sendData(ctx context.Context, o int) {
	r.sendDataIf(ctx, func(q *dcRequest, hasPeer bool) bool {
		return hasPeer && q.before >= 0 && q.before <= o
	})
}

// sendDataLeft sends, at the end of client key, the requests of its
// handles that no step sent: those captured after its last request, and
// those whose peer never came (which fail, and say so). A request whose
// handle no client's request names goes with the first client to end.
func (r *runner) sendDataLeft(ctx context.Context, key string) {
	r.sendDataIf(ctx, func(q *dcRequest, _ bool) bool { return q.client == key || q.client == "" })
}

func (r *runner) sendDataIf(ctx context.Context, due func(q *dcRequest, hasPeer bool) bool) {
	dc := r.dc
	if dc == nil || r.peers == nil {
		return
	}
	type send struct {
		q *dcRequest
		p *media.Peer
		h uint64 // the new run's handle, or the captured one when it has none
	}
	var sends []send
	dc.mu.Lock()
	for _, q := range dc.reqs {
		if q.taken {
			continue
		}
		h, ok := r.ids.ID(q.handle)
		var p *media.Peer
		if ok {
			r.mu.Lock()
			p = r.peers.byH[h]
			r.mu.Unlock()
		} else {
			h = q.handle
		}
		if !due(q, p != nil) {
			continue
		}
		q.taken = true
		sends = append(sends, send{q, p, h})
	}
	dc.mu.Unlock()
	for _, s := range sends {
		if err := r.dataRequest(ctx, s.p, s.q); err != nil {
			msg := fmt.Sprintf("data channel of handle %d: %s: %v", s.h, s.q.what, err)
			dc.mu.Lock()
			dc.errs[s.h] = append(dc.errs[s.h], msg)
			dc.mu.Unlock()
			r.addError(msg)
		}
	}
}

// dataRequest sends q on p's data channel, once it is open, and waits
// for the textroom's answer to it. Janus notified the captured request
// only once it had succeeded: an error answer is a difference.
func (r *runner) dataRequest(ctx context.Context, p *media.Peer, q *dcRequest) error {
	if p == nil {
		return fmt.Errorf("not sent: the handle has no WebRTC peer in the new run")
	}
	timer := time.NewTimer(r.opts.Wait)
	defer timer.Stop()
	select {
	case <-p.DataChannelOpen():
	case <-p.Failed():
		return fmt.Errorf("not sent: the peer's connection failed or closed before its data channel opened")
	case <-timer.C:
		return fmt.Errorf("not sent: the peer's data channel did not open within %s", r.opts.Wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	r.dc.mu.Lock()
	r.dc.tx++
	tx := "dc" + strconv.Itoa(r.dc.tx)
	r.dc.mu.Unlock()
	req := map[string]any{"transaction": tx}
	for k, v := range q.request {
		req[k] = v
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// The room becomes the run's own or the one learned, and the
	// transaction the run's (Options.Run).
	if b, err = r.ids.Rewrite(b); err != nil {
		return err
	}
	tx = r.ids.Tx(tx)
	_, from := p.DataCounts()
	if err := p.SendData(b); err != nil {
		return err
	}
	for {
		msgs, next := p.DataReceived(from)
		from += len(msgs)
		for _, m := range msgs {
			var a struct {
				Textroom    string `json:"textroom"`
				Transaction string `json:"transaction"`
				ErrorCode   int    `json:"error_code"`
				Error       string `json:"error"`
			}
			if json.Unmarshal(m, &a) != nil || a.Transaction != tx {
				continue
			}
			if a.Textroom == "success" {
				return nil
			}
			return fmt.Errorf("Janus answered %s %d %q; the capture shows it succeeded (Janus's event of the captured request)", a.Textroom, a.ErrorCode, a.Error)
		}
		select {
		case <-next:
		case <-p.Failed():
			return fmt.Errorf("sent; the peer's connection closed before Janus answered")
		case <-timer.C:
			return fmt.Errorf("sent; no answer within %s", r.opts.Wait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dataChannelRooms returns the numbered textroom rooms the data channel
// requests name, for OwnRooms.
func (r *runner) dataChannelRooms() []uint64 {
	if r.dc == nil {
		return nil
	}
	var out []uint64
	for _, q := range r.dc.reqs {
		if n, ok := q.request["room"].(json.Number); ok {
			if room, err := strconv.ParseUint(string(n), 10, 64); err == nil {
				out = append(out, room)
			}
		}
	}
	return out
}

// dataErrors returns the data channel errors of the new run's handle h.
func (r *runner) dataErrors(h uint64) []string {
	if r.dc == nil {
		return nil
	}
	r.dc.mu.Lock()
	defer r.dc.mu.Unlock()
	return r.dc.errs[h]
}
