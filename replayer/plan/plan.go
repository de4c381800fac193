// Package plan turns captured events into a replay plan: the clients of the
// flow (a WebSocket connection, or a REST session with its long-poll), and
// for each the requests to send in order, each with the answers and events
// the capture saw before the client's next request.
//
// It may import schema alone.
package plan

import (
	"fmt"
	"slices"
	"time"

	"github.com/janustap/janustap/schema"
)

// Plan is a captured flow ready to replay.
type Plan struct {
	Clients []*Client
	// Events is the whole captured flow, in capture order: what the new
	// run is compared with.
	Events []*schema.Event
	// Start is the time of the first captured request.
	Start time.Time

	teardown map[string]bool // event ids, see Teardown
}

// Client is one client of the capture: a WebSocket connection, or the REST
// traffic of one session (its create, its requests and its long-polls).
type Client struct {
	// Key names the client: the connection id, or "session <id>".
	Key string
	// Transport is how the capture spoke: http, ws, admin-http, admin-ws.
	Transport schema.Transport
	// Session is the captured session of a REST client, 0 for WebSocket.
	Session uint64
	// Path is the WebSocket's path, for a WebSocket client.
	Path  string
	Steps []*Step
}

// Step is one request and what the capture saw until the client's next.
type Step struct {
	// Order is the step's place among all steps of the plan, in capture
	// order: a step waits for every step of another client with a smaller
	// Order to have been answered.
	Order int
	// Request is the captured request: an HTTP request (Method, Path,
	// Body) or a WebSocket message (Body; the objects of one frame are one
	// step).
	Request *schema.Event
	// Parts are the further objects of the same WebSocket frame, sent with
	// Request in one frame.
	Parts []*schema.Event
	// Reply is the captured HTTP response to Request, nil over WebSocket.
	Reply *schema.Event
	// Expect are the captured messages from the gateway that arrived after
	// Request and before the client's next request: replies over WebSocket,
	// long-poll and WebSocket events.
	Expect []*schema.Event
	// After are the webrtcup events of other clients that the capture had
	// between the previous request (of any client) and Request. A
	// PeerConnection coming up changes what a plugin answers others (a
	// videoroom publisher is listed once its PeerConnection is up), so a
	// replay with media sends Request only once they came in the new run
	// too; steps are sent in the capture's order, so each waits only for
	// those since the step before it.
	After []*schema.Event
	// At is the request's time from the start of the capture.
	At time.Duration
	// Refused is set when Janus refused the request, which carried JSEP,
	// because it raced its handle's teardown: the new run sends it once
	// the same teardown happened (see Refusal).
	Refused *Refusal
	// ClosePeers are Janus's hangups with "DTLS alert" that came while
	// this teardown request (detach, hangup, destroy) was in flight in the
	// capture: the client had closed those PeerConnections as it sent it.
	// A replay with media closes the peers first and waits for the
	// hangups before it sends the request.
	ClosePeers []*schema.Event
}

