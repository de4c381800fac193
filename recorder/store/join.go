package store

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/janustap/janustap/schema"
)

// maxJoinField bounds what a handle keeps of a room or display name: a
// client may send anything, and the columns are indexed.
const maxJoinField = 256

// joinOf returns the room and display name of a plugin join request (a
// Janus message whose body.request is "join" or "joinandconfigure"), each
// "" when the request does not carry it. A room id is kept as text: a
// number's digits as sent, or a string id. ok is false for any other
// message, and for a body that does not parse (truncated, say).
func joinOf(ev *schema.Event, j *schema.Janus) (room, display string, ok bool) {
	if j.Janus != "message" || j.PluginKey != "request" || (j.PluginValue != "join" && j.PluginValue != "joinandconfigure") {
		return "", "", false
	}
	var msg struct {
		Body struct {
			Room    json.RawMessage `json:"room"`
			Display json.RawMessage `json:"display"`
		} `json:"body"`
	}
	if err := json.Unmarshal(ev.Body, &msg); err != nil {
		return "", "", false
	}
	return joinField(msg.Body.Room), joinField(msg.Body.Display), true
}

// joinField returns a JSON string's value or a number's text, else "".
func joinField(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	switch {
	case len(raw) == 0:
		return ""
	case raw[0] == '"':
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		s = string(raw)
	default:
		return ""
	}
	s = strings.TrimSpace(s)
	if len(s) > maxJoinField {
		s = strings.ToValidUTF8(s[:maxJoinField], "")
	}
	return s
}
