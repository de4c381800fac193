// Package diff compares two runs of a Janus flow, the captured one (A) and a
// replay against another Janus (B), and reports the messages that differ,
// each named by its number in the flow and a JSON path into it:
//
//	runs differ: first divergence at message 17 (janus=event tx=$T5): plugindata.data.error_code: captured (absent) → new 426
//
// It sits between the replayer, which produces run B as schema.Event values,
// and the janustap replay command, which prints the Report with WriteText
// or as JSON. It imports only the standard library and schema.
//
// # Normalisation
//
// Much of a Janus message differs between two runs that behave the same,
// so each run is normalised on its own before
// anything is compared:
//
//   - Ids minted by Janus or a plugin become placeholders numbered by order
//     of first appearance in the run, per kind: session ids $S1, $S2…
//     (session_id, the data.id of a create, the session in an HTTP path,
//     admin "sessions"), handle ids $H1… (handle_id, sender, the data.id of
//     an attach, the handle in a path, admin "handles"), and the ids the
//     rules list per plugin: videoroom publisher ids $ID1… (id, feed,
//     feed_id, publishers[].id, attendees[].id) and private ids $P1…,
//     textroom rooms $R1… The same id always gives the same placeholder, so
//     a reply naming the publisher of an earlier event still matches. An id
//     that was a JSON string keeps its quotes, "$S1", so that a replay
//     sending session_id as a string (which Janus ignores) shows. Inside
//     objects, placeholders are handed out in sorted key order, so the key
//     order on the wire does not matter; 0 and "" stay as they are. A
//     reply is numbered right after its request, so that an event racing
//     its ack does not change the numbering; an id-bearing message missing
//     from one run can still shift the numbers of the ids first seen in it.
//   - Transactions become $T1, $T2… by order of first appearance, the
//     server-generated ones of GET /janus/info too.
//   - Ids named in text ("No such session 6635366682236306", a hint, a
//     plugin's error) are replaced by their placeholders, when they have at
//     least 4 digits and were seen as ids in the run.
//   - The values of ignored keys become "$ignored": the key must still be
//     present in both runs. By default: admin timestamps (created,
//     current_time, session_last_activity, agent-created, gathered,
//     connected), host fields of server_info (log-path, local-ip,
//     compile-time, commit-hash, dependencies) and the per-PeerConnection
//     fields of admin handle_info.
//   - ICE candidates ("candidate": "candidate:1 1 udp 2015363327 192.0.2.2
//     42584 typ host") keep foundation, component, transport, priority and
//     type; the address and port become $addr and $port.
//   - Session descriptions (jsep.sdp) become a structure, compared part by
//     part: the o= username, network and address types (not its session id,
//     version or address), s=, t=, b=, a=group (jsep.sdp.groups), and per
//     m-line (jsep.sdp.m[0]...) the media, protocol and payload types (not
//     the port, unless it is 0: "rejected"), direction, mid, setup, the
//     codecs by payload type (rtpmap, fmtp, rtcp-fb: jsep.sdp.m[0].codecs.111)
//     and the other attributes by name. Left out: c= lines, a=ice-ufrag,
//     a=ice-pwd, a=fingerprint, a=candidate, a=end-of-candidates, a=ssrc*,
//     a=msid*, a=rtcp, a=tls-id (SDPRules.Ignore).
//   - Lists Janus builds from hash tables (the keys of Sets: videoroom
//     publishers, participants, attendees and list; textroom and
//     audiobridge participants and list; admin sessions and handles) have
//     no order: their elements are sorted, by their fields other than ids
//     and by the placeholders of ids already seen, before the ids first seen
//     in them are numbered, and again after normalising. Two runs that
//     list the same set compare equal; an element that differs shows at
//     its path in the sorted list.
//   - The janus verb is lower-cased (Janus matches verbs case-insensitively),
//     and keys are sorted.
//
// Normalise and Normaliser expose this on its own; normalising a normalised
// message changes nothing.
//
// # Matching
//
// Each message of run B is paired with its counterpart in run A:
//
//   - requests (client to gateway) by their order, aligned on verb, plugin
//     request and jsep type, so that one missing request does not shift the
//     others;
//   - the replies and events answering a request (its HTTP response, or the
//     messages with its transaction) with those of the paired request, by
//     janus type then order; what is left is paired in order, so that an
//     error in place of a success is one changed message;
//   - a request left unpaired by that order with the request of the other
//     run that carries the same transaction (the new run's may end in a run
//     suffix, "~r2"): the replay sends a request Janus refused because it
//     raced its handle's teardown after that teardown, although the
//     capture has it first (see replayer/plan, Refusal). The transactions
//     of the new run are then named as the capture's;
//   - the other messages (hangup, detached, webrtcup, events without
//     transaction, timeout) by normalised transaction, session, sender and
//     janus type, then order among those.
//
// The order of messages across requests and handles is not compared: Janus
// is racy (an event can come before its ack), so only a missing or extra
// message is a difference. Transport noise is left out: long-poll GETs and
// the keepalives that end them, CORS preflights, WebSocket opens and closes,
// and tap failures. HTTP status, method and normalised path are compared as
// http.status, http.method and http.path.
//
// # Classification
//
// A replay without a browser has no media, so the messages that need it are
// noted in Report.NeedsMedia instead of being differences (unless
// Options.CompareMedia is set): webrtcup, media, slowlink and ice-failed
// events, plugin
// events such as videoroom "talking", and hangups whose reason is an ICE or
// DTLS failure or that follow no hangup or detach request on their handle.
// A difference involving a timeout event, or a 458 error after a timeout of
// its session, has Difference.Timing set: it depends on how long the runs
// took rather than on the gateway.
//
// # Rules
//
// What is normalised and how messages are classified are data, in Rules.
// DefaultRules holds the rules for Janus 1.1.2 and its stock plugins;
// `janustap replay --print-rules` prints them in the JSON form that
// LoadRules reads, to copy and edit. A rules file is complete on its own, or, with
// "extends": "default", adds to the default rules (maps merged, the file
// winning; lists appended). For example, to map the ids of a custom plugin
// and ignore a timestamp it sends:
//
//	{
//	  "extends": "default",
//	  "plugins": {
//	    "janus.plugin.acme": {
//	      "ids": {"call_id": "C", "peer": "H"},
//	      "ignore": ["started_at"]
//	    }
//	  },
//	  "media": {"plugin_events": {"janus.plugin.acme": ["speaking"]}}
//	}
//
// The keys:
//
//	global.ids             key → id kind, at any depth of any message
//	global.ignore          keys whose values are not compared, at any depth
//	plugins.<name>.ids     key → id kind, inside the plugin's payloads (the
//	                       body of a message request to one of its handles,
//	                       plugindata.data of its replies and events)
//	plugins.<name>.ignore  keys not compared inside the plugin's payloads
//	global.sets, plugins.<name>.sets  keys whose arrays have no order
//	sdp.keys               keys whose string values starting with "v=" are SDP
//	sdp.ignore             SDP attribute names left out; "ssrc*" is a prefix
//	media.events           janus types that need media
//	media.hangup_reasons   hangup reasons that mean ICE or DTLS failed
//	media.hangup_requests  requests after which a hangup is expected
//	media.plugin_events    plugin → values of data.<plugin> that need media
//	timing.events          janus types sent on a timer
//	timing.error_codes     error codes that follow such an event
//
// An id kind is one or more capital letters; "T" is kept for transactions.
package diff
