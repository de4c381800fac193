package schema

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Encode returns the JSON encoding of ev, with V set to VersionOf(ev.Kind)
// (1, or EvhVersion for a JanusEvent), or ev.V when it is newer (up to Version). The encoding
// is one line without a trailing newline.
//
// It writes the bytes that encoding/json writes for wireEvent (with HTML
// escaping off), field for field, without reflection: every event is encoded
// on the path of the message it records, before that is forwarded. The
// differential fuzz target in reference_test.go holds it to encoding/json.
func Encode(ev *Event) ([]byte, error) {
	size := 320 + len(ev.Body) + len(ev.Body)/8
	b := make([]byte, 0, size)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(encodedVersion(ev)), 10)
	b = appendStringField(b, `,"id":`, ev.ID)
	b = appendStringField(b, `,"gateway":`, ev.Gateway)
	b = appendOptString(b, `,"tap":`, ev.Tap)
	b = appendStringField(b, `,"conn":`, ev.Conn)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, ev.Seq, 10)
	b = append(b, `,"time":"`...)
	b, err := ev.Time.AppendText(b) // RFC 3339 with nanoseconds, as MarshalJSON
	if err != nil {
		return nil, fmt.Errorf("encode event %s: time: %w", ev.ID, err)
	}
	b = append(b, `","mono":`...)
	b = strconv.AppendInt(b, ev.Mono, 10)
	b = appendStringField(b, `,"transport":`, string(ev.Transport))
	b = appendStringField(b, `,"dir":`, string(ev.Direction))
	b = appendStringField(b, `,"kind":`, string(ev.Kind))
	b = appendOptString(b, `,"method":`, ev.Method)
	b = appendOptString(b, `,"path":`, ev.Path)
	b = appendOptString(b, `,"query":`, ev.Query)
	b = appendOptInt(b, `,"status":`, int64(ev.Status))
	b = appendMap(b, `,"header":`, ev.Header)
	b = appendOptString(b, `,"subprotocol":`, ev.Subprotocol)
	b = appendOptInt(b, `,"close_code":`, int64(ev.CloseCode))
	b = appendOptString(b, `,"close_text":`, ev.CloseText)
	b = appendOptBool(b, `,"binary":true`, ev.Binary)
	b = appendOptString(b, `,"parent":`, ev.Parent)
	b = appendOptInt(b, `,"part":`, int64(ev.Part))
	b = appendOptInt(b, `,"parts":`, int64(ev.Parts))
	b = appendOptBool(b, `,"batch":true`, ev.Batch)
	b = appendOptInt(b, `,"body_size":`, int64(ev.BodySize))
	b = appendOptBool(b, `,"truncated":true`, ev.Truncated)
	b = appendOptString(b, `,"body_sha256":`, ev.BodySHA256)
	b = appendOptBool(b, `,"redacted":true`, ev.Redacted)
	if j := ev.Janus; j != nil {
		b = append(b, `,"janus":{`...)
		n := len(b)
		b = appendOptString(b, `,"janus":`, j.Janus)
		b = appendOptString(b, `,"transaction":`, j.Transaction)
		b = appendOptUint(b, `,"session_id":`, j.SessionID)
		b = appendOptUint(b, `,"handle_id":`, j.HandleID)
		b = appendOptUint(b, `,"sender":`, j.Sender)
		b = appendOptUint(b, `,"data_id":`, j.DataID)
		b = appendOptString(b, `,"plugin":`, j.Plugin)
		b = appendOptString(b, `,"plugin_key":`, j.PluginKey)
		b = appendOptString(b, `,"plugin_value":`, j.PluginValue)
		b = appendOptInt(b, `,"plugin_error":`, int64(j.PluginError))
		b = appendOptInt(b, `,"error_code":`, int64(j.ErrorCode))
		b = appendOptString(b, `,"error_reason":`, j.ErrorReason)
		b = appendOptString(b, `,"jsep":`, j.JSEP)
		b = appendOptBool(b, `,"has_jsep":true`, j.HasJSEP)
		b = appendOptString(b, `,"opaque_id":`, j.OpaqueID)
		b = appendOptString(b, `,"reason":`, j.Reason)
		if len(b) > n {
			// The first field written has a comma it must not have.
			b = append(b[:n], b[n+1:]...)
		}
		b = append(b, '}')
	}
	b = appendOptString(b, `,"parse_error":`, ev.ParseError)
	b = appendOptString(b, `,"error":`, ev.Error)
	b = appendMap(b, `,"labels":`, ev.Labels)
	if len(ev.Body) > 0 {
		if utf8.Valid(ev.Body) {
			b = append(b, `,"body":`...)
			b = appendString(b, ev.Body)
		} else {
			b = append(b, `,"body_base64":"`...)
			b = base64.StdEncoding.AppendEncode(b, ev.Body)
			b = append(b, '"')
		}
	}
	return append(b, '}'), nil
}

// encodedVersion is the version Encode writes for ev: VersionOf its kind,
// or its own V when that is newer and still one this package writes (an
// event decoded from a newer encoding keeps it).
func encodedVersion(ev *Event) int {
	v := VersionOf(ev.Kind)
	if ev.V > v && ev.V <= Version {
		v = ev.V
	}
	return v
}

func appendStringField(b []byte, key, s string) []byte {
	return appendString(append(b, key...), s)
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendOptInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendOptUint(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

func appendOptBool(b []byte, keyTrue string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, keyTrue...)
}

// appendMap appends a map of strings with its keys sorted, as encoding/json
// does; an empty map is left out.
func appendMap(b []byte, key string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	var keys [16]string
	ks := keys[:0]
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	b = append(b, key...)
	b = append(b, '{')
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: quotes, backslashes and control characters escaped,
// U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD. It steps
// over eight plain ASCII bytes at a time, since bodies are long and mostly
// that.
func appendString[S string | []byte](b []byte, s S) []byte {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			x := load64(s, i)
			q, bs := x^('"'*ones), x^('\\'*ones)
			// Is any byte below 0x20, a quote, a backslash, or ≥ 0x80?
			// (The classic "has a byte less than n" and "has a zero byte"
			// tests, exact as to whether any byte qualifies.)
			if ((x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&high == 0 {
				i += 8
				continue
			}
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscapedByte(b, c)
			i++
			start = i
			continue
		}
		r, n := decodeRune(s[i:])
		if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = appendEscapedRune(b, r)
			start = i + n
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// load64 reads the eight bytes of s from i on, little-endian (the compiler
// makes it one load).
func load64[S string | []byte](s S, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func decodeRune[S string | []byte](s S) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	panic("unreachable")
}

const hexDigits = "0123456789abcdef"

// appendEscapedByte escapes an ASCII quote, backslash or control character.
func appendEscapedByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendEscapedRune escapes U+2028, U+2029, or an invalid byte as U+FFFD
// (r is then utf8.RuneError).
func appendEscapedRune(b []byte, r rune) []byte {
	if r == utf8.RuneError {
		return append(b, `\ufffd`...)
	}
	return append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
}
