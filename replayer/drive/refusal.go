package drive

import (
	"context"
	"fmt"
	"time"

	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// teardownFirst makes the teardown that Janus's refusal ref raced in the
// capture (plan.Refusal) happen in the new run before the step ref.Before
// is sent: the peer of the handle closes when the captured client had
// closed its PeerConnection, and the step waits (up to Options.Wait) for
// Janus's hangup of the handle, which the client then expects (over REST
// its long-poll brings it). A teardown request of the client goes before
// the refused request in the plan already. It returns what did not come,
// for the run's waits.
func (c *conn) teardownFirst(ctx context.Context, p *plan.Plan, ref *plan.Refusal) string {
	if ref == nil || c.r.peers == nil || ref.Hangup == nil {
		return ""
	}
	return c.closeFirst(ctx, p, ref.Handle, ref.Hangup, ref.ClosePeer, fmt.Sprintf("which came with its refusal of the request (%d) in the capture", ref.Code))
}

// closePeersFirst closes, before the teardown request s is sent, the
// peers whose captured client closed its PeerConnection as it sent it
// (plan.Step.ClosePeers), and waits (up to Options.Wait) for Janus's
// hangups. It returns what did not come, for the run's waits.
func (c *conn) closePeersFirst(ctx context.Context, p *plan.Plan, s *plan.Step) []string {
	if c.r.peers == nil {
		return nil
	}
	var missing []string
	for _, hangup := range s.ClosePeers {
		if m := c.closeFirst(ctx, p, hangup.HandleID(), hangup, true, "which came as the client tore it down in the capture"); m != "" {
			missing = append(missing, m)
		}
	}
	return missing
}

// closeFirst closes the peer of the captured handle when closePeer is set,
// then waits (up to Options.Wait) for the counterpart of Janus's captured
// hangup of it, unless the run does not wait for that hangup (a detach's).
// It returns what did not come; why says where the hangup stood in the
// capture.
func (c *conn) closeFirst(ctx context.Context, p *plan.Plan, handle uint64, hangup *schema.Event, closePeer bool, why string) string {
	r := c.r
	h, ok := r.ids.ID(handle)
	if !ok {
		return ""
	}
	r.mu.Lock()
	peer := r.peers.byH[h]
	r.mu.Unlock()
	timer := time.NewTimer(r.opts.Wait)
	defer timer.Stop()
	if peer != nil && closePeer {
		peer.Close() // Janus hangs up with "DTLS alert", as it did for the client
		select {
		case <-peer.Failed(): // closed: a request after it goes with the captured SDP
		case <-timer.C:
		case <-ctx.Done():
			return ""
		}
	}
	if p.Teardown(hangup) || !r.reproduces(hangup) {
		return "" // a hangup the run does not wait for (a detach's): the teardown request went first
	}
	c.addPending(p, []*schema.Event{hangup})
	for {
		c.mu.Lock()
		done, ch := c.matched[hangup.ID], c.changed
		c.mu.Unlock()
		if done {
			return ""
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ""
		case <-timer.C:
			return fmt.Sprintf("Janus's hangup of handle %d, %s, did not come within %s", h, why, r.opts.Wait)
		}
	}
}

// refusedWithoutPeer reports whether step s is a request Janus refused in
// the capture (plan.Refusal) for a handle that has no peer: its captured
// SDP goes as it was, since a peer made for it would wait for a
// PeerConnection that Janus refuses; if Janus takes it in the new run, the
// report shows it.
func (r *runner) refusedWithoutPeer(s *plan.Step, handle uint64) bool {
	if s.Refused == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers.byH[handle] == nil
}
