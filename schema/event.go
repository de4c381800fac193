package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Version is the newest version of the event encoding this package reads
// and writes. Decode accepts events up to this version and refuses newer
// ones with ErrUnknownVersion. Version 2 added JanusEvent; Encode writes the
// events of the kinds version 1 knows as version 1 (see VersionOf), so that
// old readers still read them.
const Version = EvhVersion

// Transport says which Janus API and transport a message used.
type Transport string

// The transports a tap captures.
const (
	HTTP      Transport = "http"       // Janus API over HTTP (REST and long-poll)
	WS        Transport = "ws"         // Janus API over WebSocket, subprotocol janus-protocol
	AdminHTTP Transport = "admin-http" // admin API over HTTP
	AdminWS   Transport = "admin-ws"   // admin API over WebSocket, subprotocol janus-admin-protocol
)

// Transports lists every transport, in a stable order.
var Transports = []Transport{HTTP, WS, AdminHTTP, AdminWS}

// IsWS reports whether t is a WebSocket transport.
func (t Transport) IsWS() bool { return t == WS || t == AdminWS }

// IsAdmin reports whether t carries the admin API.
func (t Transport) IsAdmin() bool { return t == AdminHTTP || t == AdminWS }

// Direction says which way a message went.
type Direction string

// The two directions. They are short because they are part of the subject.
const (
	ToGateway Direction = "c2g" // client → gateway
	ToClient  Direction = "g2c" // gateway → client
)

// Kind says what a message was.
type Kind string

// The kinds of event.
const (
	// Request is an HTTP request from the client: a POST with its body, a
	// long-poll GET, GET /info or an OPTIONS preflight.
	Request Kind = "request"
	// Response is the gateway's HTTP answer to a Request, except for a
	// long-poll answer holding Janus messages, which becomes PollEvents.
	Response Kind = "response"
	// PollEvent is one Janus message delivered by a long-poll GET. A poll
	// answered with an array (maxev ≥ 2) gives one PollEvent per element,
	// all with Parent set to the poll's Request.
	PollEvent Kind = "poll-event"
	// Frame is one Janus message in a WebSocket data frame. A frame holding
	// several JSON objects gives one Frame event per object, linked by
	// Parent to the first.
	Frame Kind = "frame"
	// Open is a WebSocket connection accepted by the tap and connected
	// upstream.
	Open Kind = "open"
	// Close is the end of a WebSocket connection, with its close code.
	Close Kind = "close"
	// Failure is something the tap did on its own because forwarding was not
	// possible: a gateway that is down or refused, a body over the limit.
	// Error says what happened.
	Failure Kind = "failure"
	// JanusEvent (evh.go) is an event Janus reported through its event
	// handlers.
)

