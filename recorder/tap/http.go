package tap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/janustap/janustap/schema"
)

// exchange is one HTTP request on its way through the tap.
type exchange struct {
	conn *conn
	tr   schema.Transport
	req  *schema.Event
	poll bool // a long-poll GET on a session
}

// errTooLarge marks a request body over Config.MaxBody.
var errTooLarge = errors.New("request body too large")

// serveHTTP records the request, forwards it, records the gateway's answer
// and writes it back.
func (t *Tap) serveHTTP(w http.ResponseWriter, r *http.Request, tr schema.Transport, up *url.URL) {
	c := t.connOf(r.Context())
	ev := t.newEvent(c, tr, schema.ToGateway, schema.Request)
	t.setRequest(ev, r)

	body, err := readBody(r.Body, t.cfg.MaxBody)
	t.setBody(ev, body)
	fillPathIDs(ev)
	switch {
	case errors.Is(err, errTooLarge):
		t.emit(ev)
		msg := fmt.Sprintf("request body over the tap's limit of %d bytes", t.cfg.MaxBody)
		t.fail(c, tr, ev, msg)
		writeJanusError(w, http.StatusRequestEntityTooLarge, 454, "janustap: "+msg)
		return
	case err != nil: // the client went away while sending
		t.emit(ev)
		t.fail(c, tr, ev, "reading request body: "+err.Error())
		return
	}
	t.emit(ev) // spooled before it is forwarded

	base, session, handle := schema.ParsePath(r.URL.Path)
	x := &exchange{conn: c, tr: tr, req: ev,
		poll: r.Method == http.MethodGet && tr == schema.HTTP && session != 0 && handle == 0 && base != "" && !strings.HasSuffix(r.URL.Path, "/")}
	t.forward(w, r, up, x, body)
}

// forward sends the request to the gateway at up with its path and query
// as the client sent them, records the answer, and writes it back.
//
// Both bodies are already whole in memory (they are recorded), so this is
// simpler than httputil.ReverseProxy and writes the answer in one piece:
// the reverse proxy flushes a chunked answer as it copies, which costs the
// client a second read for the final chunk. Hop-by-hop headers are dropped
// both ways (RFC 9110, section 7.6.1); no X-Forwarded-* or Via headers are
// added, so Janus sees what it would have seen. The framing of the answer
// follows the gateway's: chunked when Janus chunked it, Content-Length when
// it sent one.
func (t *Tap) forward(w http.ResponseWriter, r *http.Request, up *url.URL, x *exchange, body []byte) {
	var resp *http.Response
	var err error
	if ut, ok := t.transport.(*upstreamTransport); ok && up.Scheme == "http" {
		resp, err = ut.plain.forward(r.Context(), up.Host, r, body)
	} else {
		resp, err = t.transport.RoundTrip(outRequest(r, up, body))
	}
	if err != nil {
		t.proxyError(w, r, x, err)
		return
	}
	answer, err := bodyBytes(resp)
	resp.Body.Close()
	if err != nil {
		t.proxyError(w, r, x, fmt.Errorf("read answer of %s %s: %w", r.Method, r.URL.Path, err))
		return
	}
	t.recordResponse(x, resp, answer)

	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	removeHopHeaders(h)
	switch {
	case resp.ContentLength >= 0:
		h["Content-Length"] = []string{strconv.Itoa(len(answer))}
	case slices.Contains(resp.TransferEncoding, "chunked"):
		h["Transfer-Encoding"] = []string{"chunked"}
	}
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := w.Write(answer); err != nil {
		return // the client went away; the answer is recorded
	}
	for k, v := range resp.Trailer {
		h[k] = v
	}
}

// outRequest makes the request that forwards r to the gateway at up with
// body, for a Transport other than the tap's own pool (which writes it from
// r directly: see writeForwarded).
func outRequest(r *http.Request, up *url.URL, body []byte) *http.Request {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	out := (&http.Request{Method: r.Method, Header: h, Host: up.Host}).WithContext(r.Context())
	out.URL = &url.URL{Scheme: up.Scheme, Host: up.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	removeHopHeaders(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // send none rather than Go's
	}
	if len(body) > 0 || r.ContentLength > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
	}
	return out
}

// hopHeaders are the headers that concern one connection only, and are not
// forwarded (RFC 9110, section 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders removes the hop-by-hop headers from h, and those that its
// Connection header names.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// readBody reads all of body, up to max bytes.
func readBody(body io.Reader, max int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > max {
		return b, errTooLarge
	}
	return b, nil
}

// fillPathIDs takes the session and handle from the path when the body does
// not name them: REST clients put them in the URL.
func fillPathIDs(ev *schema.Event) {
	_, session, handle := schema.ParsePath(ev.Path)
	if session == 0 && handle == 0 {
		return
	}
	if ev.Janus == nil {
		ev.Janus = &schema.Janus{}
	}
	if ev.Janus.SessionID == 0 {
		ev.Janus.SessionID = session
	}
	if ev.Janus.HandleID == 0 && ev.Direction == schema.ToGateway {
		ev.Janus.HandleID = handle
	}
}

// writeJanusError answers with an HTTP status and a Janus error body, so
// that a Janus client reads the reason where it looks for one.
func writeJanusError(w http.ResponseWriter, status, code int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\n   \"janus\": \"error\",\n   \"error\": {\n      \"code\": %d,\n      \"reason\": %q\n   }\n}", code, reason)
}

// proxyError answers a request that could not be forwarded, and records why.
func (t *Tap) proxyError(w http.ResponseWriter, r *http.Request, x *exchange, err error) {
	if r.Context().Err() != nil {
		t.fail(x.conn, x.tr, x.req, "client went away before the gateway answered")
		// Answer nothing, as Janus would: returning would make net/http
		// send an empty 200.
		panic(http.ErrAbortHandler)
	}
	msg := fmt.Sprintf("gateway %s unreachable: %v", t.cfg.Gateway, err)
	t.fail(x.conn, x.tr, x.req, msg)
	t.logger.Warn("upstream unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "janustap: "+msg+"\n")
}

// recordResponse emits the events of one HTTP answer: one Response, or for
// a long-poll answer one PollEvent per Janus message it carries.
func (t *Tap) recordResponse(x *exchange, resp *http.Response, body []byte) {
	if x.poll && resp.StatusCode == http.StatusOK && len(body) > 0 {
		elems, batch, err := schema.SplitArray(body)
		if err == nil && len(elems) > 0 {
			for i, e := range elems {
				ev := t.responseEvent(x, resp, schema.PollEvent)
				if batch || len(elems) > 1 {
					ev.Part, ev.Parts, ev.Batch = i, len(elems), batch
				}
				t.setBody(ev, e)
				fillPathIDs(ev)
				t.emit(ev)
			}
			return
		}
	}
	ev := t.responseEvent(x, resp, schema.Response)
	t.setBody(ev, body)
	fillPathIDs(ev)
	t.emit(ev)
}

func (t *Tap) responseEvent(x *exchange, resp *http.Response, kind schema.Kind) *schema.Event {
	ev := t.newEvent(x.conn, x.tr, schema.ToClient, kind)
	ev.Parent = x.req.ID
	ev.Method, ev.Path, ev.Query = x.req.Method, x.req.Path, x.req.Query
	ev.Status = resp.StatusCode
	ev.Header = schema.KeepHeaders(resp.Header)
	if resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 {
		if ev.Header == nil {
			ev.Header = map[string]string{}
		}
		ev.Header["Transfer-Encoding"] = "chunked"
	}
	return ev
}
