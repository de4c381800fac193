package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrUnknownVersion is returned by Decode for an event written by a newer
// janustap than this one.
var ErrUnknownVersion = errors.New("unknown event version")

// DecodeError is returned by Decode for bytes that are not an event.
type DecodeError struct {
	Reason string // what was wrong
	Err    error  // the underlying error, if any
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return "decode event: " + e.Reason + ": " + e.Err.Error()
	}
	return "decode event: " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// eventAlias has Event's fields without its methods, so that wireEvent can
// embed it without recursing into custom marshalling.
type eventAlias Event

// wireEvent is the JSON form of an Event: Body goes into "body" as a string
// when it is valid UTF-8 (a JSON string round-trips any valid UTF-8 exactly)
// and into "body_base64" otherwise.
type wireEvent struct {
	*eventAlias
	Body       *string `json:"body,omitempty"`
	BodyBase64 []byte  `json:"body_base64,omitempty"`
}

// Decode parses an event encoded by Encode. It refuses events without an id
// or version, and events of a newer version (ErrUnknownVersion).
//
// It reads the JSON with the scanner of scan.go, not with encoding/json, but
// accepts and decodes exactly what json.Unmarshal into wireEvent does: field
// names matched as encoding/json matches them (exactly, else ignoring case),
// unknown fields skipped, null leaving a field as it is (or setting a
// pointer, map or slice to nil), the last of duplicate keys winning and
// maps of duplicate keys merged.
func Decode(b []byte) (*Event, error) {
	ev := &Event{}
	var w wireBody
	if err := decodeEvent(b, ev, &w); err != nil {
		return nil, &DecodeError{Reason: "invalid JSON", Err: err}
	}
	switch {
	case ev.V == 0:
		return nil, &DecodeError{Reason: "no version"}
	case ev.V > Version:
		return nil, &DecodeError{Reason: fmt.Sprintf("version %d, this janustap reads up to %d", ev.V, Version), Err: ErrUnknownVersion}
	case ev.V < 0:
		return nil, &DecodeError{Reason: fmt.Sprintf("version %d", ev.V)}
	case ev.ID == "":
		return nil, &DecodeError{Reason: "no id"}
	case w.hasBody && w.base64 != nil:
		return nil, &DecodeError{Reason: "both body and body_base64"}
	}
	switch {
	case w.hasBody:
		ev.Body = w.body
	case w.base64 != nil:
		ev.Body = w.base64
	}
	return ev, nil
}

// wireBody holds the body fields of wireEvent while decoding: body (a
// *string, so hasBody tells nil from "") and body_base64.
type wireBody struct {
	hasBody bool
	body    []byte // never nil when hasBody
	base64  []byte
}

// The fields of wireEvent and of Janus, as decodeEvent tells them apart.
const (
	fUnknown = iota
	fV
	fID
	fGateway
	fTap
	fConn
	fSeq
	fTime
	fMono
	fTransport
	fDir
	fKind
	fMethod
	fPath
	fQuery
	fStatus
	fHeader
	fSubprotocol
	fCloseCode
	fCloseText
	fBinary
	fParent
	fPart
	fParts
	fBatch
	fBodySize
	fTruncated
	fBodySHA256
	fRedacted
	fJanus
	fParseError
	fError
	fLabels
	fBody
	fBodyBase64
)

// eventField returns the field of wireEvent that the (decoded) key names.
// Like encoding/json, it prefers an exact match and falls back to a
// case-insensitive one.
func eventField(key []byte) int {
	if f := eventFieldExact(key); f != fUnknown {
		return f
	}
	var arr [32]byte
	return eventFieldExact(appendFoldedName(arr[:0], key, maxFieldName))
}

// eventFieldExact returns the field of wireEvent named exactly key.
func eventFieldExact(key []byte) int {
	switch string(key) {
	case "v":
		return fV
	case "id":
		return fID
	case "gateway":
		return fGateway
	case "tap":
		return fTap
	case "conn":
		return fConn
	case "seq":
		return fSeq
	case "time":
		return fTime
	case "mono":
		return fMono
	case "transport":
		return fTransport
	case "dir":
		return fDir
	case "kind":
		return fKind
	case "method":
		return fMethod
	case "path":
		return fPath
	case "query":
		return fQuery
	case "status":
		return fStatus
	case "header":
		return fHeader
	case "subprotocol":
		return fSubprotocol
	case "close_code":
		return fCloseCode
	case "close_text":
		return fCloseText
	case "binary":
		return fBinary
	case "parent":
		return fParent
	case "part":
		return fPart
	case "parts":
		return fParts
	case "batch":
		return fBatch
	case "body_size":
		return fBodySize
	case "truncated":
		return fTruncated
	case "body_sha256":
		return fBodySHA256
	case "redacted":
		return fRedacted
	case "janus":
		return fJanus
	case "parse_error":
		return fParseError
	case "error":
		return fError
	case "labels":
		return fLabels
	case "body":
		return fBody
	case "body_base64":
		return fBodyBase64
	}
	return fUnknown
}

