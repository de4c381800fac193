package tap

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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

	if r.Method == http.MethodConnect {
		// Janus answers a CONNECT with a Janus error and no framing, and
		// keeps the connection: an answer whose end only the connection's
		// close would mark, and a 2xx that makes the connection a tunnel.
		// The tap gives the same answer itself, framed, and closes.
		ev.FillPathIDs()
		t.emit(ev)
		t.failStatus(c, tr, ev, http.StatusOK, "CONNECT is not forwarded: answered by the tap as Janus answers it (error 450)")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.Header().Set("Connection", "close")
		writeJanusError(w, http.StatusOK, 450, "Unsupported method CONNECT")
		return
	}
	if r.ContentLength > t.cfg.MaxBody {
		// Refused before it is read: no 100 Continue, nothing held.
		ev.FillPathIDs()
		ev.BodySize = int(min(r.ContentLength, math.MaxInt32))
		t.emit(ev)
		t.tooLarge.Add(1)
		msg := fmt.Sprintf("request body over the tap's limit of %d bytes (Content-Length: %d)", t.cfg.MaxBody, r.ContentLength)
		t.failStatus(c, tr, ev, http.StatusRequestEntityTooLarge, msg)
		w.Header().Set("Connection", "close")
		writeJanusError(w, http.StatusRequestEntityTooLarge, 454, "janustap: "+msg)
		return
	}
	held, ok := t.reserve(max(r.ContentLength, 0))
	defer t.release(&held)
	if !ok {
		t.refuseBusy(w, c, tr, ev)
		return
	}

	body, err := t.readBody(r.Body, r.ContentLength, &held)
	t.setBody(ev, body)
	ev.FillPathIDs()
	switch {
	case errors.Is(err, errTooLarge):
		t.emit(ev)
		t.tooLarge.Add(1)
		msg := fmt.Sprintf("request body over the tap's limit of %d bytes", t.cfg.MaxBody)
		t.failStatus(c, tr, ev, http.StatusRequestEntityTooLarge, msg)
		writeJanusError(w, http.StatusRequestEntityTooLarge, 454, "janustap: "+msg)
		return
	case errors.Is(err, errBusy):
		t.refuseBusy(w, c, tr, ev)
		return
	case errors.Is(err, errBodyTimeout):
		t.emit(ev)
		t.bodyTOs.Add(1)
		msg := err.Error()
		t.failStatus(c, tr, ev, http.StatusRequestTimeout, msg)
		w.Header().Set("Connection", "close")
		writeJanusError(w, http.StatusRequestTimeout, 454, "janustap: "+msg)
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
		t.proxyError(w, r, up, x, err)
		return
	}
	answer, err := bodyBytes(resp)
	resp.Body.Close()
	if err != nil {
		t.proxyError(w, r, up, x, fmt.Errorf("read answer of %s %s: %w", r.Method, r.URL.Path, err))
		return
	}
	t.recordResponse(x, resp, answer)

	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	removeHopHeaders(h)
	switch {
	case r.Method == http.MethodHead && resp.ContentLength >= 0:
		// The length of the body a GET would have had, as Janus said.
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
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

// errBusy marks a request refused because the bodies in flight would go
// over Config.MaxInflight.
var errBusy = errors.New("too many request body bytes in flight")

// reserve takes n bytes of the MaxInflight budget; ok is false when they
// would take it over the cap (then nothing is taken). held is what the
// caller gives back with release.
func (t *Tap) reserve(n int64) (held int64, ok bool) {
	if t.cfg.MaxInflight < 0 {
		return 0, true
	}
	if t.inflight.Add(n) > t.cfg.MaxInflight && n > 0 {
		t.inflight.Add(-n)
		return 0, false
	}
	return n, true
}

// release gives back what *held holds of the MaxInflight budget.
func (t *Tap) release(held *int64) {
	if *held != 0 {
		t.inflight.Add(-*held)
		*held = 0
	}
}

// refuseBusy answers a request over MaxInflight: 503, recorded.
func (t *Tap) refuseBusy(w http.ResponseWriter, c *conn, tr schema.Transport, ev *schema.Event) {
	t.emit(ev)
	t.busy.Add(1)
	msg := fmt.Sprintf("request bodies in flight over the tap's limit of %d bytes", t.cfg.MaxInflight)
	t.failStatus(c, tr, ev, http.StatusServiceUnavailable, msg)
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "1")
	writeJanusError(w, http.StatusServiceUnavailable, 490, "janustap: "+msg)
}

// readBody reads all of body, up to MaxBody bytes: length bytes (and the
// end of the body) when length is known, the MaxInflight budget *held
// already covering them; as they come otherwise, taking budget as the body
// grows.
func (t *Tap) readBody(body io.Reader, length int64, held *int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	if length >= 0 {
		b := make([]byte, length)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		// Read to the end, so that the server sees the body is whole.
		if n, err := body.Read(make([]byte, 1)); n != 0 || err != io.EOF && err != nil {
			return b, cmp.Or(err, errors.New("request body longer than its Content-Length"))
		}
		return b, nil
	}
	// The buffer doubles as the body comes; every buffer allocated is
	// counted against MaxInflight until the request ends (the ones
	// outgrown are garbage, but memory until collected).
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			need := len(b) + n
			if int64(need) > t.cfg.MaxBody {
				return b, errTooLarge
			}
			if need > cap(b) {
				size := min(max(2*cap(b), need, 64<<10), int(t.cfg.MaxBody))
				more, ok := t.reserve(int64(size))
				if !ok {
					return b, errBusy
				}
				*held += more
				b = append(make([]byte, 0, size), b...)
			}
			b = append(b, buf[:n]...)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
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
func (t *Tap) proxyError(w http.ResponseWriter, r *http.Request, up *url.URL, x *exchange, err error) {
	if r.Context().Err() != nil {
		t.fail(x.conn, x.tr, x.req, "client went away before the gateway answered")
		// Answer nothing, as Janus would: returning would make net/http
		// send an empty 200.
		panic(http.ErrAbortHandler)
	}
	if errors.Is(err, errNoAnswer) && t.reachable(r.Context(), up) {
		// Janus closed the connection without a word, and is up: that was
		// its answer (to a POST without a payload), and the
		// tap gives the client the same. A Janus that died while it held
		// the request is not reachable, and gets the client a 502.
		t.fail(x.conn, x.tr, x.req, fmt.Sprintf("gateway %s closed the connection without answering; so did the tap", t.cfg.Gateway))
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

// reachable reports whether the gateway at up accepts a connection now
// (within a second).
func (t *Tap) reachable(ctx context.Context, up *url.URL) bool {
	port := up.Port()
	if port == "" {
		port = "80"
		if up.Scheme == "https" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(up.Hostname(), port))
	if err != nil {
		return false
	}
	c.Close()
	return true
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
				ev.FillPathIDs()
				t.emit(ev)
			}
			return
		}
	}
	ev := t.responseEvent(x, resp, schema.Response)
	t.setBody(ev, body)
	ev.FillPathIDs()
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
