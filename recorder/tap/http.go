package tap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
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

type exchangeKey struct{}

// errTooLarge marks a request body over Config.MaxBody.
var errTooLarge = errors.New("request body too large")

// serveHTTP records the request, then hands it to the reverse proxy, whose
// transport records the response before it is written back.
func (t *Tap) serveHTTP(w http.ResponseWriter, r *http.Request, tr schema.Transport) {
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

	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	base, session, handle := schema.ParsePath(r.URL.Path)
	x := &exchange{conn: c, tr: tr, req: ev,
		poll: r.Method == http.MethodGet && tr == schema.HTTP && session != 0 && handle == 0 && base != "" && !strings.HasSuffix(r.URL.Path, "/")}
	t.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
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

func (t *Tap) newReverseProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			x := pr.In.Context().Value(exchangeKey{}).(*exchange)
			up := t.janusHTTP
			if x.tr == schema.AdminHTTP {
				up = t.adminHTTP
			}
			pr.Out.URL.Scheme = up.Scheme
			pr.Out.URL.Host = up.Host
			pr.Out.Host = up.Host
			// The path and query go through as the client sent them; no
			// X-Forwarded-* headers are added, so Janus sees what it would
			// have seen.
		},
		Transport:     &recordingTransport{t: t, next: transport},
		FlushInterval: -1,
		ErrorHandler:  t.proxyError,
	}
}

// proxyError answers a request that could not be forwarded, and records why.
func (t *Tap) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x := r.Context().Value(exchangeKey{}).(*exchange)
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

// recordingTransport records the gateway's answer before the reverse proxy
// writes it to the client.
type recordingTransport struct {
	t    *Tap
	next http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := req.Context().Value(exchangeKey{}).(*exchange)
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	rt.t.recordResponse(x, resp, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
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
