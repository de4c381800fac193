package plan

import "github.com/janustap/janustap/schema"

// closesFirst marks each teardown request (detach or hangup of a handle,
// destroy of its session) during which, in the capture, Janus hung up one
// of its handles with "DTLS alert": the client closed that PeerConnection
// as it sent the request (janus.js closes a PeerConnection before it
// detaches; the alert reaches Janus after the request, before its reply).
// The new run closes the peer first and waits for the hangup, so that
// Janus gives the same reason rather than "Detach", or, when the detach
// was through first, no hangup at all.
func (p *Plan) closesFirst(evs []*schema.Event) {
	at := make(map[*schema.Event]int, len(evs))
	for i, ev := range evs {
		at[ev] = i
	}
	for _, c := range p.Clients {
		for _, s := range c.Steps {
			req := s.Request
			if req.Janus == nil || (req.Janus.Janus != "detach" && req.Janus.Janus != "hangup" && req.Janus.Janus != "destroy") {
				continue
			}
			ri, ok := at[req]
			if !ok {
				continue
			}
			end := len(evs) // the reply, or the end of the capture
			if reply := replyOf(s, evs, at); reply != nil {
				end = at[reply]
			}
			for _, ev := range evs[ri+1 : end] {
				if ev.Direction == schema.ToClient && ev.Janus != nil && ev.Janus.Janus == "hangup" && ev.Janus.Reason == "DTLS alert" &&
					isTeardown(req, ev.SessionID(), ev.HandleID()) {
					s.ClosePeers = append(s.ClosePeers, ev)
				}
			}
		}
	}
}
