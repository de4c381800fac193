package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrNotObject is returned by ParseJanus for a body that is valid JSON but
// not an object.
var ErrNotObject = errors.New("not a JSON object")

// ParseJanus extracts the Janus fields of one message. Keys are matched
// exactly, as Janus does; ids are taken only when they are non-negative
// integers, since Janus ignores ids of any other type. The body is not
// changed or kept.
func ParseJanus(body []byte) (*Janus, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("parse janus message: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("parse janus message: %w", ErrNotObject)
	}
	j := &Janus{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("parse janus message: %w", err)
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("parse janus message: value of %q: %w", key, err)
		}
		switch key {
		case "janus":
			j.Janus = strings.ToLower(jsonString(raw))
		case "transaction":
			j.Transaction = jsonString(raw)
		case "session_id":
			j.SessionID = jsonID(raw)
		case "handle_id":
			j.HandleID = jsonID(raw)
		case "sender":
			j.Sender = jsonID(raw)
		case "plugin":
			j.Plugin = jsonString(raw)
		case "opaque_id":
			j.OpaqueID = jsonString(raw)
		case "reason":
			j.Reason = jsonString(raw)
		case "data":
			j.DataID = fieldID(raw, "id")
		case "body":
			j.PluginKey, j.PluginValue, j.PluginError = pluginData(raw)
		case "plugindata":
			// A map, not a struct: encoding/json matches struct fields
			// case-insensitively, Janus matches keys exactly.
			var pd map[string]json.RawMessage
			if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &pd) == nil {
				j.Plugin = jsonString(pd["plugin"])
				j.PluginKey, j.PluginValue, j.PluginError = pluginData(pd["data"])
			}
		case "jsep":
			j.HasJSEP = len(raw) > 0 && raw[0] == '{'
			if j.HasJSEP {
				j.JSEP = jsonString(field(raw, "type"))
			}
		case "error":
			if ec := field(raw, "code"); ec != nil {
				j.ErrorCode = int(jsonInt(ec))
			}
			j.ErrorReason = jsonString(field(raw, "reason"))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("parse janus message: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse janus message: data after the object")
	}
	return j, nil
}

// jsonString returns raw as a string when it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonID returns raw as an id when it is a non-negative JSON integer, else 0.
func jsonID(raw json.RawMessage) uint64 {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// jsonInt returns raw as an integer when it is one, else 0.
func jsonInt(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// field returns the raw value of key in the JSON object raw, or nil.
func field(raw json.RawMessage, key string) json.RawMessage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m[key]
}

// fieldID returns the id at key of the JSON object raw, or 0.
func fieldID(raw json.RawMessage, key string) uint64 {
	return jsonID(field(raw, key))
}

// pluginData returns the first key of a plugin payload, that key's value when
// it is a string or number, and the payload's error_code.
func pluginData(raw json.RawMessage) (key, value string, errorCode int) {
	if len(raw) == 0 || raw[0] != '{' {
		return "", "", 0
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return "", "", 0
	}
	first := true
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return key, value, errorCode
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return key, value, errorCode
		}
		if first {
			key, first = k, false
			switch {
			case len(v) > 0 && v[0] == '"':
				value = jsonString(v)
			case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'):
				value = string(v)
			}
		}
		if k == "error_code" {
			errorCode = int(jsonInt(v))
		}
	}
	return key, value, errorCode
}

// SplitObjects splits a WebSocket frame into the JSON values it holds (Janus
// runs several objects sent in one frame in order). White space between
// values goes with the value after it and trailing white space with the last,
// so that the parts joined are the frame, byte for byte. A frame that holds one value gives one part. When the frame stops
// being valid JSON, the rest is returned as a last part with the error.
func SplitObjects(frame []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(frame))
	var parts [][]byte
	start, last := 0, 0
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			parts = append(parts, frame[start:])
			return parts, fmt.Errorf("split frame at byte %d: %w", start, err)
		}
		end := int(dec.InputOffset())
		parts = append(parts, frame[start:end])
		last, start = start, end
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
func SplitArray(body []byte) (elems [][]byte, isArray bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return [][]byte{body}, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %w", err)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return [][]byte{body}, false, fmt.Errorf("split poll answer: element %d: %w", len(elems), err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %w", err)
	}
	if rest := body[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %d bytes after the array", len(rest))
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
