package schema

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotObject is returned by ParseJanus for a body that is valid JSON but
// not an object.
var ErrNotObject = errors.New("not a JSON object")

// ParseJanus extracts the Janus fields of one message. Keys are matched
// exactly, as Janus does; ids are taken only when they are non-negative
// integers, since Janus ignores ids of any other type. The body is not
// changed or kept.
//
// It reads the body in one pass with the scanner of scan.go, and gives what
// reading it token by token with a json.Decoder gives (see parseJanusStd in
// the tests): when a key occurs twice, the last one counts.
func ParseJanus(body []byte) (*Janus, error) {
	s := scanner{b: body}
	s.ws()
	if s.i >= len(body) {
		return nil, fmt.Errorf("parse janus message: %w", io.EOF)
	}
	switch body[s.i] {
	case '{':
	case '[':
		return nil, fmt.Errorf("parse janus message: %w", ErrNotObject)
	case ']', '}', ':', ',':
		return nil, fmt.Errorf("parse janus message: %w", s.failChar("looking for beginning of value"))
	default:
		// A JSON value other than an object, or not JSON. Like a
		// json.Decoder, take the longest prefix that can be a value.
		if err := s.skipValue(0); err != nil {
			return nil, fmt.Errorf("parse janus message: %w", err)
		}
		return nil, fmt.Errorf("parse janus message: %w", ErrNotObject)
	}
	j := &Janus{}
	if err := s.janusMessage(j); err != nil {
		return nil, fmt.Errorf("parse janus message: %w", err)
	}
	if !s.atEnd() {
		return nil, errors.New("parse janus message: data after the object")
	}
	return j, nil
}

// janusMessage reads the object at s.i into j. Its values are at depth 0:
// a json.Decoder reading the object token by token reads each value on its
// own, with the full nesting limit.
func (s *scanner) janusMessage(j *Janus) error {
	const depth = 0
	for first := true; ; first = false {
		key, ok, err := s.member(first, true)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "janus":
			j.Janus, err = s.lowerValue(depth)
		case "transaction":
			j.Transaction, err = s.stringValue(depth)
		case "session_id":
			j.SessionID, err = s.idValue(depth)
		case "handle_id":
			j.HandleID, err = s.idValue(depth)
		case "sender":
			j.Sender, err = s.idValue(depth)
		case "plugin":
			j.Plugin, err = s.stringValue(depth)
		case "opaque_id":
			j.OpaqueID, err = s.stringValue(depth)
		case "reason":
			j.Reason, err = s.stringValue(depth)
		case "data":
			j.DataID, err = s.dataID(depth)
		case "body":
			j.PluginKey, j.PluginValue, j.PluginError, err = s.pluginData(depth)
		case "plugindata":
			err = s.pluginDataOf(depth, j)
		case "jsep":
			err = s.jsep(depth, j)
		case "error":
			err = s.janusError(depth, j)
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
}

// The readers below read the value at s.i, in a container at depth depth,
// and take from it what ParseJanus needs.

// stringBytes returns the value, unescaped, when it is a string, else nil.
func (s *scanner) stringBytes(depth int) ([]byte, error) {
	if s.b[s.i] != '"' {
		return nil, s.skipValue(depth)
	}
	return s.readString()
}

// stringValue returns the value when it is a string, else "".
func (s *scanner) stringValue(depth int) (string, error) {
	v, err := s.stringBytes(depth)
	if err != nil {
		return "", err
	}
	return intern(v), nil
}

// lowerValue is stringValue lower-cased.
func (s *scanner) lowerValue(depth int) (string, error) {
	v, err := s.stringBytes(depth)
	if err != nil {
		return "", err
	}
	for _, c := range v {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.ToLower(string(v)), nil
		}
	}
	return intern(v), nil
}

// idValue returns the value when it is a non-negative integer that fits in
// 64 bits, else 0.
func (s *scanner) idValue(depth int) (uint64, error) {
	lit, err := s.numberBytes(depth)
	if err != nil {
		return 0, err
	}
	n, _ := parseUint(lit)
	return n, nil
}

// intValue returns the value when it is an integer that fits in 64 bits,
// else 0.
func (s *scanner) intValue(depth int) (int, error) {
	lit, err := s.numberBytes(depth)
	if err != nil {
		return 0, err
	}
	n, _ := parseInt(lit)
	return int(n), nil
}

