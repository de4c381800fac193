package replayer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// UsageError says why a replay cannot start with the targets it was given:
// a transport the flow needs has no target, or Janus does not answer on
// it. Nothing of the flow was sent.
type UsageError struct {
	Transport schema.Transport // the transport concerned
	Flag      string           // the flag to set, such as "--target-ws"
	Msg       string           // one line
}

func (e *UsageError) Error() string { return e.Msg }

// flagOf names the command-line flag of each transport's target.
var flagOf = map[schema.Transport]string{
	schema.HTTP: "--target", schema.WS: "--target-ws",
	schema.AdminHTTP: "--target-admin", schema.AdminWS: "--target-admin-ws",
}

var exampleOf = map[schema.Transport]string{
	schema.HTTP: "http://127.0.0.1:8088/janus", schema.WS: "ws://127.0.0.1:8188",
	schema.AdminHTTP: "http://127.0.0.1:7088/admin", schema.AdminWS: "ws://127.0.0.1:7188",
}

// Transports returns the transports a replay of p sends on: each client's
// own, or force for the Janus API when it is set.
func Transports(p *plan.Plan, force schema.Transport) []schema.Transport {
	var out []schema.Transport
	seen := map[schema.Transport]bool{}
	for _, c := range p.Clients {
		tr := c.Transport
		if force != "" && !tr.IsAdmin() {
			tr = force
		}
		if !seen[tr] {
			seen[tr] = true
			out = append(out, tr)
		}
	}
	return out
}

func urlOf(t drive.Target, tr schema.Transport) string {
	switch tr {
	case schema.WS:
		return t.WS
	case schema.AdminHTTP:
		return t.AdminHTTP
	case schema.AdminWS:
		return t.AdminWS
	}
	return t.HTTP
}

// Check makes sure the replay of evs with opts can start: every transport
// the flow is played on has a target of the right scheme, and Janus answers
// there (a WebSocket that takes the Janus subprotocol and answers an info
// request; an HTTP API that answers with a Janus message). It sends nothing
// of the flow. A problem is a *UsageError of one line saying what to pass.
func Check(ctx context.Context, evs []*schema.Event, opts Options) error {
	p, err := plan.Build(evs)
	if err != nil {
		return err
	}
	for _, tr := range Transports(p, opts.Transport) {
		u := urlOf(opts.Target, tr)
		flag := flagOf[tr]
		if u == "" {
			return &UsageError{Transport: tr, Flag: flag, Msg: fmt.Sprintf("the flow is replayed over %s but %s is not set: pass %s %s (Janus's %s)", tr, flag, flag, exampleOf[tr], describeTransport(tr))}
		}
		ws := strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://")
		if tr.IsWS() != ws {
			return &UsageError{Transport: tr, Flag: flag, Msg: fmt.Sprintf("%s %s is not a %s URL: pass %s %s", flag, u, describeTransport(tr), flag, exampleOf[tr])}
		}
		if err := probe(ctx, tr, u); err != nil {
			return &UsageError{Transport: tr, Flag: flag, Msg: fmt.Sprintf("%s %s: Janus does not answer there (%v): pass %s with the URL of Janus's %s, such as %s", flag, u, err, flag, describeTransport(tr), exampleOf[tr])}
		}
	}
	return nil
}

func describeTransport(tr schema.Transport) string {
	switch tr {
	case schema.WS:
		return "WebSocket API"
	case schema.AdminHTTP:
		return "admin API over HTTP"
	case schema.AdminWS:
		return "admin API over WebSocket"
	}
	return "HTTP API"
}

// probeTimeout bounds each probe: a Janus on loopback answers in
// milliseconds.
const probeTimeout = 5 * time.Second

// probe asks Janus for its info (the Janus API) or a ping (admin API) and
// wants a Janus message back, whatever it says (an error about a missing
// secret is still Janus answering).
func probe(ctx context.Context, tr schema.Transport, u string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	verb := "info"
	if tr.IsAdmin() {
		verb = "ping"
	}
	body := []byte(`{"janus":"` + verb + `","transaction":"janustap-check"}`)
	var got []byte
	if tr.IsWS() {
		proto := janus.Protocol
		if tr.IsAdmin() {
			proto = janus.AdminProtocol
		}
		c, err := janus.DialWS(ctx, u, proto)
		if err != nil {
			return errors.Unwrap(err)
		}
		defer c.Close()
		if c.Conn().Subprotocol() != proto {
			return fmt.Errorf("the server did not take subprotocol %s", proto)
		}
		r, err := c.Do(ctx, body, 0, 0)
		if err != nil {
			return err
		}
		got = r.Body
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Do(req)
		if err != nil {
			var ue interface{ Unwrap() error }
			if errors.As(err, &ue) {
				return ue.Unwrap()
			}
			return err
		}
		defer resp.Body.Close()
		got, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		if j, err := schema.ParseJanus(got); err != nil || j.Janus == "" {
			return fmt.Errorf("HTTP %d, not a Janus answer", resp.StatusCode)
		}
		return nil
	}
	if j, err := schema.ParseJanus(got); err != nil || j.Janus == "" {
		return fmt.Errorf("not a Janus answer: %.80q", got)
	}
	return nil
}
