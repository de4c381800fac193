// Package har turns captured events into a HAR file (HTTP Archive 1.2), the
// format that browsers' developer tools, proxies such as Charles and Fiddler,
// and HAR viewers read, so that a janustap capture can be opened in tools
// people already have.
//
//	doc := har.Build(events, har.Options{CreatorVersion: "v1.2.0"})
//	err := doc.Write(w)
//
// # Entries
//
// Each HTTP exchange (Janus API or admin API over HTTP) is one entry: the
// Request event and the events whose Parent it is. Its response is
//
//   - the Response event: status, headers and body as captured;
//   - for a long poll, rebuilt from its PollEvent events: the one object, or
//     when the poll was answered with an array (maxev ≥ 2, events with Batch
//     set) a JSON array of the element bodies, in Part order, joined by ","
//     without white space. Each element keeps its bytes, but the array is not
//     byte for byte what Janus sent (Janus indents its arrays), and its size
//     may differ from the captured Content-Length header;
//   - for a request the tap could not forward, status 0 with the Failure's
//     text in "_error", as Chromium writes a failed request;
//   - status 0 with "_error" when the capture holds no answer (a long poll
//     still pending when the capture ended).
//
// A response or poll event whose request is not among the events (an export
// cut by time) makes an entry of its own, its request rebuilt from the
// method, path and query the response repeats, with a comment saying so.
//
// Each WebSocket connection (Janus or admin API) is one entry, from its Open
// event, with "_resourceType": "websocket", response status 101, and its
// messages in "_webSocketMessages" as Chromium writes them: type "send"
// (client to gateway) or "receive", time in Unix seconds, opcode 1 (text) or
// 2 (binary, data in base64) and data. The Frame events of one WebSocket
// message (several JSON objects in one frame) are joined back into the
// message, byte for byte. The close frame goes into the entry's comment. A
// connection whose Open event is missing starts at its first message, with
// the path "/". The 101 response has only the Sec-WebSocket-Protocol header,
// from the negotiated subprotocol: the tap does not record the handshake's
// other headers.
//
// # URLs
//
// Events keep the path and query of a request, not the host or scheme the
// client used. Request URLs are therefore http://HOST/path?query (ws:// for
// WebSockets), where HOST is Options.Host, or else the gateway name when it
// is a valid host name, or else "janus". Two gateways in one HAR thus show as
// two hosts.
//
// # Bodies
//
// Bodies are written as text when they are valid UTF-8, and otherwise in
// base64 with "encoding": "base64" (HAR's content.encoding; postData has no
// such field in HAR 1.2, so janustap adds it there too). A body the tap
// truncated says so in its comment, with its size on the wire and SHA-256.
//
// Every entry carries "_janustap": the gateway, transport and ids of the
// events it was built from. Events that belong to no exchange or connection
// (a Failure with no parent) are counted in the log's comment.
//
// It sits under schema because it is another encoding of the event, used by
// `janustap export` and the web view alike. It may import schema and the
// standard library only.
package har
