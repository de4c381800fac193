package verdict

import (
	"fmt"
	"strings"
)

// coreErrors are the Janus core error codes (src/apierror.h of Janus
// 1.1.2), with what they usually mean for a call.
var coreErrors = map[int]string{
	403: "UNAUTHORIZED: wrong or missing apisecret or token",
	405: "UNAUTHORIZED_PLUGIN: the token may not use this plugin",
	450: "TRANSPORT_SPECIFIC: the transport refused the request (method, endpoint)",
	452: "MISSING_REQUEST: the request has no janus field",
	453: "UNKNOWN_REQUEST: a verb Janus does not know at this level",
	454: "INVALID_JSON: the request is not valid JSON",
	455: "INVALID_JSON_OBJECT: the request or its jsep is not a JSON object",
	456: "MISSING_MANDATORY_ELEMENT: a required field (transaction, plugin, body, sdp, candidate) is missing",
	457: "INVALID_REQUEST_PATH: the verb was sent at the wrong level (session, handle) or with conflicting ids",
	458: "SESSION_NOT_FOUND: Janus no longer knows the session (timed out, destroyed, or Janus restarted)",
	459: "HANDLE_NOT_FOUND: Janus no longer knows the handle (detached, or its session went)",
	460: "PLUGIN_NOT_FOUND: no such plugin is loaded",
	461: "PLUGIN_ATTACH: the plugin refused the attach",
	462: "PLUGIN_MESSAGE: the plugin could not take the message",
	463: "PLUGIN_DETACH: nothing to detach",
	464: "JSEP_UNKNOWN_TYPE: the jsep type is neither offer nor answer",
	465: "JSEP_INVALID_SDP: Janus could not parse or use the SDP (missing fingerprint, ICE credentials, bad lines)",
	466: "TRICKLE_INVALID_STREAM: a candidate was trickled with no PeerConnection to take it",
	467: "INVALID_ELEMENT_TYPE: a field has the wrong type",
	468: "SESSION_CONFLICT: the session id asked for is in use",
	469: "UNEXPECTED_ANSWER: an answer was sent without an offer from Janus",
	470: "TOKEN_NOT_FOUND: no such token",
	471: "WEBRTC_STATE: the PeerConnection is in the wrong state (still cleaning up the previous one)",
	472: "NOT_ACCEPTING_SESSIONS: Janus is not accepting new sessions",
	490: "UNKNOWN: an unexpected internal error in Janus",
}

// pluginErrors are the error codes of the plugins' error_code, by plugin
// short name.
var pluginErrors = map[string]map[int]string{
	"videoroom": {
		421: "no message", 422: "invalid JSON", 423: "invalid request", 424: "join the room first",
		425: "already joined on this handle", 426: "no such room", 427: "room exists already",
		428: "no such feed: the publisher to subscribe to is not (or no longer) in the room",
		429: "missing element", 430: "invalid element", 431: "invalid SDP type",
		432: "the room is full of publishers", 433: "unauthorized: wrong secret, pin or token",
		434: "already published", 435: "not published", 436: "id exists already", 437: "invalid SDP",
		499: "unknown error",
	},
	"echotest": {411: "no message", 412: "invalid JSON", 413: "invalid element", 414: "invalid SDP"},
	"textroom": {
		411: "no message", 412: "invalid JSON", 413: "missing element", 414: "invalid element",
		415: "invalid request", 416: "already set up", 417: "no such room", 418: "room exists already",
		419: "unauthorized: wrong secret or pin", 420: "username taken", 421: "already in the room",
		422: "not in the room", 423: "no such user", 499: "unknown error",
	},
}

// CoreError says what a Janus core error code means; "" when unknown.
func CoreError(code int) string { return coreErrors[code] }

// PluginError says what a plugin's error code means; "" when unknown.
// plugin is the full ("janus.plugin.videoroom") or short name.
func PluginError(plugin string, code int) string {
	return pluginErrors[strings.TrimPrefix(plugin, "janus.plugin.")][code]
}

// closeCodes name WebSocket close codes (RFC 6455 section 7.4.1).
var closeCodes = map[int]string{
	1000: "normal closure", 1001: "going away (page closed or server leaving)",
	1002: "protocol error", 1003: "unsupported data", 1005: "no status code",
	1006: "abnormal closure: the connection dropped without a close frame",
	1007: "invalid payload", 1008: "policy violation", 1009: "message too big",
	1011: "internal error (the tap closes with 1011 when Janus is unreachable)",
}

func closeMeaning(code int) string {
	if m, ok := closeCodes[code]; ok {
		return fmt.Sprintf("%d %s", code, m)
	}
	return fmt.Sprint(code)
}
