// Package rewrite maps the ids of a captured flow to the ones a new gateway
// hands out, and rewrites captured requests with them: session and handle
// ids, the ids plugins mint and clients echo back (videoroom publisher ids,
// private ids, feeds...), transactions, and redacted secrets.
//
// Ids are learned by walking a captured answer and the new run's answer to
// the same request side by side: where the capture had 123 at a key that
// holds ids and the new answer has 456 at the same place, 123 maps to 456.
// Rewriting works on the bytes, so a request keeps its shape and the number
// stays a number.
//
// It may import schema alone.
package rewrite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/janustap/janustap/schema"
)

// DefaultIDKeys are the JSON keys whose numeric values are ids to map, at
// any depth: Janus's own, and those the bundled plugins mint and expect
// back or name again later (videoroom id, private_id, feed, feed_id,
// streams[].feed_id, publishers[].id, the leaving, unpublished and kicked
// feeds; streaming and textroom rooms created without a number).
var DefaultIDKeys = []string{
	"session_id", "handle_id", "sender", "id", "private_id", "feed", "feed_id",
	"room", "publisher_id", "leaving", "unpublished", "kicked",
}

// Secrets fill redacted secrets back in; a field left "" leaves the marker.
type Secrets struct {
	APISecret   string
	Token       string
	AdminSecret string
}

// Map holds what one replay has learned. It is safe for concurrent use.
type Map struct {
	// IDKeys are the keys whose values are ids; nil means DefaultIDKeys.
	IDKeys []string
	// Secrets replace schema.RedactedMarker in requests.
	Secrets Secrets
	// TxSuffix is appended to every captured transaction to make the new
	// one, so that concurrent replays of one capture never share one. ""
	// keeps transactions as they were.
	TxSuffix string

	mu        sync.Mutex
	ids       map[uint64]uint64
	conflicts []string
}

// New returns an empty map.
func New() *Map { return &Map{ids: map[uint64]uint64{}} }

func (m *Map) isIDKey(k string) bool {
	keys := m.IDKeys
	if keys == nil {
		keys = DefaultIDKeys
	}
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// Set records that captured id old is new in this run.
func (m *Map) Set(old, new uint64) {
	if old == 0 || new == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.ids[old]; ok && prev != new {
		m.conflicts = append(m.conflicts, fmt.Sprintf("id %d mapped to %d and then %d", old, prev, new))
		return
	}
	m.ids[old] = new
}

// ID returns the new id of a captured one, and whether it is known.
func (m *Map) ID(old uint64) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.ids[old]
	return n, ok
}

// Conflicts returns the ids that were learned twice with different values.
func (m *Map) Conflicts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.conflicts...)
}

// Tx returns the new transaction of a captured one.
func (m *Map) Tx(old string) string {
	if old == "" || m.TxSuffix == "" {
		return old
	}
	return old + m.TxSuffix
}

// UnTx returns the captured transaction of a new one.
func (m *Map) UnTx(tx string) string {
	if m.TxSuffix == "" {
		return tx
	}
	return strings.TrimSuffix(tx, m.TxSuffix)
}

// Learn walks a captured message and the new run's counterpart side by side
// and maps every id that stands at the same place in both.
func (m *Map) Learn(captured, fresh []byte) {
	// New ids come in data (create, attach) and plugin data; other
	// messages only repeat ids already learned, and decoding them is most
	// of a replay's own work.
	if !bytes.Contains(captured, []byte(`"data"`)) && !bytes.Contains(captured, []byte(`"plugindata"`)) {
		return
	}
	var a, b any
	if decode(captured, &a) != nil || decode(fresh, &b) != nil {
		return
	}
	m.learn("", a, b)
}

func decode(body []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

func (m *Map) learn(key string, a, b any) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return
		}
		for k, x := range av {
			if y, ok := bv[k]; ok {
				m.learn(k, x, y)
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return
		}
		for i, j := range m.pair(av, bv) {
			if j >= 0 {
				m.learn(key, av[i], bv[j])
			}
		}
	case json.Number:
		bv, ok := b.(json.Number)
		if !ok || !m.isIDKey(key) {
			return
		}
		old, err1 := strconv.ParseUint(string(av), 10, 64)
		new, err2 := strconv.ParseUint(string(bv), 10, 64)
		if err1 == nil && err2 == nil {
			m.Set(old, new)
		}
	}
}

