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

// SecretKeys are the JSON keys whose string values Redact replaces, at any
// depth: the API secret, stored tokens and the admin secret.
var SecretKeys = []string{"apisecret", "token", "admin_secret"}

// SecretParams are the query parameters RedactQuery replaces: a long-poll
// GET carries the API secret or token in its URL.
var SecretParams = []string{"apisecret", "token", "admin_secret"}

// SecretHeaders are the headers whose values are redacted.
var SecretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// Redact returns body with the string value of every key in keys replaced by
// RedactedMarker, and whether it changed anything. It works on the bytes, so
// the body keeps its shape (white space, key order, other values) and even a
// body that is not valid JSON loses its secrets. body is not modified.
func Redact(body []byte, keys []string) ([]byte, bool) {
	// One pass from left to right. Not knowing whether a quote opens or
	// closes a string (the body may be cut short or not be JSON at all),
	// every quote that is not escaped is tried as the opening of a key; a
	// string that is not a secret key is stepped over to its closing quote,
	// which is tried in turn. In valid JSON that visits exactly the
	// unescaped quotes, so a key is never looked for inside a string, and
	// since a pass only ever rewrites values it steps over, a second pass
	// makes the same decisions and changes nothing.
	var out []byte // allocated on the first secret found
	done := 0      // body[:done] is in out
	for i := 0; ; {
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
		if j >= len(body) || body[j] != '"' {
			continue // not a string: left alone
		}
		vend := stringEnd(body, j) // closing quote, or len(body)
		if string(body[j+1:vend]) == RedactedMarker {
			i = vend
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(body)+len(RedactedMarker))
		}
		out = append(out, body[done:j+1]...)
		out = append(out, RedactedMarker...)
		if vend == len(body) { // unterminated string: redact to the end
			out = append(out, '"')
			done = len(body)
			break
		}
		done, i = vend, vend
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
// RedactedMarker, keeping the order and encoding of everything else.
func RedactQuery(q string, params []string) (string, bool) {
	if q == "" {
		return q, false
	}
	pairs := strings.Split(q, "&")
	changed := false
	for i, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		for _, s := range params {
			if k == s && v != RedactedMarker {
				pairs[i] = k + "=" + RedactedMarker
				changed = true
			}
		}
	}
	if !changed {
		return q, false
	}
	return strings.Join(pairs, "&"), true
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