// The fields of Janus.
const (
	jUnknown = iota
	jJanus
	jTransaction
	jSessionID
	jHandleID
	jSender
	jDataID
	jPlugin
	jPluginKey
	jPluginValue
	jPluginError
	jErrorCode
	jErrorReason
	jJSEP
	jHasJSEP
	jOpaqueID
	jReason
)

// janusField is eventField for the fields of Janus.
func janusField(key []byte) int {
	if f := janusFieldExact(key); f != jUnknown {
		return f
	}
	var arr [32]byte
	return janusFieldExact(appendFoldedName(arr[:0], key, maxFieldName))
}

// janusFieldExact returns the field of Janus named exactly key.
func janusFieldExact(key []byte) int {
	switch string(key) {
	case "janus":
		return jJanus
	case "transaction":
		return jTransaction
	case "session_id":
		return jSessionID
	case "handle_id":
		return jHandleID
	case "sender":
		return jSender
	case "data_id":
		return jDataID
	case "plugin":
		return jPlugin
	case "plugin_key":
		return jPluginKey
	case "plugin_value":
		return jPluginValue
	case "plugin_error":
		return jPluginError
	case "error_code":
		return jErrorCode
	case "error_reason":
		return jErrorReason
	case "jsep":
		return jJSEP
	case "has_jsep":
		return jHasJSEP
	case "opaque_id":
		return jOpaqueID
	case "reason":
		return jReason
	}
	return jUnknown
}

// maxFieldName is the length of the longest JSON field name of wireEvent
// and Janus.
const maxFieldName = len("plugin_value")