// Build makes the plan of a flow. evs are the captured events in capture
// order (stream order); they may hold several sessions and connections.
// Long-poll GETs and CORS preflights are not steps: the replay runs its own
// long-poll for every session, and the messages a poll delivered are
// expected events.
func Build(evs []*schema.Event) (*Plan, error) {
	p := &Plan{Events: evs, teardown: map[string]bool{}}
	hungUp := map[uint64]bool{}     // captured handles a hangup or detach was asked for
	destroying := map[uint64]bool{} // captured sessions a destroy was sent for
	clients := map[string]*Client{}
	sessionOfConn := map[string]uint64{} // REST conn → the session it last created
	byID := map[string]*schema.Event{}
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	// The REST create of a session is found from its reply.
	createOf := map[string]uint64{} // request event id → session it created
	for _, ev := range evs {
		if ev.Kind == schema.Response && ev.Janus != nil && ev.Janus.Janus == "success" && ev.Janus.DataID != 0 && ev.Parent != "" {
			if req, ok := byID[ev.Parent]; ok && req.Janus != nil && req.Janus.Janus == "create" {
				createOf[req.ID] = ev.Janus.DataID
			}
		}
	}
	order := 0
	var ups []*schema.Event             // webrtcup events since the last step
	upOf := map[*schema.Event]*Client{} // and their clients
	last := map[*Client]*Step{}
	stepOf := map[string]*Step{} // request event id → its step
	clientOf := func(ev *schema.Event) *Client {
		var key string
		var session uint64
		switch {
		case ev.Transport.IsWS():
			key = ev.Conn
		default:
			session = ev.SessionID()
			if s, ok := createOf[ev.ID]; ok {
				session = s
			}
			if ev.Kind == schema.Response {
				if req, ok := byID[ev.Parent]; ok {
					if s, ok := createOf[req.ID]; ok {
						session = s
					}
				}
			}
			if session == 0 {
				session = sessionOfConn[ev.Conn]
			}
			if session == 0 {
				key = string(ev.Transport) + " conn " + ev.Conn
			} else {
				key = fmt.Sprintf("%s session %d", ev.Transport, session)
			}
		}
		c, ok := clients[key]
		if !ok {
			c = &Client{Key: key, Transport: ev.Transport, Session: session}
			clients[key] = c
			p.Clients = append(p.Clients, c)
		}
		return c
	}
	// A plugin's event without transaction that a hangup event of its handle
	// follows, with no request to the handle in between but a hangup or
	// detach, reports the PeerConnection going away (ICE, DTLS: media).
	for i, ev := range evs {
		if ev.Direction != schema.ToClient || ev.Janus == nil || ev.Janus.Janus != "event" || ev.Janus.Transaction != "" || ev.Janus.Sender == 0 {
			continue
		}
		h := ev.Janus.Sender
		for _, next := range evs[i+1:] {
			if next.Janus == nil || next.HandleID() != h {
				continue
			}
			if next.Direction == schema.ToClient && next.Janus.Janus == "hangup" {
				p.teardown[ev.ID] = true
				break
			}
			if next.Direction == schema.ToGateway && next.Janus.Janus != "hangup" && next.Janus.Janus != "detach" && next.Janus.Janus != "trickle" {
				break
			}
		}
	}
	for _, ev := range evs {
		switch {
		case ev.Kind == schema.Open:
			clientOf(ev).Path = ev.Path
		case ev.Kind == schema.Request && (ev.Method == "OPTIONS" || ev.Method == "GET" && ev.Transport == schema.HTTP && isPoll(ev.Path)):
			// preflights and long-polls: the replay makes its own
		case ev.Kind == schema.Request, ev.Kind == schema.Frame && ev.Direction == schema.ToGateway:
			c := clientOf(ev)
			if ev.Kind == schema.Frame && ev.Part > 0 {
				if s := last[c]; s != nil {
					s.Parts = append(s.Parts, ev)
				}
				continue
			}
			if p.Start.IsZero() {
				p.Start = ev.Time
			}
			s := &Step{Order: order, Request: ev, At: ev.Time.Sub(p.Start)}
			for _, up := range ups {
				if upOf[up] != c {
					s.After = append(s.After, up)
				}
			}
			ups = ups[:0:0]
			clear(upOf)
			order++
			c.Steps = append(c.Steps, s)
			last[c] = s
			stepOf[ev.ID] = s
			if sess, ok := createOf[ev.ID]; ok {
				sessionOfConn[ev.Conn] = sess
			}
			if ev.Janus != nil && (ev.Janus.Janus == "hangup" || ev.Janus.Janus == "detach") {
				hungUp[ev.HandleID()] = true
			}
			if ev.Janus != nil && ev.Janus.Janus == "destroy" {
				destroying[ev.SessionID()] = true
			}
		case ev.Kind == schema.Response:
			if s := stepOf[ev.Parent]; s != nil {
				s.Reply = ev
			}
		case ev.Direction == schema.ToClient && (ev.Kind == schema.PollEvent || ev.Kind == schema.Frame):
			if ev.Janus != nil && ev.Janus.Janus == "keepalive" {
				continue
			}
			if ev.Janus != nil && ev.Janus.Transaction == "" &&
				(ev.Janus.Janus == "event" && hungUp[ev.Janus.Sender] ||
					destroying[ev.SessionID()] && (ev.Janus.Janus == "detached" || ev.Janus.Janus == "hangup" || ev.Janus.Janus == "event")) {
				p.teardown[ev.ID] = true
			}
			var c *Client
			if ev.Transport.IsWS() {
				c = clientOf(ev)
			} else {
				c = clients[fmt.Sprintf("%s session %d", ev.Transport, ev.SessionID())]
			}
			if c == nil {
				continue
			}
			if s := last[c]; s != nil {
				s.Expect = append(s.Expect, ev)
			}
			if ev.Janus != nil && ev.Janus.Janus == "webrtcup" {
				ups = append(ups, ev)
				upOf[ev] = c
			}
		}
	}
	p.Clients = slices.DeleteFunc(p.Clients, func(c *Client) bool { return len(c.Steps) == 0 })
	if len(p.Clients) == 0 {
		return nil, fmt.Errorf("build replay plan: no requests among %d events", len(evs))
	}
	p.refusals(evs)
	p.closesFirst(evs)
	return p, nil
}

// isPoll reports whether path is a long-poll path, /janus/<session>.
func isPoll(path string) bool {
	_, s, h := schema.ParsePath(path)
	return s != 0 && h == 0
}

// NeedsMedia reports whether an event can only happen with media flowing,
// which replaying signaling alone cannot reproduce.
func NeedsMedia(ev *schema.Event) bool {
	if ev.Janus == nil {
		return false
	}
	switch ev.Janus.Janus {
	case "webrtcup", "media", "slowlink":
		return true
	case "hangup":
		return true // only when a PeerConnection existed: it depends on ICE and DTLS
	}
	return false
}

// Teardown reports whether a captured event reports a handle's
// PeerConnection going away after a hangup or detach the client asked for
// (echotest's "result": "done"), or came after the client had sent destroy
// for its session (a detached event): such events race the request, so a
// replay does not wait for them.
func (p *Plan) Teardown(ev *schema.Event) bool { return p.teardown[ev.ID] }
