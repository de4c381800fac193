package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EVH is the transport of the events Janus's own event handlers report
// (sampleevh, its HTTP event handler, POSTs them to the tap). Such an event
// has Kind JanusEvent and, in place of a direction, the event's type
// (EvhTypeName): its subject is prefix.<gateway>.evh.<type>, so that a
// consumer can take one type alone (janustap.*.evh.media-stats).
const EVH Transport = "evh"

// JanusEvent is an event that Janus itself reported through its event
// handlers: a session created or timed out, ICE and DTLS states, media
// statistics... Body holds the one event as Janus sent it, Janus its
// session_id, handle_id and opaque_id, and Labels["emitter"] the emitter
// (Janus's server_name). Its encoding is version EvhVersion.
const JanusEvent Kind = "janus-event"

// EvhVersion is the encoding version of JanusEvent events. Other events keep
// version 1, so a janustap of version 1 still reads them and refuses only
// the events it would not understand.
const EvhVersion = 2

// EmitterLabel is the label holding a Janus event's emitter.
const EmitterLabel = "emitter"

// VersionOf returns the encoding version Encode writes for an event of kind k.
func VersionOf(k Kind) int {
	if k == JanusEvent {
		return EvhVersion
	}
	return 1
}

// The types of Janus events (src/events/eventhandler.h), a bit each.
const (
	EvhSession   = 1 << 0
	EvhHandle    = 1 << 1
	EvhExternal  = 1 << 2
	EvhJSEP      = 1 << 3
	EvhWebRTC    = 1 << 4
	EvhMedia     = 1 << 5
	EvhPlugin    = 1 << 6
	EvhTransport = 1 << 7
	EvhCore      = 1 << 8
)

// The subtypes of EvhWebRTC, EvhMedia and EvhCore events.
const (
	EvhWebRTCICE          = 1
	EvhWebRTCLocalCand    = 2
	EvhWebRTCRemoteCand   = 3
	EvhWebRTCSelectedPair = 4
	EvhWebRTCDTLS         = 5
	EvhWebRTCPC           = 6

	EvhMediaState    = 1
	EvhMediaSlowLink = 2
	EvhMediaStats    = 3

	EvhCoreStartup  = 1
	EvhCoreShutdown = 2
)

// EvhTypeName names a Janus event type and subtype as one subject token:
// session, handle, external, jsep, webrtc-ice, webrtc-lcand, webrtc-rcand,
// webrtc-pair, webrtc-dtls, webrtc-pc, media-state, media-slowlink,
// media-stats, plugin, transport, core-startup, core-shutdown; a type or
// subtype it does not know is named by its number (type-12, webrtc-9).
func EvhTypeName(typ, subtype int) string {
	var base string
	var subs []string
	switch typ {
	case EvhSession:
		base = "session"
	case EvhHandle:
		base = "handle"
	case EvhExternal:
		base = "external"
	case EvhJSEP:
		base = "jsep"
	case EvhWebRTC:
		base, subs = "webrtc", []string{"", "ice", "lcand", "rcand", "pair", "dtls", "pc"}
	case EvhMedia:
		base, subs = "media", []string{"", "state", "slowlink", "stats"}
	case EvhPlugin:
		base = "plugin"
	case EvhTransport:
		base = "transport"
	case EvhCore:
		base, subs = "core", []string{"", "startup", "shutdown"}
	default:
		return "type-" + strconv.Itoa(typ)
	}
	switch {
	case subs == nil || subtype == 0:
		return base
	case subtype > 0 && subtype < len(subs):
		return base + "-" + subs[subtype]
	}
	return base + "-" + strconv.Itoa(subtype)
}

// EvhEnvelope is the envelope of one Janus event as its event handlers send
// it: {emitter, type, subtype, timestamp, session_id, handle_id, opaque_id,
// event}.
type EvhEnvelope struct {
	Emitter string `json:"emitter"`
	Type    int    `json:"type"`
	Subtype int    `json:"subtype"`
	// Timestamp is Janus's clock when it made the event, µs since the Unix
	// epoch.
	Timestamp int64  `json:"timestamp"`
	SessionID uint64 `json:"session_id"`
	HandleID  uint64 `json:"handle_id"`
	OpaqueID  string `json:"opaque_id"`
	// Event is the type's own object.
	Event json.RawMessage `json:"event"`
}

// ErrNotJanusEvent says a JSON value is not a Janus event.
var ErrNotJanusEvent = errors.New("not a Janus event")

// ParseEvhEnvelope parses one Janus event. It wants a JSON object with a
// positive integer type; anything else is ErrNotJanusEvent, wrapped with the
// reason.
func ParseEvhEnvelope(b []byte) (EvhEnvelope, error) {
	var e EvhEnvelope
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%w: %w", ErrNotJanusEvent, err)
	}
	if e.Type <= 0 {
		return e, fmt.Errorf("%w: no type", ErrNotJanusEvent)
	}
	return e, nil
}

// SplitEvh splits the body of an event handler's POST into its events: the
// elements of a JSON array (sampleevh with grouping), or the one object
// posted. Each element keeps its bytes as posted.
func SplitEvh(body []byte) ([][]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrNotJanusEvent)
	}
	if body[0] != '[' {
		if !json.Valid(body) {
			return nil, fmt.Errorf("%w: invalid JSON", ErrNotJanusEvent)
		}
		return [][]byte{body}, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON array: %w", ErrNotJanusEvent, err)
	}
	out := make([][]byte, len(raw))
	for i, r := range raw {
		out[i] = bytes.TrimSpace(r)
	}
	return out, nil
}