// numberBytes returns the value's literal when it is a number, else nil.
func (s *scanner) numberBytes(depth int) ([]byte, error) {
	if c := s.b[s.i]; c != '-' && (c < '0' || c > '9') {
		return nil, s.skipValue(depth)
	}
	return s.readNumber()
}

// object reports whether the value is an object, and if not skips it. When
// it is one, depth+1 is checked against the nesting limit.
func (s *scanner) object(depth int) (bool, error) {
	if s.b[s.i] != '{' {
		return false, s.skipValue(depth)
	}
	if depth+1 > maxDepth {
		return false, s.fail("exceeded max depth")
	}
	return true, nil
}

// dataID returns id of the data object of a success: the new session or
// handle.
func (s *scanner) dataID(depth int) (id uint64, err error) {
	if ok, err := s.object(depth); !ok || err != nil {
		return 0, err
	}
	depth++
	for first := true; ; first = false {
		key, ok, err := s.member(first, true)
		if err != nil || !ok {
			return id, err
		}
		if string(key) == "id" {
			id, err = s.idValue(depth)
		} else {
			err = s.skipValue(depth)
		}
		if err != nil {
			return 0, err
		}
	}
}

// pluginData returns the key of a plugin payload that says what it is
// ("request" wherever it stands, else the first key), that key's value when
// it is a string or number, and the payload's error_code; all zero when the
// value is not an object.
func (s *scanner) pluginData(depth int) (key, value string, errorCode int, err error) {
	if ok, err := s.object(depth); !ok || err != nil {
		return "", "", 0, err
	}
	depth++
	fromRequest := false
	for first := true; ; first = false {
		k, ok, err := s.member(first, true)
		if err != nil || !ok {
			return key, value, errorCode, err
		}
		isCode := string(k) == "error_code"
		// The key that says what a plugin message is: "request" wherever
		// it stands (clients' JSON encoders may sort keys), else the first.
		pick := first && !fromRequest || string(k) == "request" && !fromRequest
		if pick {
			key, value = intern(k), ""
			fromRequest = string(k) == "request"
		}
		switch c := s.b[s.i]; {
		case c == '"':
			if pick {
				v, err := s.readString()
				if err != nil {
					return "", "", 0, err
				}
				value = intern(v)
			} else if err := s.skipString(); err != nil {
				return "", "", 0, err
			}
			if isCode {
				errorCode = 0
			}
		case c == '-' || '0' <= c && c <= '9':
			lit, err := s.readNumber()
			if err != nil {
				return "", "", 0, err
			}
			if pick {
				value = intern(lit)
			}
			if isCode {
				n, _ := parseInt(lit)
				errorCode = int(n)
			}
		default:
			if err := s.skipValue(depth); err != nil {
				return "", "", 0, err
			}
			if isCode {
				errorCode = 0
			}
		}
	}
}

