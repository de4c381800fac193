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
	r := c.r
	if ref == nil || r.peers == nil || ref.Hangup == nil {
		return ""
	}
	h, ok := r.ids.ID(ref.Handle)
	if !ok {
		return ""
	}
	r.mu.Lock()
	peer := r.peers.byH[h]
	r.mu.Unlock()
	timer := time.NewTimer(r.opts.Wait)
	defer timer.Stop()
	if peer != nil && ref.ClosePeer {
		peer.Close() // Janus hangs up with "DTLS alert", as it did for the client
		select {
		case <-peer.Failed(): // closed: the request goes with the captured SDP
		case <-timer.C:
		case <-ctx.Done():
			return ""
		}
	}
	if p.Teardown(ref.Hangup) || !r.reproduces(ref.Hangup) {
		return "" // a hangup the run does not wait for (a detach's): the teardown request went first
	}
	c.addPending(p, []*schema.Event{ref.Hangup})
	for {
		c.mu.Lock()
		done, ch := c.matched[ref.Hangup.ID], c.changed
		c.mu.Unlock()
		if done {
			return ""
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ""
		case <-timer.C:
			return fmt.Sprintf("Janus's hangup of handle %d, which came with its refusal of the request (%d) in the capture, did not come within %s", h, ref.Code, r.opts.Wait)
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
