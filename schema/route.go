package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// DecodeRoute reads what routes an encoded event: its id, gateway,
// transport and dir, with which Event.Subject names its subject. Those
// fields come first in Encode's layout, so it reads no more of the event
// than they take, and reads the event whole (with encoding/json) only when
// it is laid out otherwise. The returned event has only those fields set.
func DecodeRoute(data []byte) (Event, error) {
	if ev, ok := routeFields(data); ok {
		return ev, nil
	}
	return routeDecode(data)
}

// routeFields reads id, gateway, transport and dir from the start of an
// event as Encode lays it out: an object whose first members have
// string values without escapes or plain integers. It gives up (ok false)
// on anything else, for routeDecode to read.
func routeFields(data []byte) (ev Event, ok bool) {
	b, found := bytes.CutPrefix(data, []byte("{"))
	if !found {
		return ev, false
	}
	for n := 0; n < 4; {
		// "name":
		if len(b) == 0 || b[0] != '"' {
			return ev, false
		}
		end := bytes.IndexByte(b[1:], '"')
		if end < 0 || len(b) < end+3 || b[end+2] != ':' {
			return ev, false
		}
		name := b[1 : end+1]
		if !plainString(name) {
			return ev, false
		}
		b = b[end+3:]
		// a value: a string without escapes, or digits
		var val []byte
		switch {
		case len(b) > 0 && b[0] == '"':
			end := bytes.IndexByte(b[1:], '"')
			if end < 0 {
				return ev, false
			}
			val = b[1 : end+1]
			if !plainString(val) {
				return ev, false
			}
			b = b[end+2:]
		default:
			i := intLen(b)
			if i == 0 {
				return ev, false
			}
			b = b[i:]
			switch string(name) {
			case "id", "gateway", "transport", "dir":
				return ev, false // not a string: let the decoder say why
			}
		}
		switch string(name) {
		case "id":
			ev.ID = string(val)
		case "gateway":
			ev.Gateway = string(val)
		case "transport":
			ev.Transport = Transport(val)
		case "dir":
			ev.Direction = Direction(val)
		default:
			n--
		}
		n++
		if n < 4 {
			if len(b) == 0 || b[0] != ',' {
				return ev, false
			}
			b = b[1:]
		}
	}
	return ev, ev.ID != ""
}

// intLen is the length of the JSON integer at the start of b
// (-?(0|[1-9][0-9]*)), or 0 when b does not start with one.
func intLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		return i + 1
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	return 0
}

// plainString says whether s, the inside of a JSON string, needs no
// decoding: valid UTF-8 without escapes or control characters.
func plainString(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}

// routeDecode is DecodeRoute for any JSON layout, with encoding/json.
func routeDecode(data []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Event{}, errors.New("not a JSON object")
	}
	for found := 0; found < 4 && dec.More(); {
		key, err := dec.Token()
		if err != nil {
			return Event{}, fmt.Errorf("read event: %w", err)
		}
		var dst any
		switch key {
		case "id":
			dst = &ev.ID
		case "gateway":
			dst = &ev.Gateway
		case "transport":
			dst = &ev.Transport
		case "dir":
			dst = &ev.Direction
		default:
			dst = new(json.RawMessage)
			found-- // skipped, not found
		}
		if err := dec.Decode(dst); err != nil {
			return Event{}, fmt.Errorf("read event field %v: %w", key, err)
		}
		found++
	}
	if ev.ID == "" {
		return Event{}, errors.New("event has no id")
	}
	return ev, nil
}