// Event is one immutable record of a message that crossed the tap. The event
// log is made of these; everything else (the SQLite projection, replays,
// exports) is derived from it.
type Event struct {
	// V is the encoding version; Encode sets it to VersionOf(Kind).
	V int `json:"v"`
	// ID is unique and sorts by time (see IDGen). The publisher uses it as
	// the JetStream Nats-Msg-Id, so a retried publish is stored once.
	ID string `json:"id"`
	// Gateway names the Janus this tap is in front of.
	Gateway string `json:"gateway"`
	// Tap identifies the tap process that saw the message; Mono is relative
	// to its start.
	Tap string `json:"tap,omitempty"`
	// Conn identifies the client connection: one WebSocket, or one HTTP
	// exchange (for HTTP each request/response pair is its own connection
	// in this sense, since HTTP clients reuse TCP connections freely).
	Conn string `json:"conn"`
	// Seq numbers the events of one Conn from 1, in the order the tap saw
	// them.
	Seq uint64 `json:"seq"`
	// Time is the wall-clock time the tap saw the message.
	Time time.Time `json:"time"`
	// Mono is the monotonic time in nanoseconds since the tap started, for
	// latencies that wall-clock steps cannot disturb.
	Mono int64 `json:"mono"`

	Transport Transport `json:"transport"`
	Direction Direction `json:"dir"`
	Kind      Kind      `json:"kind"`

	// Method, Path and Query are those of the HTTP request (for a WebSocket,
	// of the upgrade request). Responses repeat them.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	// Status is the HTTP status of a response (0 for requests and frames).
	Status int `json:"status,omitempty"`
	// Header holds the headers that matter (see KeptHeaders), canonicalised.
	Header map[string]string `json:"header,omitempty"`
	// Subprotocol is the negotiated WebSocket subprotocol.
	Subprotocol string `json:"subprotocol,omitempty"`
	// CloseCode and CloseText are the WebSocket close frame, on Close events.
	CloseCode int    `json:"close_code,omitempty"`
	CloseText string `json:"close_text,omitempty"`
	// Binary is set for a WebSocket binary message.
	Binary bool `json:"binary,omitempty"`

	// Parent links an event to the one it belongs to: a response to its
	// request, a poll event to its poll, the second and later objects of a
	// frame to the first, a Failure to what failed.
	Parent string `json:"parent,omitempty"`
	// Part and Parts place the event in a batch (a long-poll array or a
	// frame with several objects): Part counts from 0. Both are 0 outside
	// batches.
	Part  int `json:"part,omitempty"`
	Parts int `json:"parts,omitempty"`
	// Batch is set on poll events that came in a JSON array (maxev ≥ 2),
	// even when the array held one element.
	Batch bool `json:"batch,omitempty"`

	// Body is the message exactly as it went over the wire (for a batch,
	// this event's element or object; see SplitObjects). It is encoded as a
	// JSON string when it is valid UTF-8 and in base64 otherwise.
	Body []byte `json:"-"`
	// BodySize is the size in bytes of the body on the wire; it differs from
	// len(Body) only when Truncated.
	BodySize int `json:"body_size,omitempty"`
	// Truncated is set when Body holds only the first bytes of a body larger
	// than the tap's event body limit; BodySHA256 then identifies the whole.
	Truncated  bool   `json:"truncated,omitempty"`
	BodySHA256 string `json:"body_sha256,omitempty"`
	// Redacted is set when secrets were replaced by RedactedMarker.
	Redacted bool `json:"redacted,omitempty"`

	// Janus holds the fields parsed out of Body for indexing; nil when the
	// body is not a JSON object.
	Janus *Janus `json:"janus,omitempty"`
	// ParseError says why Body could not be parsed, when it could not.
	ParseError string `json:"parse_error,omitempty"`

	// Error says what went wrong, on Failure events and on Close events of
	// connections the tap ended.
	Error string `json:"error,omitempty"`

	// Labels carry free-form tags, such as the flow a replay was made from.
	Labels map[string]string `json:"labels,omitempty"`
}

// Janus holds the Janus fields parsed out of a message body.
type Janus struct {
	// Janus is the verb of a request or the type of a reply, lower-cased
	// (Janus matches verbs case-insensitively).
	Janus       string `json:"janus,omitempty"`
	Transaction string `json:"transaction,omitempty"`
	// SessionID and HandleID come from the body, or from the HTTP path when
	// the body does not name them. Ids are 53-bit integers; a non-integer
	// id (which Janus ignores) is left out.
	SessionID uint64 `json:"session_id,omitempty"`
	HandleID  uint64 `json:"handle_id,omitempty"`
	// Sender is the handle a reply or event comes from.
	Sender uint64 `json:"sender,omitempty"`
	// DataID is data.id of a create or attach success: the new session or
	// handle.
	DataID uint64 `json:"data_id,omitempty"`
	// Plugin is the plugin named by an attach or a plugindata.
	Plugin string `json:"plugin,omitempty"`
	// PluginKey and PluginValue are the key of the plugin data (the body of
	// a message request, plugindata.data of a reply) that says what it is —
	// "request" wherever it stands, since clients' encoders may sort keys,
	// else the first key — and its value when that is a string or number:
	// "request"/"join", "videoroom"/"joined".
	PluginKey   string `json:"plugin_key,omitempty"`
	PluginValue string `json:"plugin_value,omitempty"`
	// PluginError is the plugin-level error_code in the plugin data.
	PluginError int `json:"plugin_error,omitempty"`
	// ErrorCode and ErrorReason are error.code and error.reason of a Janus
	// error.
	ErrorCode   int    `json:"error_code,omitempty"`
	ErrorReason string `json:"error_reason,omitempty"`
	// JSEP is the jsep type ("offer", "answer") when the message carries one.
	JSEP string `json:"jsep,omitempty"`
	// HasJSEP is set when the message carries a jsep, whatever its type.
	HasJSEP bool `json:"has_jsep,omitempty"`
	// OpaqueID is the opaque_id of an attach, or of an event when Janus
	// echoes it.
	OpaqueID string `json:"opaque_id,omitempty"`
	// Reason is the reason of a hangup.
	Reason string `json:"reason,omitempty"`
}

// KeptHeaders are the HTTP headers an event keeps. Others (cookies, user
// agents, proxies' own) are not part of Janus signaling.
var KeptHeaders = []string{
	"Content-Type",
	"Content-Length",
	"Transfer-Encoding",
	"Location",
	"Origin",
	"Referer",
	"Authorization",
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
	"Access-Control-Allow-Credentials",
	"Access-Control-Max-Age",
	"Access-Control-Request-Method",
	"Access-Control-Request-Headers",
	"Sec-Websocket-Protocol",
}

