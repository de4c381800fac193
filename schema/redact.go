package schema

import (
	"bytes"
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
	var out []byte // allocated on the first secret found
	src := body
	changed := false
	for _, key := range keys {
		pat := []byte(`"` + key + `"`)
		if !bytes.Contains(src, pat) {
			continue
		}
		var b bytes.Buffer
		rest := src
		found := false
		for {
			i := bytes.Index(rest, pat)
			if i < 0 {
				break
			}
			j := i + len(pat)
			j = skipSpace(rest, j)
			if j >= len(rest) || rest[j] != ':' {
				b.Write(rest[:i+len(pat)])
				rest = rest[i+len(pat):]
				continue
			}
			j = skipSpace(rest, j+1)
			if j >= len(rest) || rest[j] != '"' {
				b.Write(rest[:j])
				rest = rest[j:]
				continue
			}
			end := stringEnd(rest, j) // index of the closing quote, or len
			if string(rest[j+1:min(end, len(rest))]) == RedactedMarker {
				b.Write(rest[:end])
				rest = rest[end:]
				continue
			}
			b.Write(rest[:j+1])
			b.WriteString(RedactedMarker)
			found = true
			if end >= len(rest) { // unterminated string: redact to the end
				b.WriteByte('"')
				rest = nil
				break
			}
			rest = rest[end:]
		}
		if found {
			b.Write(rest)
			out = b.Bytes()
			src = out
			changed = true
		}
	}
	if !changed {
		return body, false
	}
	return out, true
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
	for i := open + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
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
