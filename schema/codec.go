package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// Encode returns the JSON encoding of ev, with V set to Version. The encoding
// is one line without a trailing newline.
func Encode(ev *Event) ([]byte, error) {
	alias := eventAlias(*ev)
	alias.V = Version
	w := wireEvent{eventAlias: &alias}
	if len(ev.Body) > 0 {
		if utf8.Valid(ev.Body) {
			s := string(ev.Body)
			w.Body = &s
		} else {
			w.BodyBase64 = ev.Body
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Decode parses an event encoded by Encode. It refuses events without an id
// or version, and events of a newer version (ErrUnknownVersion).
func Decode(b []byte) (*Event, error) {
	var alias eventAlias
	w := wireEvent{eventAlias: &alias}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, &DecodeError{Reason: "invalid JSON", Err: err}
	}
	switch {
	case alias.V == 0:
		return nil, &DecodeError{Reason: "no version"}
	case alias.V > Version:
		return nil, &DecodeError{Reason: fmt.Sprintf("version %d, this janustap reads up to %d", alias.V, Version), Err: ErrUnknownVersion}
	case alias.V < 0:
		return nil, &DecodeError{Reason: fmt.Sprintf("version %d", alias.V)}
	case alias.ID == "":
		return nil, &DecodeError{Reason: "no id"}
	case w.Body != nil && w.BodyBase64 != nil:
		return nil, &DecodeError{Reason: "both body and body_base64"}
	}
	ev := Event(alias)
	switch {
	case w.Body != nil:
		ev.Body = []byte(*w.Body)
	case w.BodyBase64 != nil:
		ev.Body = w.BodyBase64
	}
	return &ev, nil
}