// SessionID returns the session the event belongs to, or 0.
func (e *Event) SessionID() uint64 {
	if e.Janus == nil {
		return 0
	}
	return e.Janus.SessionID
}

// HandleID returns the handle the event concerns (the handle_id of a
// request, or the sender of a reply), or 0.
func (e *Event) HandleID() uint64 {
	if e.Janus == nil {
		return 0
	}
	if e.Janus.HandleID != 0 {
		return e.Janus.HandleID
	}
	return e.Janus.Sender
}

// Transaction returns the event's Janus transaction, or "".
func (e *Event) Transaction() string {
	if e.Janus == nil {
		return ""
	}
	return e.Janus.Transaction
}

// Subject returns the JetStream subject of the event under prefix:
// prefix.<gateway>.<transport>.<direction>; for a JanusEvent,
// prefix.<gateway>.evh.<type> (its Direction holds the type).
func (e *Event) Subject(prefix string) string {
	return prefix + "." + SubjectToken(e.Gateway) + "." + string(e.Transport) + "." + string(e.Direction)
}

// SubjectToken makes s safe as one NATS subject token: characters that have
// a meaning in subjects (., *, >, white space) become '_'; "" becomes "_".
func SubjectToken(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f:
			b[i] = '_'
		}
	}
	return string(b)
}

// KeepHeaders returns the headers of h named in KeptHeaders, with several
// values of one header joined by ", ". It returns nil when none is present.
func KeepHeaders(h map[string][]string) map[string]string {
	var out map[string]string
	for _, k := range KeptHeaders {
		v, ok := h[k]
		if !ok || len(v) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string, 4)
		}
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// SHA256 returns the hex SHA-256 of b, as BodySHA256 holds it.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ValidGateway says why name cannot be a gateway's name, or nil. A gateway
// name is a token of every subject its events are published on, so it must
// be one NATS takes literally: not empty, no '.', '*' or '>', no white space
// or control character, valid UTF-8, at most 255 bytes. (SubjectToken maps
// what it refuses onto '_', where "*" and "" would meet.)
func ValidGateway(name string) error {
	switch {
	case name == "":
		return errors.New("empty gateway name")
	case len(name) > 255:
		return fmt.Errorf("gateway name of %d bytes, over 255", len(name))
	case !utf8.ValidString(name):
		return fmt.Errorf("gateway name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("gateway name %q: %q cannot be in a NATS subject token", name, r)
		}
	}
	return nil
}

// validEvhType says whether t can be a type name of EvhTypeName: lower-case
// letters, digits and '-', 1 to 32 bytes.
func validEvhType(t string) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for _, c := range []byte(t) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ulidAlphabet is Crockford's base 32, as ULIDs are written.
const ulidAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Validate says why ev is not an event a tap could have made, or nil: its
// kind, direction and transport are ones this version knows, its id is a
// ULID, it has a time, and its gateway name is subject-safe (ValidGateway).
func (ev *Event) Validate() error {
	if ev.Kind == JanusEvent || ev.Transport == EVH {
		// Janus's own event: transport evh, its type in place of a
		// direction.
		if ev.Kind != JanusEvent || ev.Transport != EVH {
			return fmt.Errorf("event %s: kind %q with transport %q (a Janus event has kind %s and transport %s)", ev.ID, ev.Kind, ev.Transport, JanusEvent, EVH)
		}
		if !validEvhType(string(ev.Direction)) {
			return fmt.Errorf("event %s: Janus event type %q is not a type name", ev.ID, ev.Direction)
		}
	} else {
		if !slices.Contains([]Kind{Request, Response, PollEvent, Frame, Open, Close, Failure}, ev.Kind) {
			return fmt.Errorf("event %s: unknown kind %q", ev.ID, ev.Kind)
		}
		if ev.Direction != ToGateway && ev.Direction != ToClient {
			return fmt.Errorf("event %s: unknown direction %q", ev.ID, ev.Direction)
		}
		if !slices.Contains(Transports, ev.Transport) {
			return fmt.Errorf("event %s: unknown transport %q", ev.ID, ev.Transport)
		}
	}
	if len(ev.ID) != 26 || ev.ID[0] > '7' || strings.Trim(ev.ID, ulidAlphabet) != "" {
		return fmt.Errorf("event id %q is not a ULID", ev.ID)
	}
	if ev.Time.IsZero() {
		return fmt.Errorf("event %s: no time", ev.ID)
	}
	if err := ValidGateway(ev.Gateway); err != nil {
		return fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return nil
}
