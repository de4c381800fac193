package plan_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// describe writes the steps of p, client by client: order, verb and
// transaction, what the step expects, and for a refused step the refusal.
func describe(p *plan.Plan) string {
	var b strings.Builder
	name := func(ev *schema.Event) string {
		j := ev.Janus
		s := j.Janus
		if j.Transaction != "" {
			s += " tx=" + j.Transaction
		}
		if j.ErrorCode != 0 {
			s += fmt.Sprintf(" %d", j.ErrorCode)
		}
		if j.PluginValue != "" {
			s += " " + j.PluginValue
		}
		if j.Reason != "" {
			s += " " + j.Reason
		}
		return s
	}
	names := func(evs []*schema.Event) string {
		var out []string
		for _, ev := range evs {
			out = append(out, name(ev))
		}
		return strings.Join(out, ", ")
	}
	for _, c := range p.Clients {
		fmt.Fprintf(&b, "%s\n", c.Key)
		for _, s := range c.Steps {
			fmt.Fprintf(&b, "  %d %s", s.Order, name(s.Request))
			if s.Request.Janus.JSEP != "" {
				fmt.Fprintf(&b, " (%s)", s.Request.Janus.JSEP)
			}
			if len(s.Expect) > 0 {
				fmt.Fprintf(&b, " expects [%s]", names(s.Expect))
			}
			b.WriteString("\n")
			if r := s.Refused; r != nil {
				fmt.Fprintf(&b, "    refused %d after [%s]", r.Code, names(r.Evidence))
				if r.Hangup != nil {
					fmt.Fprintf(&b, "; waits for %s", name(r.Hangup))
				}
				if r.ClosePeer {
					b.WriteString("; closes the peer")
				}
				if r.Before != s {
					fmt.Fprintf(&b, "; before %s", name(r.Before.Request))
				}
				b.WriteString("\n")
			}
			if len(s.ClosePeers) > 0 {
				fmt.Fprintf(&b, "    closes the peers first, waits for [%s]\n", names(s.ClosePeers))
			}
		}
	}
	return b.String()
}