// pair pairs the elements of a captured list with those of the new run's:
// lists Janus builds from hash tables (participants, publishers) come in
// any order. An object is paired with the element that agrees with it on
// most of its scalar fields other than ids (display, username...) and on
// the ids already learned; ties go to the same index. pair returns, for
// each element of a, the index of its counterpart in b, or -1.
func (m *Map) pair(a, b []any) []int {
	out := make([]int, len(a))
	used := make([]bool, len(b))
	for i, x := range a {
		out[i] = -1
		xm, ok := x.(map[string]any)
		if !ok {
			if i < len(b) && !used[i] {
				out[i], used[i] = i, true
			}
			continue
		}
		best, bestScore := -1, -1
		for j, y := range b {
			if used[j] {
				continue
			}
			ym, ok := y.(map[string]any)
			if !ok {
				continue
			}
			score := m.agreement(xm, ym)
			if score < 0 {
				continue
			}
			if score > bestScore || score == bestScore && j == i {
				best, bestScore = j, score
			}
		}
		if best >= 0 {
			out[i], used[best] = best, true
		}
	}
	return out
}

// agreement scores how well a captured object x matches a new one y: one
// point per scalar field other than an id that is equal in both, and per id
// whose learned counterpart y has; -1 when such a field or id disagrees.
func (m *Map) agreement(x, y map[string]any) int {
	score := 0
	for k, xv := range x {
		yv, ok := y[k]
		if !ok {
			continue
		}
		if m.isIDKey(k) {
			xn, ok1 := xv.(json.Number)
			yn, ok2 := yv.(json.Number)
			if !ok1 || !ok2 {
				continue
			}
			old, err1 := strconv.ParseUint(string(xn), 10, 64)
			got, err2 := strconv.ParseUint(string(yn), 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			if n, known := m.ID(old); known {
				if n != got {
					return -1
				}
				score++
			}
			continue
		}
		switch xv.(type) {
		case string, bool:
			if xv != yv {
				return -1
			}
			score++
		}
	}
	return score
}

// span is a value in a JSON body to replace.
type span struct {
	start, end int
	with       string
}

// Rewrite returns body with known ids, transactions and redacted secrets
// replaced. A body that is not valid JSON is rewritten up to where it breaks
// and keeps the rest, so a malformed request is replayed malformed the same
// way; where the break is found, the body is returned unchanged with the
// error.
func (m *Map) Rewrite(body []byte) ([]byte, error) {
	var spans []span
	err := walk(body, func(key string, start, end int, tok json.Token) {
		switch v := tok.(type) {
		case json.Number:
			if !m.isIDKey(key) {
				return
			}
			old, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return
			}
			if n, ok := m.ID(old); ok && n != old {
				spans = append(spans, span{start, end, strconv.FormatUint(n, 10)})
			}
		case string:
			var with string
			switch {
			case key == "transaction" && m.TxSuffix != "":
				with = m.Tx(v)
			case v == schema.RedactedMarker && key == "apisecret" && m.Secrets.APISecret != "":
				with = m.Secrets.APISecret
			case v == schema.RedactedMarker && key == "token" && m.Secrets.Token != "":
				with = m.Secrets.Token
			case v == schema.RedactedMarker && key == "admin_secret" && m.Secrets.AdminSecret != "":
				with = m.Secrets.AdminSecret
			default:
				return
			}
			q, _ := json.Marshal(with)
			spans = append(spans, span{start, end, string(q)})
		}
	})
	if err != nil {
		return body, fmt.Errorf("rewrite request: %w", err)
	}
	if len(spans) == 0 {
		return body, nil
	}
	var b bytes.Buffer
	b.Grow(len(body) + 16*len(spans))
	last := 0
	for _, s := range spans {
		b.Write(body[last:s.start])
		b.WriteString(s.with)
		last = s.end
	}
	b.Write(body[last:])
	return b.Bytes(), nil
}

// RewriteQuery fills redacted secrets back into a long-poll query.
func (m *Map) RewriteQuery(q string) string {
	for _, p := range []struct{ k, v string }{{"apisecret", m.Secrets.APISecret}, {"token", m.Secrets.Token}} {
		if p.v != "" {
			q = strings.ReplaceAll(q, p.k+"="+schema.RedactedMarker, p.k+"="+p.v)
		}
	}
	return q
}

// walk calls fn for every scalar value in body that is the value of an
// object key, with the key, the value's byte span and its token.
func walk(body []byte, fn func(key string, start, end int, tok json.Token)) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object    bool
		expectKey bool
		key       string
	}
	var stack []frame
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		end := int(dec.InputOffset())
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.expectKey = true // the container is this key's value
				}
				stack = append(stack, frame{object: d == '{', expectKey: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.object && top.expectKey {
			top.key, _ = tok.(string)
			top.expectKey = false
			continue
		}
		start := before
		for start < end && strings.IndexByte(" \t\r\n,:", body[start]) >= 0 {
			start++
		}
		key := ""
		if top != nil {
			if top.object {
				key = top.key
				top.expectKey = true
			} else {
				// an array element takes the key of the array
				for i := len(stack) - 2; i >= 0; i-- {
					if stack[i].object {
						key = stack[i].key
						break
					}
				}
			}
		}
		fn(key, start, end, tok)
	}
}
