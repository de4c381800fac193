package har

import (
	"encoding/json"
	"fmt"
	"io"
)

// Version is the HAR version written.
const Version = "1.2"

// HAR is a HAR document.
type HAR struct {
	Log Log `json:"log"`
}

// Log is the root of a HAR document.
type Log struct {
	Version string  `json:"version"`
	Creator Creator `json:"creator"`
	Entries []Entry `json:"entries"`
	Comment string  `json:"comment,omitempty"`
	// JanusEvents are the events Janus itself reported through its event
	// handlers (schema.JanusEvent), in capture order: a custom field, since
	// they are no HTTP exchange.
	JanusEvents []JanusEvent `json:"_janusEvents,omitempty"`
}

// JanusEvent is one event Janus reported of itself.
type JanusEvent struct {
	ID      string `json:"id"`
	Gateway string `json:"gateway"`
	// Time is when the tap received it, ISO 8601 with microseconds, UTC.
	Time string `json:"time"`
	// Type is its type and subtype as a name (webrtc-ice, media-stats...).
	Type      string `json:"type"`
	SessionID uint64 `json:"session_id,omitempty"`
	HandleID  uint64 `json:"handle_id,omitempty"`
	// Event is the event as Janus posted it (its envelope with its own
	// timestamp); a string when it is not JSON (cut by the tap's limit).
	Event json.RawMessage `json:"event"`
}

// Creator names the program that wrote the HAR.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Entry is one HTTP exchange or one WebSocket connection.
type Entry struct {
	// StartedDateTime is the time of the request, in ISO 8601 with
	// milliseconds, UTC.
	StartedDateTime string `json:"startedDateTime"`
	// Time is the time from the request to its response, in milliseconds.
	Time     float64  `json:"time"`
	Request  Request  `json:"request"`
	Response Response `json:"response"`
	Cache    struct{} `json:"cache"`
	Timings  Timings  `json:"timings"`
	// Connection is the event's Conn: the WebSocket, or the HTTP exchange.
	Connection string `json:"connection,omitempty"`
	Comment    string `json:"comment,omitempty"`
	// ResourceType is Chromium's "_resourceType": "xhr" or "websocket".
	ResourceType string `json:"_resourceType,omitempty"`
	// WebSocketMessages are Chromium's "_webSocketMessages"; set (possibly
	// empty) on WebSocket entries only.
	WebSocketMessages []WebSocketMessage `json:"_webSocketMessages,omitzero"`
	// Janustap says which events the entry was built from.
	Janustap Source `json:"_janustap"`
}

// Source names the events of an entry.
type Source struct {
	Gateway   string   `json:"gateway"`
	Transport string   `json:"transport"`
	Events    []string `json:"events"` // event ids, in the order they were captured
}

// Request is the request of an entry.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []NameValue `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize int64       `json:"headersSize"` // always -1: not recorded
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
}

// PostData is a request body.
type PostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
	// Encoding is "base64" for a body that is not UTF-8 (not part of HAR
	// 1.2 for postData, but what content uses).
	Encoding string `json:"encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Response is the response of an entry.
type Response struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []NameValue `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"` // always -1: not recorded
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	// Error is Chromium's "_error": why there is no response.
	Error string `json:"_error,omitempty"`
}

// Content is a response body.
type Content struct {
	Size     int64  `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// NameValue is a header, cookie or query parameter.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Timings are the phases of an exchange, in milliseconds; -1 means not
// applicable. The tap sees only the time from request to response, which
// goes into Wait.
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// WebSocketMessage is one message of a WebSocket entry, as Chromium writes
// it.
type WebSocketMessage struct {
	Type   string  `json:"type"` // "send" (client to gateway) or "receive"
	Time   float64 `json:"time"` // Unix seconds
	Opcode int     `json:"opcode"`
	Data   string  `json:"data"`
}

// Write writes the document as indented JSON.
func (h *HAR) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("write har: %w", err)
	}
	return nil
}