// appendFoldedName appends key folded as encoding/json folds field names
// for its case-insensitive match (its foldName: each rune the smallest of its
// fold set, so that the Kelvin sign is K and the long s is S), with ASCII
// letters then in lower case, so that a folded key is looked up among the
// field names as they are written. It gives up, returning nil (no field's
// name), once the result is longer than max bytes.
func appendFoldedName(dst, key []byte, max int) []byte {
	for i := 0; i < len(key); {
		r, n := rune(key[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(key[i:])
			r = foldRune(r)
		}
		i += n
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r < utf8.RuneSelf {
			dst = append(dst, byte(r))
		} else {
			dst = utf8.AppendRune(dst, r)
		}
		if len(dst) > max {
			return nil
		}
	}
	return dst
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// decodeEvent decodes the JSON event b into ev and w.
func decodeEvent(b []byte, ev *Event, w *wireBody) error {
	s := scanner{b: b}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		// json.Unmarshal leaves a struct alone for null.
		if err := s.skipLiteral("null"); err != nil {
			return err
		}
	} else {
		if s.i >= len(s.b) || s.b[s.i] != '{' {
			return s.mismatch(0, "event")
		}
		if err := decodeEventObject(&s, ev, w); err != nil {
			return err
		}
	}
	if !s.atEnd() {
		return s.failChar("after top-level value")
	}
	return nil
}

// mismatch returns the error for the value at s.i, which is of the wrong
// type for field: the syntax error in it if it has one, else a typeError.
// depth is that of the value's container.
func (s *scanner) mismatch(depth int, field string) error {
	start := s.i
	if err := s.skipValue(depth); err != nil {
		return err
	}
	what := "number"
	switch s.b[start] {
	case '"':
		what = "string"
	case '{':
		what = "object"
	case '[':
		what = "array"
	case 't', 'f':
		what = "bool"
	case 'n':
		what = "null"
	}
	if what == "number" {
		what += " " + string(s.b[start:s.i])
	}
	return &typeError{what: what, field: field, off: start}
}

func decodeEventObject(s *scanner, ev *Event, w *wireBody) error {
	const depth = 1 // of the event object
	for first := true; ; first = false {
		key, ok, err := s.member(first, true)
		if err != nil || !ok {
			return err
		}
		f := eventField(key)
		switch f {
		case fV:
			err = intField(s, depth, &ev.V, "v")
		case fID:
			err = s.stringField(depth, &ev.ID, "id")
		case fGateway:
			err = s.stringField(depth, &ev.Gateway, "gateway")
		case fTap:
			err = s.stringField(depth, &ev.Tap, "tap")
		case fConn:
			err = s.stringField(depth, &ev.Conn, "conn")
		case fSeq:
			err = intField(s, depth, &ev.Seq, "seq")
		case fTime:
			err = s.timeField(depth, &ev.Time)
		case fMono:
			err = intField(s, depth, &ev.Mono, "mono")
		case fTransport:
			v := string(ev.Transport)
			err = s.stringField(depth, &v, "transport")
			ev.Transport = Transport(v)
		case fDir:
			v := string(ev.Direction)
			err = s.stringField(depth, &v, "dir")
			ev.Direction = Direction(v)
		case fKind:
			v := string(ev.Kind)
			err = s.stringField(depth, &v, "kind")
			ev.Kind = Kind(v)
		case fMethod:
			err = s.stringField(depth, &ev.Method, "method")
		case fPath:
			err = s.stringField(depth, &ev.Path, "path")
		case fQuery:
			err = s.stringField(depth, &ev.Query, "query")
		case fStatus:
			err = intField(s, depth, &ev.Status, "status")
		case fHeader:
			err = s.mapField(depth, &ev.Header, "header")
		case fSubprotocol:
			err = s.stringField(depth, &ev.Subprotocol, "subprotocol")
		case fCloseCode:
			err = intField(s, depth, &ev.CloseCode, "close_code")
		case fCloseText:
			err = s.stringField(depth, &ev.CloseText, "close_text")
		case fBinary:
			err = s.boolField(depth, &ev.Binary, "binary")
		case fParent:
			err = s.stringField(depth, &ev.Parent, "parent")
		case fPart:
			err = intField(s, depth, &ev.Part, "part")
		case fParts:
			err = intField(s, depth, &ev.Parts, "parts")
		case fBatch:
			err = s.boolField(depth, &ev.Batch, "batch")
		case fBodySize:
			err = intField(s, depth, &ev.BodySize, "body_size")
		case fTruncated:
			err = s.boolField(depth, &ev.Truncated, "truncated")
		case fBodySHA256:
			err = s.stringField(depth, &ev.BodySHA256, "body_sha256")
		case fRedacted:
			err = s.boolField(depth, &ev.Redacted, "redacted")
		case fJanus:
			err = s.janusField(depth, &ev.Janus)
		case fParseError:
			err = s.stringField(depth, &ev.ParseError, "parse_error")
		case fError:
			err = s.stringField(depth, &ev.Error, "error")
		case fLabels:
			err = s.mapField(depth, &ev.Labels, "labels")
		case fBody:
			err = s.bodyField(depth, w)
		case fBodyBase64:
			err = s.base64Field(depth, w)
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
}

// The field decoders below read the value at s.i into a field as
// json.Unmarshal does; depth is that of the object holding the field.

func (s *scanner) stringField(depth int, dst *string, name string) error {
	switch s.b[s.i] {
	case '"':
		v, err := s.readString()
		if err != nil {
			return err
		}
		*dst = intern(v)
		return nil
	case 'n':
		return s.skipLiteral("null")
	}
	return s.mismatch(depth, name)
}

// intField decodes a number that T holds (an error otherwise), or null.
func intField[T int | int64 | uint64](s *scanner, depth int, dst *T, name string) error {
	switch c := s.b[s.i]; {
	case c == '-' || '0' <= c && c <= '9':
		start := s.i
		lit, err := s.readNumber()
		if err != nil {
			return err
		}
		var n T
		ok := false
		if ^T(0) > 0 { // unsigned
			u, isUint := parseUint(lit)
			n, ok = T(u), isUint
		} else {
			i, isInt := parseInt(lit)
			n, ok = T(i), isInt && int64(T(i)) == i
		}
		if !ok {
			return &typeError{what: "number " + string(lit), field: name, off: start}
		}
		*dst = n
		return nil
	case c == 'n':
		return s.skipLiteral("null")
	}
	return s.mismatch(depth, name)
}

func (s *scanner) boolField(depth int, dst *bool, name string) error {
	switch s.b[s.i] {
	case 't':
		*dst = true
		return s.skipLiteral("true")
	case 'f':
		*dst = false
		return s.skipLiteral("false")
	case 'n':
		return s.skipLiteral("null")
	}
	return s.mismatch(depth, name)
}

// timeField hands the value to time.Time's UnmarshalJSON, as encoding/json
// does: a string is parsed as it stands, without unescaping.
func (s *scanner) timeField(depth int, dst *time.Time) error {
	start := s.i
	if s.b[s.i] == '"' {
		if err := s.skipString(); err != nil {
			return err
		}
	} else if err := s.skipValue(depth); err != nil {
		return err
	}
	return dst.UnmarshalJSON(s.b[start:s.i])
}

// mapField decodes a map[string]string: null sets it to nil, an object adds
// its members to it (making it when nil) and a null member value is "".
func (s *scanner) mapField(depth int, dst *map[string]string, name string) error {
	switch s.b[s.i] {
	case 'n':
		*dst = nil
		return s.skipLiteral("null")
	case '{':
	default:
		return s.mismatch(depth, name)
	}
	depth++
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	m := *dst
	if m == nil {
		m = make(map[string]string)
		*dst = m
	}
	for first := true; ; first = false {
		key, ok, err := s.member(first, true)
		if err != nil || !ok {
			return err
		}
		k := intern(key)
		var v string
		if err := s.stringField(depth, &v, name); err != nil {
			return err
		}
		m[k] = v
	}
}

// janusField decodes a *Janus: null sets it to nil, an object sets its
// fields (allocating it when nil).
func (s *scanner) janusField(depth int, dst **Janus) error {
	switch s.b[s.i] {
	case 'n':
		*dst = nil
		return s.skipLiteral("null")
	case '{':
	default:
		return s.mismatch(depth, "janus")
	}
	depth++
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	j := *dst
	if j == nil {
		j = &Janus{}
		*dst = j
	}
	for first := true; ; first = false {
		key, ok, err := s.member(first, true)
		if err != nil || !ok {
			return err
		}
		switch janusField(key) {
		case jJanus:
			err = s.stringField(depth, &j.Janus, "janus.janus")
		case jTransaction:
			err = s.stringField(depth, &j.Transaction, "janus.transaction")
		case jSessionID:
			err = intField(s, depth, &j.SessionID, "janus.session_id")
		case jHandleID:
			err = intField(s, depth, &j.HandleID, "janus.handle_id")
		case jSender:
			err = intField(s, depth, &j.Sender, "janus.sender")
		case jDataID:
			err = intField(s, depth, &j.DataID, "janus.data_id")
		case jPlugin:
			err = s.stringField(depth, &j.Plugin, "janus.plugin")
		case jPluginKey:
			err = s.stringField(depth, &j.PluginKey, "janus.plugin_key")
		case jPluginValue:
			err = s.stringField(depth, &j.PluginValue, "janus.plugin_value")
		case jPluginError:
			err = intField(s, depth, &j.PluginError, "janus.plugin_error")
		case jErrorCode:
			err = intField(s, depth, &j.ErrorCode, "janus.error_code")
		case jErrorReason:
			err = s.stringField(depth, &j.ErrorReason, "janus.error_reason")
		case jJSEP:
			err = s.stringField(depth, &j.JSEP, "janus.jsep")
		case jHasJSEP:
			err = s.boolField(depth, &j.HasJSEP, "janus.has_jsep")
		case jOpaqueID:
			err = s.stringField(depth, &j.OpaqueID, "janus.opaque_id")
		case jReason:
			err = s.stringField(depth, &j.Reason, "janus.reason")
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
}

// bodyField decodes body, a *string.
func (s *scanner) bodyField(depth int, w *wireBody) error {
	switch s.b[s.i] {
	case '"':
		v, err := s.readStringCopy()
		if err != nil {
			return err
		}
		w.hasBody, w.body = true, v
		return nil
	case 'n':
		w.hasBody, w.body = false, nil
		return s.skipLiteral("null")
	}
	return s.mismatch(depth, "body")
}

// base64Field decodes body_base64, a []byte: from a base64 string, or as
// encoding/json decodes a JSON array into a slice of uint8, element by
// element, reusing the slice (and the bytes beyond its length, which a null
// element leaves as they are).
func (s *scanner) base64Field(depth int, w *wireBody) error {
	switch s.b[s.i] {
	case '"':
		v, err := s.readString()
		if err != nil {
			return err
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(v)))
		n, err := base64.StdEncoding.Decode(b, v)
		if err != nil {
			return err
		}
		w.base64 = b[:n]
		return nil
	case 'n':
		w.base64 = nil
		return s.skipLiteral("null")
	case '[':
	default:
		return s.mismatch(depth, "body_base64")
	}
	depth++
	if depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	cur := w.base64
	i := 0
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if i >= cap(cur) {
			cur = append(cur[:cap(cur)], 0)[:len(cur)]
		}
		if i >= len(cur) {
			cur = cur[:i+1]
		}
		if s.i >= len(s.b) {
			return s.failChar("looking for beginning of value")
		}
		switch c := s.b[s.i]; {
		case c == '-' || '0' <= c && c <= '9':
			start := s.i
			lit, err := s.readNumber()
			if err != nil {
				return err
			}
			n, ok := parseUint(lit)
			if !ok || n > 255 {
				return &typeError{what: "number " + string(lit), field: "body_base64", off: start}
			}
			cur[i] = byte(n)
		case c == 'n':
			if err := s.skipLiteral("null"); err != nil {
				return err
			}
		default:
			return s.mismatch(depth, "body_base64")
		}
		i++
	}
	if i < len(cur) {
		cur = cur[:i]
	}
	if i == 0 {
		cur = []byte{}
	}
	w.base64 = cur
	return nil
}