// EvhID returns the id of the Janus event b (its bytes as posted) from
// gateway: the layout of IDGen's ids, with Janus's timestamp as the time and
// the first 80 bits of a SHA-256 of gateway and b as the rest. The same
// event posted again (sampleevh retries a POST that got no answer) gets the
// same id, so JetStream's duplicate window and the recorder store it once.
func EvhID(gateway string, timestamp int64, b []byte) string {
	h := sha256.New()
	h.Write([]byte(gateway))
	h.Write([]byte{0})
	h.Write(b)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	ms := uint64(max(timestamp, 0) / 1000)
	var id [16]byte
	binary.BigEndian.PutUint64(id[0:8], ms<<16|uint64(binary.BigEndian.Uint16(sum[0:2])))
	copy(id[8:16], sum[2:10])
	return encode128(id)
}

// JanusTime returns Janus's timestamp (µs since the Unix epoch) as a time.
func JanusTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// EvhEvent fills ev, which holds what the tap knows of the POST (tap, conn,
// seq, time, part), with the Janus event b and its parsed envelope env as
// received for gateway: id (EvhID), gateway, transport EVH, kind JanusEvent,
// the type as direction, the ids and opaque_id in Janus (with the plugin of
// an attach or plugin event), the emitter as a label, and b as the body.
func EvhEvent(ev *Event, gateway string, env EvhEnvelope, b []byte) {
	ev.V = EvhVersion
	ev.ID = EvhID(gateway, env.Timestamp, b)
	ev.Gateway = gateway
	ev.Transport = EVH
	ev.Direction = Direction(EvhTypeName(env.Type, env.Subtype))
	ev.Kind = JanusEvent
	ev.Body = b
	ev.BodySize = len(b)
	if env.Emitter != "" {
		ev.Labels = map[string]string{EmitterLabel: env.Emitter}
	}
	j := &Janus{SessionID: env.SessionID, HandleID: env.HandleID, OpaqueID: env.OpaqueID}
	if env.Type == EvhHandle || env.Type == EvhPlugin {
		var e struct {
			Plugin string `json:"plugin"`
		}
		if json.Unmarshal(env.Event, &e) == nil {
			j.Plugin = e.Plugin
		}
	}
	if *j != (Janus{}) {
		ev.Janus = j
	}
}

// evhWords are the fields of a Janus event's object that say what happened.
type evhWords struct {
	Name      string `json:"name"`
	Plugin    string `json:"plugin"`
	Transport struct {
		Transport string `json:"transport"`
	} `json:"transport"`
	Owner string `json:"owner"`
	JSEP  struct {
		Type string `json:"type"`
	} `json:"jsep"`
	ICE        string `json:"ice"`
	LocalCand  string `json:"local-candidate"`
	RemoteCand string `json:"remote-candidate"`
	Pair       string `json:"selected-pair"`
	DTLS       string `json:"dtls"`
	Connection string `json:"connection"`
	Reason     string `json:"reason"`
	Media      string `json:"media"`
	Receiving  *bool  `json:"receiving"`
	Status     string `json:"status"`
}

// EvhDescribe says what a Janus event reports, in a word and a detail:
// created/destroyed/timeout (session, with the transport plugin),
// attached/detached (handle, with the plugin), "remote offer" (jsep),
// gathering/connecting/connected/ready/failed (ICE), local-candidate and
// remote-candidate (with the candidate), selected-pair (with the pair),
// trying/connected/... (DTLS), webrtcup/hangup (with the reason),
// receiving/not-receiving (with the media), slowlink, stats, the plugin of a
// plugin event, the status of a core event.
func EvhDescribe(env EvhEnvelope) (name, detail string) {
	var w evhWords
	if len(env.Event) > 0 && env.Event[0] == '{' {
		_ = json.Unmarshal(env.Event, &w) // a field of another type stays empty
	}
	switch env.Type {
	case EvhSession:
		return w.Name, w.Transport.Transport
	case EvhHandle:
		return w.Name, w.Plugin
	case EvhJSEP:
		return strings.TrimSpace(w.Owner + " " + w.JSEP.Type), ""
	case EvhPlugin:
		return w.Plugin, ""
	case EvhCore:
		return w.Status, ""
	case EvhWebRTC:
		switch env.Subtype {
		case EvhWebRTCICE:
			return w.ICE, ""
		case EvhWebRTCLocalCand:
			return "local-candidate", w.LocalCand
		case EvhWebRTCRemoteCand:
			return "remote-candidate", w.RemoteCand
		case EvhWebRTCSelectedPair:
			return "selected-pair", w.Pair
		case EvhWebRTCDTLS:
			return w.DTLS, ""
		case EvhWebRTCPC:
			return w.Connection, w.Reason
		}
	case EvhMedia:
		switch env.Subtype {
		case EvhMediaState:
			switch {
			case w.Receiving == nil:
				return w.Media, ""
			case *w.Receiving:
				return "receiving", w.Media
			}
			return "not-receiving", w.Media
		case EvhMediaSlowLink:
			return "slowlink", w.Media
		case EvhMediaStats:
			return "stats", w.Media
		}
	}
	return "", ""
}
