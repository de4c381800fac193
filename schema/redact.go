package schema

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// RedactedMarker replaces the value of a secret. It needs no escaping in JSON
// strings, URLs or headers.
const RedactedMarker = "REDACTED"

// SecretKeys are the JSON keys whose values Redact replaces, at any depth
// and whatever their type: the API secret, stored tokens and the admin
// secret.
var SecretKeys = []string{"apisecret", "token", "admin_secret"}

// SecretParams are the query parameters RedactQuery replaces: a long-poll
// GET carries the API secret or token in its URL.
var SecretParams = []string{"apisecret", "token", "admin_secret"}

// SecretHeaders are the headers whose values are redacted.
var SecretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// Redact returns body with the value of every key in keys replaced by
// RedactedMarker (a string: an array, object or number is replaced whole;
// null is kept), and whether it changed anything. It works on the bytes, so
// the body keeps its shape (white space, key order, other values) and even a
// body that is not valid JSON loses its secrets. body is not modified.
func Redact(body []byte, keys []string) ([]byte, bool) {
	return redactKeys(body, keys, wholeValue)
}

// RedactStrings is Redact for values that are strings or arrays of strings:
// it replaces the value of every key in keys by RedactedMarker when it is a
// string, and each string of it when it is an array, keeping the length of
// arrays. Values of other types are left alone.
func RedactStrings(body []byte, keys []string) ([]byte, bool) {
	return redactKeys(body, keys, stringsOnly)
}

// valueMode says how redactKeys replaces the value of a key.
type valueMode int

const (
	wholeValue  valueMode = iota // any value but null, replaced whole by the marker
	stringsOnly                  // a string, or each string of an array
)

// redactKeys is Redact and RedactStrings: one scanner for both.
func redactKeys(body []byte, keys []string, mode valueMode) ([]byte, bool) {
	// One pass from left to right. Not knowing whether a quote opens or
	// closes a string (the body may be cut short or not be JSON at all),
	// every quote that is not escaped is tried as the opening of a key; a
	// string that is not a key is stepped over to its closing quote,
	// which is tried in turn. In valid JSON that visits exactly the
	// unescaped quotes, so a key is never looked for inside a string, and
	// since a pass only ever rewrites values it steps over, a second pass
	// makes the same decisions and changes nothing.
	var out []byte // allocated on the first value replaced
	done := 0      // body[:done] is in out
	// replace puts the marker in place of the content of the string that
	// opens at body[open] and closes at body[end] (len(body): unterminated,
	// it is closed).
	replace := func(open, end int) {
		if string(body[open+1:end]) == RedactedMarker {
			return
		}
		if out == nil {
			out = make([]byte, 0, len(body)+len(RedactedMarker)+2)
		}
		out = append(out, body[done:open+1]...)
		out = append(out, RedactedMarker...)
		done = end
		if end == len(body) {
			out = append(out, '"')
		}
	}
	for i := 0; i < len(body); {
		q := bytes.IndexByte(body[i:], '"')
		if q < 0 {
			break
		}
		q += i
		end := stringEnd(body, q)
		if end == len(body) {
			break // an unterminated string is no key
		}
		i = end
		if !isKey(body[q+1:end], keys) {
			continue
		}
		j := skipSpace(body, end+1)
		if j >= len(body) || body[j] != ':' {
			continue
		}
		j = skipSpace(body, j+1)
		switch {
		case j >= len(body):
		case body[j] == '"':
			i = stringEnd(body, j) // closing quote, or len(body)
			replace(j, i)
		case mode == stringsOnly && body[j] == '[':
			k := skipSpace(body, j+1)
			for k < len(body) && body[k] == '"' {
				vend := stringEnd(body, k)
				replace(k, vend)
				if k = vend; k == len(body) {
					break
				}
				if k = skipSpace(body, k+1); k < len(body) && body[k] == ',' {
					k = skipSpace(body, k+1)
				}
			}
			i = k
		case mode == wholeValue:
			// A number, an array, an object: replaced whole by the marker
			// (a string). null says there is no secret, and stays.
			vend := valueEnd(body, j)
			if vend == j || string(body[j:vend]) == "null" {
				i = max(i, vend)
				continue
			}
			if out == nil {
				out = make([]byte, 0, len(body)+len(RedactedMarker)+2)
			}
			out = append(out, body[done:j]...)
			out = append(out, '"')
			out = append(out, RedactedMarker...)
			out = append(out, '"')
			done, i = vend, vend
		}
	}
	if out == nil {
		return body, false
	}
	return append(out, body[done:]...), true
}

// isKey reports whether the content of a JSON string, as it stands between
// its quotes, is one of keys once unescaped.
func isKey(s []byte, keys []string) bool {
	if bytes.IndexByte(s, '\\') < 0 {
		for _, k := range keys {
			if k == string(s) {
				return true
			}
		}
		return false
	}
	// An escape takes at most 6 bytes (\uXXXX) per byte it stands for, so a
	// long string such as an SDP is no key and need not be unescaped.
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(k))
	}
	if len(s) > 6*longest {
		return false
	}
	var u string
	if json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &u) != nil {
		return false
	}
	return slices.Contains(keys, u)
}

