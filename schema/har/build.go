package har

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/janustap/janustap/schema"
)

// Options control Build. The zero value is ready to use.
type Options struct {
	// Host is the host of every request URL. "" means the gateway name of
	// each entry when it is a valid host name, else "janus".
	Host string
	// CreatorVersion is log.creator.version. "" means "devel".
	CreatorVersion string
}

// Build returns the HAR document of evs: one entry per HTTP exchange and one
// per WebSocket connection (see the package documentation), ordered by the
// time they started. Events may come in any order; within an exchange or
// connection, their order is kept. Build never fails: what it cannot place
// is counted in the log's comment.
func Build(evs []*schema.Event, opts Options) *HAR {
	b := &builder{opts: opts, exchanges: map[string]*exchange{}, conns: map[string]*wsConn{}}
	for _, ev := range evs {
		if ev != nil {
			b.add(ev)
		}
	}
	version := opts.CreatorVersion
	if version == "" {
		version = "devel"
	}
	doc := &HAR{Log: Log{Version: Version, Creator: Creator{Name: "janustap", Version: version}, Entries: []Entry{}}}
	type sortable struct {
		at    time.Time
		order int
		entry Entry
	}
	var all []sortable
	for _, x := range b.xorder {
		all = append(all, sortable{x.start(), x.order, b.httpEntry(x)})
	}
	for _, c := range b.corder {
		all = append(all, sortable{c.start(), c.order, b.wsEntry(c)})
	}
	slices.SortStableFunc(all, func(a, b sortable) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	for _, s := range all {
		doc.Log.Entries = append(doc.Log.Entries, s.entry)
	}
	doc.Log.JanusEvents = b.janus
	switch {
	case b.unattached == 1:
		doc.Log.Comment = "1 event belongs to no HTTP exchange or WebSocket connection and is not in this file"
	case b.unattached > 1:
		doc.Log.Comment = fmt.Sprintf("%d events belong to no HTTP exchange or WebSocket connection and are not in this file", b.unattached)
	}
	return doc
}

// exchange is one HTTP request and what answered it.
type exchange struct {
	order int
	req   *schema.Event   // nil when the capture does not hold it
	first *schema.Event   // the first event seen
	resp  *schema.Event   // the Response
	polls []*schema.Event // the PollEvents of a long poll
	fail  *schema.Event   // a Failure of the tap
	ids   []string
}

func (x *exchange) start() time.Time {
	if x.req != nil {
		return x.req.Time
	}
	return x.first.Time
}

// wsConn is one WebSocket connection.
type wsConn struct {
	order  int
	open   *schema.Event // nil when the capture does not hold it
	first  *schema.Event
	msgs   []*message
	byID   map[string]*message // by the id of the message's first event
	closes []*schema.Event
	fails  []*schema.Event
	frames int
	ids    []string
}

func (c *wsConn) start() time.Time {
	if c.open != nil {
		return c.open.Time
	}
	return c.first.Time
}

// message is one WebSocket message: the Frame events of its JSON values.
type message struct{ parts []*schema.Event }

type builder struct {
	opts       Options
	exchanges  map[string]*exchange // by request id
	xorder     []*exchange
	conns      map[string]*wsConn // by gateway, tap and conn
	corder     []*wsConn
	order      int
	unattached int
	janus      []JanusEvent
}

func (b *builder) exchange(id string, ev *schema.Event) *exchange {
	x, ok := b.exchanges[id]
	if !ok {
		b.order++
		x = &exchange{order: b.order, first: ev}
		b.exchanges[id] = x
		b.xorder = append(b.xorder, x)
	}
	x.ids = append(x.ids, ev.ID)
	return x
}

func (b *builder) conn(ev *schema.Event) *wsConn {
	key := ev.Gateway + "\x00" + ev.Tap + "\x00" + ev.Conn
	c, ok := b.conns[key]
	if !ok {
		b.order++
		c = &wsConn{order: b.order, first: ev, byID: map[string]*message{}}
		b.conns[key] = c
		b.corder = append(b.corder, c)
	}
	c.ids = append(c.ids, ev.ID)
	return c
}

func (b *builder) add(ev *schema.Event) {
	switch ev.Kind {
	case schema.Request:
		x := b.exchange(ev.ID, ev)
		if x.req == nil {
			x.req = ev
		}
	case schema.Response, schema.PollEvent:
		if ev.Parent == "" {
			b.unattached++
			return
		}
		x := b.exchange(ev.Parent, ev)
		if ev.Kind == schema.PollEvent {
			x.polls = append(x.polls, ev)
		} else if x.resp == nil {
			x.resp = ev
		}
	case schema.Failure:
		switch {
		case ev.Transport.IsWS():
			c := b.conn(ev)
			c.fails = append(c.fails, ev)
		case ev.Parent != "":
			x := b.exchange(ev.Parent, ev)
			if x.fail == nil {
				x.fail = ev
			}
		default:
			b.unattached++
		}
	case schema.Open:
		c := b.conn(ev)
		if c.open == nil {
			c.open = ev
		}
	case schema.Frame:
		c := b.conn(ev)
		c.frames++
		key := ev.ID
		if ev.Parts > 1 && ev.Part > 0 && ev.Parent != "" {
			key = ev.Parent
		}
		m, ok := c.byID[key]
		if !ok {
			m = &message{}
			c.byID[key] = m
			c.msgs = append(c.msgs, m)
		}
		m.parts = append(m.parts, ev)
	case schema.Close:
		c := b.conn(ev)
		c.closes = append(c.closes, ev)
	case schema.JanusEvent:
		raw := json.RawMessage(ev.Body)
		if ev.Truncated || !json.Valid(ev.Body) {
			raw, _ = json.Marshal(string(ev.Body))
		}
		b.janus = append(b.janus, JanusEvent{ID: ev.ID, Gateway: ev.Gateway,
			Time: ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), Type: string(ev.Direction),
			SessionID: ev.SessionID(), HandleID: ev.HandleID(), Event: raw})
	default:
		b.unattached++
	}
}