// pluginDataOf reads the plugindata of a reply: its plugin and data. Keys
// are matched exactly (encoding/json would match struct fields ignoring
// case; Janus does not).
func (s *scanner) pluginDataOf(depth int, j *Janus) error {
	if ok, err := s.object(depth); !ok || err != nil {
		return err
	}
	depth++
	var (
		plugin, key, value string
		code               int
	)
	for first := true; ; first = false {
		k, ok, err := s.member(first, true)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(k) {
		case "plugin":
			plugin, err = s.stringValue(depth)
		case "data":
			key, value, code, err = s.pluginData(depth)
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
	j.Plugin, j.PluginKey, j.PluginValue, j.PluginError = plugin, key, value, code
	return nil
}

// jsep reads a jsep: HasJSEP says whether it is an object, JSEP is its type
// (and is left as it is when the jsep is not an object).
func (s *scanner) jsep(depth int, j *Janus) error {
	ok, err := s.object(depth)
	if err != nil {
		return err
	}
	j.HasJSEP = ok
	if !ok {
		return nil
	}
	depth++
	typ := ""
	for first := true; ; first = false {
		k, ok, err := s.member(first, true)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if string(k) == "type" {
			typ, err = s.stringValue(depth)
		} else {
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
	j.JSEP = typ
	return nil
}

// janusError reads the error of a Janus error reply: ErrorCode is its code
// (and is left as it is when there is none), ErrorReason its reason.
func (s *scanner) janusError(depth int, j *Janus) error {
	ok, err := s.object(depth)
	if err != nil {
		return err
	}
	j.ErrorReason = ""
	if !ok {
		return nil
	}
	depth++
	var (
		hasCode bool
		code    int
		reason  string
	)
	for first := true; ; first = false {
		k, ok, err := s.member(first, true)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(k) {
		case "code":
			hasCode = true
			code, err = s.intValue(depth)
		case "reason":
			reason, err = s.stringValue(depth)
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return err
		}
	}
	if hasCode {
		j.ErrorCode = code
	}
	j.ErrorReason = reason
	return nil
}

// SplitObjects splits a WebSocket frame into the JSON values it holds (Janus
// runs several objects sent in one frame in order). White space between
// values goes with the value after it and trailing white space with the last,
// so that the parts joined are the frame, byte for byte. A frame that holds one value gives one part. When the frame stops
// being valid JSON, the rest is returned as a last part with the error.
//
// Like a json.Decoder, it takes the longest prefix that can be a value, so
// that `1x` is `1` then the invalid `x`, and `01` is `0` then `1`.
func SplitObjects(frame []byte) ([][]byte, error) {
	var parts [][]byte
	s := scanner{b: frame}
	start, last := 0, 0
	for !s.atEnd() {
		if err := s.skipValue(0); err != nil {
			parts = append(parts, frame[start:])
			return parts, fmt.Errorf("split frame at byte %d: %w", start, err)
		}
		parts = append(parts, frame[start:s.i])
		last, start = start, s.i
	}
	switch {
	case len(parts) == 0:
		return [][]byte{frame}, nil
	case start < len(frame): // trailing white space goes with the last value
		parts[len(parts)-1] = frame[last:]
	}
	return parts, nil
}

// SplitArray splits a long-poll answer into its Janus messages. Janus answers
// a poll with one object when maxev is absent or 1 and with an array when
// maxev ≥ 2. For an array, each element's bytes are returned exactly as they
// stood in it and isArray is true; otherwise the body is one element.
// Elements are copies: they share no memory with body.
func SplitArray(body []byte) (elems [][]byte, isArray bool, err error) {
	s := scanner{b: body}
	s.ws()
	if s.i >= len(body) || body[s.i] != '[' {
		return [][]byte{body}, false, nil
	}
	// Each element is read on its own, with the full nesting limit, as a
	// json.Decoder reads it.
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil {
			return [][]byte{body}, false, fmt.Errorf("split poll answer: element %d: %w", len(elems), err)
		}
		if !ok {
			break
		}
		start := s.i
		if err := s.skipValue(0); err != nil {
			return [][]byte{body}, false, fmt.Errorf("split poll answer: element %d: %w", len(elems), err)
		}
		elems = append(elems, append([]byte(nil), body[start:s.i]...))
	}
	if end := s.i; !s.atEnd() {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %d bytes after the array", len(body)-end)
	}
	return elems, true, nil
}

// ParsePath returns the session and handle ids named in a Janus or admin
// HTTP path such as /janus/<session>/<handle>; base is the first component
// ("janus", "admin"). Ids that are absent or not integers are 0.
func ParsePath(path string) (base string, session, handle uint64) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	base = parts[0]
	if len(parts) > 1 {
		session, _ = strconv.ParseUint(parts[1], 10, 64)
	}
	if len(parts) > 2 {
		handle, _ = strconv.ParseUint(parts[2], 10, 64)
	}
	return base, session, handle
}

// FillPathIDs takes the session and handle from e's HTTP path (ParsePath)
// when its body does not name them, as REST clients put them in the URL:
// the session for any event, the handle only for a request (an answer's
// handle is the sender, which the path does not say).
func (e *Event) FillPathIDs() {
	_, session, handle := ParsePath(e.Path)
	if session == 0 && handle == 0 {
		return
	}
	if e.Janus == nil {
		e.Janus = &Janus{}
	}
	if e.Janus.SessionID == 0 {
		e.Janus.SessionID = session
	}
	if e.Janus.HandleID == 0 && e.Direction == ToGateway {
		e.Janus.HandleID = handle
	}
}