// valueEnd returns the index just past the JSON value that is not a string
// starting at b[j]: an array or object to its closing bracket (strings in it
// stepped over), anything else to the next comma, bracket or white space;
// len(b) when it does not end.
func valueEnd(b []byte, j int) int {
	if b[j] != '[' && b[j] != '{' {
		i := j
		for i < len(b) && !strings.ContainsRune(",]}\" \t\r\n", rune(b[i])) {
			i++
		}
		return i
	}
	depth := 0
	for i := j; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i)
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the JSON string opening at
// b[open], or len(b) when it is not closed.
func stringEnd(b []byte, open int) int {
	for i := open + 1; i < len(b); {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			break
		}
		i += k
		// The quote is escaped when an odd number of backslashes, all
		// inside the string, stands right before it.
		n := 0
		for i-1-n > open && b[i-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return i
		}
		i++
	}
	return len(b)
}

// RedactQuery returns the raw query q with the values of params replaced by
// RedactedMarker, keeping the order and encoding of everything else. A key
// is matched once percent-decoded ("api%73ecret" is apisecret: Janus's HTTP
// server decodes keys) and whatever its case.
func RedactQuery(q string, params []string) (string, bool) {
	if q == "" {
		return q, false
	}
	pairs := strings.Split(q, "&")
	changed := false
	for i, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		k = unescapeKey(k)
		for _, s := range params {
			if strings.EqualFold(k, s) && v != RedactedMarker {
				pairs[i], _, _ = strings.Cut(p, "=")
				pairs[i] += "=" + RedactedMarker
				changed = true
			}
		}
	}
	if !changed {
		return q, false
	}
	return strings.Join(pairs, "&"), true
}

// unescapeKey decodes the %XX escapes of a query key and its '+' (a
// space), leaving any '%' that starts no valid escape as it is, as a
// lenient server would.
func unescapeKey(k string) string {
	if !strings.ContainsAny(k, "%+") {
		return k
	}
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(k) && ishex(k[i+1]) && ishex(k[i+2]):
			b = append(b, unhex(k[i+1])<<4|unhex(k[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// RedactEvent redacts the secrets of ev in place: body, query and headers.
// It sets ev.Redacted when it changed anything.
func RedactEvent(ev *Event) {
	if b, ok := Redact(ev.Body, SecretKeys); ok {
		ev.Body = b
		ev.Redacted = true
	}
	if q, ok := RedactQuery(ev.Query, SecretParams); ok {
		ev.Query = q
		ev.Redacted = true
	}
	for _, h := range SecretHeaders {
		if v, ok := ev.Header[h]; ok && v != RedactedMarker {
			ev.Header[h] = RedactedMarker
			ev.Redacted = true
		}
	}
}

// HostKeys are the keys of server_info and admin answers whose values tell
// about the gateway's host (Janus 1.1.2): its log file and working
// directory, its addresses, and in handle_info the local ICE candidates and
// the selected pair, which hold them.
var HostKeys = []string{"log-path", "cwd-path", "local-ip", "public-ip", "public-ips", "public_ip",
	"local-candidates", "local-candidate", "selected-pair"}

// JanusEventHostKeys are the keys of host details in Janus's own events:
// HostKeys, the remote candidate (the client's), and the addresses of the
// selected pair's candidates.
var JanusEventHostKeys = append(slices.Clip(HostKeys), "remote-candidate", "address")

// RedactHostDetails replaces the host details (see HostKeys) in the body of
// an encoded event by RedactedMarker, when it is a server_info answer (over
// either API), an admin API answer or an event Janus reported of itself
// (its candidates, selected pair and addresses; see JanusEventHostKeys).
// It returns the event re-encoded, with Redacted set and the label
// redacted=host-details, or raw itself and false when there was nothing to
// redact. Bodies keep their shape, as with RedactStrings.
func RedactHostDetails(raw []byte) ([]byte, bool, error) {
	hit := false
	for _, k := range JanusEventHostKeys {
		if bytes.Contains(raw, []byte(k)) {
			hit = true
			break
		}
	}
	if !hit {
		return raw, false, nil
	}
	ev, err := Decode(raw)
	if err != nil {
		return nil, false, err
	}
	keys := HostKeys
	switch {
	case ev.Kind == JanusEvent:
		keys = JanusEventHostKeys
	case ev.Direction != ToClient || !ev.Transport.IsAdmin() && (ev.Janus == nil || ev.Janus.Janus != "server_info"):
		return raw, false, nil
	}
	body, changed := RedactStrings(ev.Body, keys)
	if !changed {
		return raw, false, nil
	}
	ev.Body, ev.Redacted = body, true
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	ev.Labels["redacted"] = "host-details"
	b, err := Encode(ev)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}