// host returns the host of the URLs of a gateway's entries.
func (b *builder) host(gateway string) string {
	switch {
	case b.opts.Host != "":
		return b.opts.Host
	case validHost(gateway):
		return gateway
	}
	return "janus"
}

// validHost reports whether s can stand as the host of a URL: letters,
// digits, dots and hyphens, in labels that neither start nor end with a
// hyphen.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// newEntry starts the entry of the events ids, from start: its connection,
// gateway and transport are src's.
func newEntry(src *schema.Event, start time.Time, ids []string, resourceType string) Entry {
	return Entry{
		StartedDateTime: isoTime(start),
		ResourceType:    resourceType,
		Connection:      src.Conn,
		Janustap:        Source{Gateway: src.Gateway, Transport: string(src.Transport), Events: ids},
	}
}

func (b *builder) httpEntry(x *exchange) Entry {
	src := cmp.Or(x.req, x.first)
	e := newEntry(src, x.start(), x.ids, "xhr")
	e.Request = b.request(src, "http")
	if x.req == nil {
		e.Request.Comment = "request not in the capture: method, path and query are those its answer repeats"
	}
	var answer *schema.Event
	switch {
	case x.resp != nil:
		answer = x.resp
		e.Response = response(x.resp, x.resp.Body, bodySize(x.resp), truncation(x.resp))
		if len(x.polls) > 0 {
			e.Response.Comment = fmt.Sprintf("%d poll events of the same request are left out", len(x.polls))
		}
	case len(x.polls) > 0:
		polls := slices.Clone(x.polls)
		slices.SortStableFunc(polls, func(a, b *schema.Event) int { return cmp.Compare(a.Part, b.Part) })
		answer = polls[0]
		batch := len(polls) > 1
		var notes []string
		for _, p := range polls {
			batch = batch || p.Batch
			if p.Truncated {
				notes = append(notes, "element "+strconv.Itoa(p.Part)+" "+truncation(p))
			}
		}
		body := polls[0].Body
		if batch {
			var buf bytes.Buffer
			buf.WriteByte('[')
			for i, p := range polls {
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.Write(p.Body)
			}
			buf.WriteByte(']')
			body = buf.Bytes()
			notes = append([]string{fmt.Sprintf("long-poll answer rebuilt from %d poll events: the elements as captured, joined without Janus's white space", len(polls))}, notes...)
		}
		size := len(body)
		if !batch && polls[0].BodySize > 0 {
			size = polls[0].BodySize
		}
		e.Response = response(polls[0], body, size, strings.Join(notes, "; "))
	default:
		e.Response = Response{HTTPVersion: "HTTP/1.1", Cookies: []NameValue{}, Headers: []NameValue{},
			Content: Content{MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1}
		if x.fail != nil {
			answer = x.fail
			e.Response.Error = x.fail.Error
		} else {
			e.Response.Error = "no answer in the capture"
		}
	}
	if x.fail != nil && e.Response.Error == "" {
		e.Comment = "the tap also recorded a failure: " + x.fail.Error
	}
	if x.req != nil && answer != nil {
		e.Time = latency(x.req, answer)
	}
	e.Timings = Timings{Blocked: -1, DNS: -1, Connect: -1, Send: 0, Wait: e.Time, Receive: 0, SSL: -1}
	return e
}

// latency returns the time from req to ev in milliseconds: by the monotonic
// clock when one tap saw both, else by the wall clock; never negative.
func latency(req, ev *schema.Event) float64 {
	var d time.Duration
	if req.Tap != "" && req.Tap == ev.Tap {
		d = time.Duration(ev.Mono - req.Mono)
	} else {
		d = ev.Time.Sub(req.Time)
	}
	if d < 0 {
		return 0
	}
	return millis(d)
}

// millis returns d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// request returns the HAR request of ev, a Request event or, without one,
// the answer that repeats its method, path and query.
func (b *builder) request(ev *schema.Event, scheme string) Request {
	method := ev.Method
	if method == "" {
		method = "GET"
	}
	path := ev.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := scheme + "://" + b.host(ev.Gateway) + path
	if ev.Query != "" {
		u += "?" + ev.Query
	}
	r := Request{Method: method, URL: u, HTTPVersion: "HTTP/1.1", Cookies: []NameValue{},
		Headers: headers(ev.Header), QueryString: query(ev.Query), HeadersSize: -1}
	if ev.Kind == schema.Request && len(ev.Body) > 0 {
		text, enc := bodyText(ev.Body)
		r.PostData = &PostData{MimeType: mimeType(ev.Header, ev.Body), Text: text, Encoding: enc, Comment: truncation(ev)}
		r.BodySize = int64(bodySize(ev))
	}
	return r
}

func bodySize(ev *schema.Event) int {
	if ev.BodySize > 0 {
		return ev.BodySize
	}
	return len(ev.Body)
}

// response returns the HAR response of ev with body.
func response(ev *schema.Event, body []byte, size int, comment string) Response {
	text, enc := bodyText(body)
	r := Response{
		Status:      ev.Status,
		StatusText:  http.StatusText(ev.Status),
		HTTPVersion: "HTTP/1.1",
		Cookies:     []NameValue{},
		Headers:     headers(ev.Header),
		Content:     Content{Size: int64(size), MimeType: mimeType(ev.Header, body), Text: text, Encoding: enc, Comment: comment},
		RedirectURL: ev.Header["Location"],
		HeadersSize: -1,
		BodySize:    int64(size),
	}
	if len(body) == 0 {
		r.BodySize = 0
	}
	return r
}

// truncation says how a truncated body was cut, or "".
func truncation(ev *schema.Event) string {
	if !ev.Truncated {
		return ""
	}
	return fmt.Sprintf("truncated by the tap: the first %d of %d bytes (sha256 %s)", len(ev.Body), ev.BodySize, ev.BodySHA256)
}

// bodyText returns body as HAR text: itself when it is UTF-8, else base64.
func bodyText(body []byte) (text, encoding string) {
	if utf8.Valid(body) {
		return string(body), ""
	}
	return base64.StdEncoding.EncodeToString(body), "base64"
}

func mimeType(h map[string]string, body []byte) string {
	if ct := h["Content-Type"]; ct != "" {
		return ct
	}
	switch {
	case len(body) == 0:
		return "x-unknown"
	case json.Valid(body):
		return "application/json"
	case utf8.Valid(body):
		return "text/plain"
	}
	return "application/octet-stream"
}

// headers returns h sorted by name.
func headers(h map[string]string) []NameValue {
	out := make([]NameValue, 0, len(h))
	for k, v := range h {
		out = append(out, NameValue{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b NameValue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// query returns the parameters of a raw query in their order, unescaped
// when they can be.
func query(q string) []NameValue {
	out := []NameValue{}
	if q == "" {
		return out
	}
	for p := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(p, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, NameValue{Name: k, Value: v})
	}
	return out
}

func (b *builder) wsEntry(c *wsConn) Entry {
	src := cmp.Or(c.open, c.first)
	e := newEntry(src, c.start(), c.ids, "websocket")
	e.WebSocketMessages = []WebSocketMessage{}
	e.Timings = Timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}
	var notes []string
	if c.open != nil {
		e.Request = b.request(c.open, "ws")
	} else {
		e.Request = b.request(&schema.Event{Gateway: src.Gateway, Method: "GET", Path: "/"}, "ws")
		notes = append(notes, "connection opened before the capture")
	}
	e.Response = Response{Status: http.StatusSwitchingProtocols, StatusText: http.StatusText(http.StatusSwitchingProtocols),
		HTTPVersion: "HTTP/1.1", Cookies: []NameValue{}, Headers: []NameValue{}, Content: Content{MimeType: "x-unknown"},
		HeadersSize: -1}
	if c.open != nil && c.open.Subprotocol != "" {
		e.Response.Headers = append(e.Response.Headers, NameValue{Name: "Sec-WebSocket-Protocol", Value: c.open.Subprotocol})
	}
	for _, f := range c.fails {
		if e.Response.Error == "" {
			e.Response.Error = f.Error
		} else {
			e.Response.Error += "; " + f.Error
		}
	}
	if len(c.fails) > 0 && c.frames == 0 && len(c.closes) == 0 {
		// The upgrade itself failed: the client got no 101.
		e.Response.Status, e.Response.StatusText = 0, ""
		e.Response.Headers = []NameValue{}
	}
	for _, m := range c.msgs {
		parts := slices.Clone(m.parts)
		slices.SortStableFunc(parts, func(a, b *schema.Event) int { return cmp.Compare(a.Part, b.Part) })
		first := parts[0]
		var data []byte
		for _, p := range parts {
			data = append(data, p.Body...)
			if p.Truncated {
				notes = append(notes, "message at "+isoTime(first.Time)+" "+truncation(p))
			}
		}
		msg := WebSocketMessage{Type: "receive", Time: float64(first.Time.UnixMicro()) / 1e6, Opcode: 1, Data: string(data)}
		if first.Direction == schema.ToGateway {
			msg.Type = "send"
		}
		if first.Binary {
			msg.Opcode = 2
			msg.Data = base64.StdEncoding.EncodeToString(data)
		}
		e.WebSocketMessages = append(e.WebSocketMessages, msg)
	}
	for _, cl := range c.closes {
		by := "the gateway"
		if cl.Direction == schema.ToGateway {
			by = "the client"
		}
		note := "closed by " + by
		if cl.CloseCode != 0 {
			note += " with " + strconv.Itoa(cl.CloseCode)
		}
		if cl.CloseText != "" {
			note += " " + strconv.Quote(cl.CloseText)
		}
		if cl.Error != "" {
			note += " (" + cl.Error + ")"
		}
		notes = append(notes, note+" at "+isoTime(cl.Time))
	}
	e.Comment = strings.Join(notes, "; ")
	return e
}
