package diff

// hangupCodes are Janus's refusals of an answer on a handle whose
// PeerConnection it is hanging up: 469 "Unexpected ANSWER (did we offer?)"
// once the hangup is through (the handle has no ICE agent left), 465 "Error
// processing SDP" when the answer comes in the middle of it. Which of the
// two a run gets depends on how far Janus's hangup had got when the answer
// came, a race inside Janus that a replay cannot hit on purpose.
var hangupCodes = map[int]bool{465: true, 469: true}

// refusalRace reports whether the paired replies a and b are Janus's
// refusals of an answer racing the hangup of its handle's PeerConnection,
// one with 465 and the other with 469: both errors, the codes of
// hangupCodes and not the same, to a request carrying a jsep answer, and
// each run has Janus's hangup of that handle after the last session
// description Janus sent it before the answer. Such a pair is noted in
// Report.RefusalRace, not a difference.
func (x *comparison) refusalRace(a, b *message) bool {
	if a.janus != "error" || b.janus != "error" {
		return false
	}
	ca, cb := errorCode(a.top), errorCode(b.top)
	if ca == cb || !hangupCodes[ca] || !hangupCodes[cb] {
		return false
	}
	return x.a.answerHungUp(a) && x.b.answerHungUp(b)
}

// answerHungUp reports whether reply answers a request carrying a jsep
// answer whose handle Janus hung up in the run after the last session
// description it had sent that handle before the request.
func (r *run) answerHungUp(reply *message) bool {
	var req *message
	for _, m := range r.msgs {
		if m.req && m.pos == reply.link {
			req = m
		}
	}
	if req == nil || req.handle == "" {
		return false
	}
	jsep, _ := req.top["jsep"].(map[string]any)
	if t, _ := jsep["type"].(string); t != "answer" {
		return false
	}
	offer := 0 // index of Janus's last session description to the handle
	for _, m := range r.msgs {
		if _, ok := m.top["jsep"]; ok && !m.req && m.handle == req.handle && m.index < req.index {
			offer = max(offer, m.index)
		}
	}
	for _, m := range r.msgs {
		if !m.req && m.janus == "hangup" && m.handle == req.handle && m.index > offer {
			return true
		}
	}
	return false
}
