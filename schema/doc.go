// Package schema defines the janustap event: one immutable, versioned record
// of a message that crossed the tap, its JSON encoding (and the reading of
// its routing fields, DecodeRoute, which depends on that encoding's layout),
// the Janus fields parsed out of a body for indexing, and the redaction of
// secrets and host details.
//
// It is the centre of janustap: the tap writes events, the recorder projects
// them into SQLite, the replayer plays them back. It imports only the
// standard library.
//
// # Encoding
//
// An event is one JSON object on one line (see Encode). Its "v" field is the
// encoding version; Decode refuses versions newer than Version. The body goes
// into "body" as a JSON string when it is valid UTF-8, which keeps it byte
// for byte, and into "body_base64" otherwise; either way nothing is lost.
//
// # Redaction
//
// By default the tap redacts secrets before an event is spooled or
// published: the string values of the keys apisecret, token and admin_secret
// at any depth of a body, the query parameters apisecret, token and
// admin_secret, and the Authorization, Proxy-Authorization and Cookie
// headers. The value is replaced by RedactedMarker ("REDACTED"); everything
// else in the body stays as it was, so the event still shows where the secret
// stood. Redacted events have Redacted set. The replayer fills secrets back
// in from its flags.
//
// RedactHostDetails, which `janustap export` applies unless told otherwise,
// replaces in the same way what server_info and admin answers, and Janus's
// own events, say of the gateway's host (HostKeys, JanusEventHostKeys): its
// paths, addresses and ICE candidates.
package schema