// TestRefusals builds plans of flows in which Janus refused a request that
// carried JSEP: a refusal the capture shows racing its handle's teardown
// is marked, with what the new run must see first, and a teardown request
// of the same client that Janus took first goes first; a refusal without
// teardown is a request like any other.
func TestRefusals(t *testing.T) {
	const (
		H, R, P = schema.HTTP, schema.Request, schema.PollEvent
		W, F    = schema.WS, schema.Frame
		out, in = schema.ToGateway, schema.ToClient
		sub     = "/janus/11/22"
	)
	offer := `{"janus":"event","session_id":11,"sender":22,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"updated"}},"jsep":{"type":"offer","sdp":"v=0"}}`
	answer := `{"janus":"message","body":{"request":"start"},"transaction":"s","jsep":{"type":"answer","sdp":"v=0"}}`
	cases := []struct {
		name string
		flow func(f *flow)
		want string
	}{{
		name: "detach_first_459",
		flow: func(f *flow) {
			f.add(H, "c1", out, R, "POST", sub, `{"janus":"message","body":{"request":"join","ptype":"subscriber","streams":[{"feed":77}]},"transaction":"j"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(H, "p", in, P, "GET", "/janus/11", offer)
			f.add(H, "p", in, P, "GET", "/janus/11", `{"janus":"hangup","session_id":11,"sender":22,"reason":"DTLS alert"}`)
			f.add(H, "c2", out, R, "POST", sub, `{"janus":"detach","transaction":"d"}`)
			f.add(H, "c1", out, R, "POST", sub, answer)
			f.add(H, "c2", in, schema.Response, "POST", sub, `{"janus":"success","session_id":11,"transaction":"d"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"error","session_id":11,"transaction":"s","error":{"code":459,"reason":"No such handle 22 in session 11"}}`)
		},
		want: `http session 11
  0 message tx=j join expects [event updated, hangup DTLS alert]
  1 detach tx=d
  2 message tx=s start (answer)
    refused 459 after [hangup DTLS alert, detach tx=d]; waits for hangup DTLS alert; closes the peer
`,
	}, {
		name: "peer_closed_469",
		flow: func(f *flow) {
			f.add(H, "c1", out, R, "POST", sub, `{"janus":"message","body":{"request":"join","ptype":"subscriber","streams":[{"feed":77}]},"transaction":"j"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(H, "p", in, P, "GET", "/janus/11", offer)
			f.add(H, "p", in, P, "GET", "/janus/11", `{"janus":"event","session_id":11,"sender":33,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","leaving":77}}}`)
			f.add(H, "c1", out, R, "POST", sub, answer)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"error","session_id":11,"transaction":"s","error":{"code":469,"reason":"Unexpected ANSWER (did we offer?)"}}`)
			f.add(H, "p", in, P, "GET", "/janus/11", `{"janus":"hangup","session_id":11,"sender":22,"reason":"DTLS alert"}`)
			f.add(H, "c1", out, R, "POST", sub, `{"janus":"detach","transaction":"d"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"success","session_id":11,"transaction":"d"}`)
		},
		want: `http session 11
  0 message tx=j join expects [event updated, event event]
  1 message tx=s start (answer) expects [hangup DTLS alert]
    refused 469 after [event event]; waits for hangup DTLS alert; closes the peer
  2 detach tx=d
`,
	}, {
		name: "no_teardown_469",
		flow: func(f *flow) {
			f.add(H, "c1", out, R, "POST", sub, `{"janus":"message","body":{"request":"join","ptype":"subscriber","streams":[{"feed":77}]},"transaction":"j"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(H, "p", in, P, "GET", "/janus/11", offer)
			f.add(H, "c1", out, R, "POST", sub, answer)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"error","session_id":11,"transaction":"s","error":{"code":469,"reason":"Unexpected ANSWER (did we offer?)"}}`)
		},
		want: `http session 11
  0 message tx=j join expects [event updated]
  1 message tx=s start (answer)
`,
	}, {
		// Sent first, refused after the detach's reply: the detach goes
		// first, each step keeping the order of its place.
		name: "answer_sent_first_459",
		flow: func(f *flow) {
			f.add(H, "c1", out, R, "POST", sub, `{"janus":"message","body":{"request":"join","ptype":"subscriber","streams":[{"feed":77}]},"transaction":"j"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(H, "p", in, P, "GET", "/janus/11", offer)
			f.add(H, "c1", out, R, "POST", sub, answer)
			f.add(H, "p", in, P, "GET", "/janus/11", `{"janus":"event","session_id":11,"sender":33,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","unpublished":77}}}`)
			f.add(H, "c2", out, R, "POST", sub, `{"janus":"detach","transaction":"d"}`)
			f.add(H, "c2", in, schema.Response, "POST", sub, `{"janus":"success","session_id":11,"transaction":"d"}`)
			f.add(H, "c1", in, schema.Response, "POST", sub, `{"janus":"error","session_id":11,"transaction":"s","error":{"code":459,"reason":"No such handle 22 in session 11"}}`)
			f.add(H, "p", in, P, "GET", "/janus/11", `{"janus":"detached","session_id":11,"sender":22}`)
		},
		want: `http session 11
  0 message tx=j join expects [event updated, event event]
  1 detach tx=d expects [detached]
  2 message tx=s start (answer)
    refused 459 after [event event, detach tx=d]; before detach tx=d
`,
	}, {
		// Over WebSocket the refusal is a frame the detach's step expected:
		// it moves with the answer.
		name: "answer_sent_first_ws",
		flow: func(f *flow) {
			f.add(W, "w", out, F, "", "", `{"janus":"message","session_id":11,"handle_id":22,"body":{"request":"join","ptype":"subscriber","feed":77},"transaction":"j"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(W, "w", in, F, "", "", offer)
			f.add(W, "w", out, F, "", "", `{"janus":"message","session_id":11,"handle_id":22,"body":{"request":"start"},"transaction":"s","jsep":{"type":"answer","sdp":"v=0"}}`)
			f.add(W, "w", in, F, "", "", `{"janus":"event","session_id":11,"sender":33,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","unpublished":77}}}`)
			f.add(W, "w", out, F, "", "", `{"janus":"detach","session_id":11,"handle_id":22,"transaction":"d"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"success","session_id":11,"transaction":"d"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"error","session_id":11,"transaction":"s","error":{"code":459,"reason":"No such handle 22 in session 11"}}`)
		},
		want: `w
  0 message tx=j join expects [ack tx=j, event updated, event event]
  1 detach tx=d expects [success tx=d]
  2 message tx=s start (answer) expects [error tx=s 459]
    refused 459 after [event event, detach tx=d]; before detach tx=d
`,
	}, {
		// The videoroom demo with simulcast over WebSocket: the page sent
		// its answer and then its detach; Janus hung the PeerConnection up
		// (the page's DTLS alert), refused the answer with 469 and only
		// then answered the detach. Janus took the answer first: it stays
		// before the detach, after the peer closed and the hangup came,
		// and the detach waits for the refusal.
		name: "answer_taken_first_469_ws",
		flow: func(f *flow) {
			f.add(W, "w", out, F, "", "", `{"janus":"message","session_id":11,"handle_id":22,"body":{"request":"join","ptype":"subscriber","feed":77},"transaction":"j"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"ack","session_id":11,"transaction":"j"}`)
			f.add(W, "w", in, F, "", "", offer)
			f.add(W, "w", in, F, "", "", `{"janus":"event","session_id":11,"sender":33,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","unpublished":77}}}`)
			f.add(W, "w", out, F, "", "", `{"janus":"message","session_id":11,"handle_id":22,"body":{"request":"start"},"transaction":"s","jsep":{"type":"answer","sdp":"v=0"}}`)
			f.add(W, "w", out, F, "", "", `{"janus":"detach","session_id":11,"handle_id":22,"transaction":"d"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"hangup","session_id":11,"sender":22,"reason":"DTLS alert"}`)
			f.add(W, "w", in, F, "", "", `{"janus":"error","session_id":11,"transaction":"s","error":{"code":469,"reason":"Unexpected ANSWER (did we offer?)"}}`)
			f.add(W, "w", in, F, "", "", `{"janus":"success","session_id":11,"transaction":"d"}`)
		},
		want: `w
  0 message tx=j join expects [ack tx=j, event updated, event event]
  1 message tx=s start (answer) expects [error tx=s 469]
    refused 469 after [event event, detach tx=d, hangup DTLS alert]; waits for hangup DTLS alert; closes the peer
  2 detach tx=d expects [hangup DTLS alert, success tx=d]
    closes the peers first, waits for [hangup DTLS alert]
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &flow{t: time.Unix(1700000000, 0), last: map[string]*schema.Event{}}
			tc.flow(f)
			p, err := plan.Build(f.evs)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(p); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestRefusalsInCaptures describes the plans of the real captures of the
// race (the videoroom demo over REST: replayer/testdata/flows) and compares
// them with testdata/refusals/NAME.golden (go test -update rewrites them).
// videoroom_detach_closes_ws has no refusal: the demo page closed its
// subscriber's PeerConnection as it detached it, and Janus said "DTLS
// alert" while the detach was in flight.
func TestRefusalsInCaptures(t *testing.T) {
	for _, name := range []string{"videoroom_answer_race_459_http", "videoroom_answer_race_459_answer_first_http",
		"videoroom_answer_race_465_http", "videoroom_answer_race_469_http", "videoroom_detach_closes_ws"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "flows", name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var evs []*schema.Event
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				ev, err := schema.Decode(sc.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			p, err := plan.Build(evs)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("refusals", name+".golden"), []byte(describe(p)))
		})
	}
}
