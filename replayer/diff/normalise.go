package diff

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/janustap/janustap/schema"
)

// Markers put in place of values that are not compared.
const (
	ignoredMarker = "$ignored" // the value of a key in an Ignore list
	addrMarker    = "$addr"    // an address in an ICE candidate
	portMarker    = "$port"    // a port in an ICE candidate
)

// minTextDigits is the length below which a number inside a string is never
// taken for an id: Janus's random ids are long, and short numbers in text
// (a room the client chose, a codec rate) are the same in both runs anyway.
const minTextDigits = 4

// A Normaliser rewrites the messages of one run of a flow, in order, so that
// two runs can be compared: ids become placeholders numbered by order of
// first appearance, transactions too, and what varies by itself (ICE
// credentials, DTLS fingerprints, addresses, timestamps) is masked. The
// placeholders of a run are consistent across its messages, so the same id
// always gives the same placeholder. See the package documentation for the
// rules.
//
// A Normaliser is not safe for concurrent use.
type Normaliser struct {
	rules *compiled

	ids   map[idKey]string  // (kind, literal) → placeholder
	known map[string]string // decimal literal → placeholder, for ids inside text
	count map[string]int    // kind → placeholders handed out
	txs   map[string]string // raw transaction → placeholder

	txVerb       map[string]string // raw transaction → verb of its request (create, attach)
	txPlugin     map[string]string // raw transaction of an attach → plugin
	handlePlugin map[string]string // handle literal → plugin it is attached to
}

type idKey struct{ kind, literal string }

// NewNormaliser returns a Normaliser for one run; nil rules mean
// DefaultRules.
func NewNormaliser(rules *Rules) *Normaliser { return newNormaliser(compile(rules)) }

func newNormaliser(c *compiled) *Normaliser {
	return &Normaliser{
		rules:        c,
		ids:          map[idKey]string{},
		known:        map[string]string{},
		count:        map[string]int{},
		txs:          map[string]string{},
		txVerb:       map[string]string{},
		txPlugin:     map[string]string{},
		handlePlugin: map[string]string{},
	}
}

// Normalise normalises one message body on its own, as the first message of
// a run, and returns it as compact JSON with sorted keys. Normalising its
// result again gives the same bytes.
func Normalise(body []byte, rules *Rules) ([]byte, error) {
	return NewNormaliser(rules).Body(body)
}

// Body normalises the next message of the run and returns it as compact
// JSON with sorted keys. The body must be one JSON value.
func (n *Normaliser) Body(body []byte) ([]byte, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("normalise body: %w", err)
	}
	b, err := encodeJSON(n.message(v, ""))
	if err != nil {
		return nil, fmt.Errorf("normalise body: %w", err)
	}
	return b, nil
}

// Event normalises the next event of the run: its body, and for an HTTP
// request its path, whose handle says which plugin's rules apply to the
// body. An empty body gives a nil body.
func (n *Normaliser) Event(ev *schema.Event) (path string, body []byte, err error) {
	pathHandle := ""
	if ev.Kind == schema.Request && isHTTP(ev) {
		path, pathHandle = n.path(ev.Path)
	}
	if len(ev.Body) == 0 {
		return path, nil, nil
	}
	v, err := decodeJSON(ev.Body)
	if err != nil {
		return path, nil, fmt.Errorf("normalise body of event %s: %w", ev.ID, err)
	}
	if body, err = encodeJSON(n.message(v, pathHandle)); err != nil {
		return path, nil, fmt.Errorf("normalise body of event %s: %w", ev.ID, err)
	}
	return path, body, nil
}

// Path normalises the ids in a Janus or admin HTTP path:
// /janus/6635366682236306/4601177821996538 becomes /janus/$S1/$H1.
func (n *Normaliser) Path(path string) string {
	p, _ := n.path(path)
	return p
}

// path returns the normalised path and the handle literal it names.
func (n *Normaliser) path(path string) (string, string) {
	parts := strings.Split(path, "/")
	level, handle := 0, ""
	for i, p := range parts {
		if p == "" {
			continue
		}
		level++
		if (level != 2 && level != 3) || !isDigits(p) || p == "0" {
			continue
		}
		kind := n.rules.sessionKind
		if level == 3 {
			kind, handle = n.rules.handleKind, p
		}
		parts[i] = n.placeholder(kind, p)
	}
	return strings.Join(parts, "/"), handle
}

// message normalises one decoded message. pathHandle is the handle named by
// the HTTP path of a request, if any.
func (n *Normaliser) message(v any, pathHandle string) any {
	top, ok := v.(map[string]any)
	if !ok {
		n.value("", v, n.rules.global, false)
		return n.value("", v, n.rules.global, true)
	}
	janus, _ := top["janus"].(string)
	janus = strings.ToLower(janus)
	rawTx, _ := top["transaction"].(string)
	handle := cmp.Or(literal(top["handle_id"]), pathHandle)

	// The plugin of a request body is the one its handle is attached to.
	bodyScope := n.rules.global
	if p, ok := n.handlePlugin[handle]; ok {
		bodyScope = n.rules.plugin(p)
	}
	// data.id is a session for a create, a handle for an attach; without
	// the request, a success that names its session is an attach.
	dataKind := n.rules.sessionKind
	switch n.txVerb[rawTx] {
	case "create":
	case "attach":
		dataKind = n.rules.handleKind
	default:
		if _, ok := top["session_id"]; ok {
			dataKind = n.rules.handleKind
		}
	}

	field := func(k string, val any, emit bool) any {
		switch {
		case n.rules.global.ignore[k]:
			return ignoredMarker
		case k == "janus":
			if s, ok := val.(string); ok {
				return strings.ToLower(s)
			}
		case k == "transaction":
			if s, ok := val.(string); ok {
				return n.transaction(s)
			}
		case k == "data":
			if m, ok := val.(map[string]any); ok {
				return n.object(m, n.rules.dataScope(dataKind), emit)
			}
		case k == "id" && janus == "create":
			return n.id(val, n.rules.sessionKind, n.rules.global, emit)
		case k == "body":
			if m, ok := val.(map[string]any); ok {
				return n.object(m, bodyScope, emit)
			}
		case k == "plugindata":
			if m, ok := val.(map[string]any); ok {
				return n.plugindata(m, emit)
			}
		case k == "plugin" || k == "opaque_id":
			return val // names, never text with ids
		}
		return n.value(k, val, n.rules.global, emit)
	}
	// Ids are numbered in sorted key order, then the output is built: text
	// can name an id that comes later in the message ("No such session
	// 123" sorts before session_id).
	for _, k := range slices.Sorted(maps.Keys(top)) {
		field(k, top[k], false)
	}
	out := make(map[string]any, len(top))
	for k, val := range top {
		out[k] = field(k, val, true)
	}

	switch janus {
	case "create":
		if rawTx != "" {
			n.txVerb[rawTx] = janus
		}
	case "attach":
		if rawTx != "" {
			n.txVerb[rawTx] = janus
			n.txPlugin[rawTx], _ = top["plugin"].(string)
		}
	}
	if data, ok := top["data"].(map[string]any); ok && n.txVerb[rawTx] == "attach" {
		if id := literal(data["id"]); id != "" {
			n.handlePlugin[id] = n.txPlugin[rawTx]
		}
	}
	return out
}

// plugindata normalises plugindata: its data in the scope of the plugin it
// names.
func (n *Normaliser) plugindata(m map[string]any, emit bool) any {
	name, _ := m["plugin"].(string)
	field := func(k string, val any) any {
		if d, ok := val.(map[string]any); ok && k == "data" {
			return n.object(d, n.rules.plugin(name), emit)
		}
		if k == "plugin" {
			return val
		}
		return n.value(k, val, n.rules.global, emit)
	}
	if !emit {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			field(k, m[k])
		}
		return nil
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[k] = field(k, val)
	}
	return out
}

// value normalises val, the value of key k in scope sc. When emit is false
// it only hands out placeholders for the ids it meets, in order, and its
// result is not used.
func (n *Normaliser) value(k string, val any, sc *scope, emit bool) any {
	if sc.ignore[k] {
		return ignoredMarker
	}
	if kind, ok := sc.ids[k]; ok {
		return n.id(val, kind, sc, emit)
	}
	switch v := val.(type) {
	case string:
		if !emit {
			return nil
		}
		switch {
		case n.rules.sdpKeys[k] && strings.HasPrefix(v, "v="):
			return normaliseSDP(v, n.rules)
		case k == "candidate" && strings.HasPrefix(v, "candidate:"):
			return maskCandidate(v)
		}
		return n.text(v)
	case map[string]any:
		if _, ok := v["version"]; ok && n.rules.sdpKeys[k] {
			return v // a session description normalised already
		}
		return n.object(v, sc, emit)
	case []any:
		set := sc.sets[k]
		if set {
			v = n.setOrder(v, sc)
		}
		var out []any
		if emit {
			out = make([]any, len(v))
		}
		for i, e := range v {
			o := n.value(k, e, sc, emit)
			if emit {
				out[i] = o
			}
		}
		if emit && set {
			sortEncoded(out)
		}
		return out
	}
	return val
}

// setOrder returns the elements of an unordered list (a key of
// scope.sets) in an order that does not depend on the order Janus sent
// them in, as far as their contents allow: by their scalar fields in key
// order, an id by its placeholder when it has one, a new id after every
// placeholder. The ids first seen in the list are then numbered in the
// same order in both runs. The order of elements that differ only by new
// ids stays as sent, and does not matter: they normalise the same.
func (n *Normaliser) setOrder(v []any, sc *scope) []any {
	keys := make([]string, len(v))
	for i, e := range v {
		keys[i] = n.setKey(e, sc)
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	out := make([]any, len(v))
	for i, j := range idx {
		out[i] = v[j]
	}
	return out
}

// setKey is the sort key of an element of an unordered list.
func (n *Normaliser) setKey(e any, sc *scope) string {
	m, ok := e.(map[string]any)
	if !ok {
		return fmt.Sprint(e)
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if kind, ok := sc.ids[k]; ok {
			p, known := n.ids[idKey{kind, literal(val)}]
			if !known {
				p = "\uffff" // after every placeholder
			}
			b.WriteString(k + "=" + p + ";")
			continue
		}
		switch val.(type) {
		case string, json.Number, bool:
			fmt.Fprintf(&b, "%s=%v;", k, val)
		}
	}
	return b.String()
}

// sortEncoded sorts normalised values by their JSON encoding.
func sortEncoded(out []any) {
	enc := make(map[int]string, len(out))
	idx := make([]int, len(out))
	for i, o := range out {
		b, _ := encodeJSON(o)
		enc[i], idx[i] = string(b), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(enc[a], enc[b]) })
	sorted := make([]any, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	copy(out, sorted)
}

// object normalises an object in scope sc. Placeholders are handed out in
// sorted key order, so that the order of keys on the wire does not matter.
func (n *Normaliser) object(m map[string]any, sc *scope, emit bool) any {
	if !emit {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			n.value(k, m[k], sc, false)
		}
		return nil
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[k] = n.value(k, val, sc, true)
	}
	return out
}

// id normalises the value of an id key of the given kind. A number becomes
// "$S1"; a string becomes "\"$S1\"", so that the JSON type stays visible
// (Janus ignores a session_id given as a string). 0, "" and placeholders
// stay as they are; arrays have each element mapped.
func (n *Normaliser) id(val any, kind string, sc *scope, emit bool) any {
	switch v := val.(type) {
	case json.Number:
		if v == "0" {
			return v
		}
		return n.placeholder(kind, string(v))
	case string:
		if v == "" || v == "ok" || isPlaceholder(v) {
			return v // "ok": videoroom's "leaving" of the handle itself
		}
		return `"` + n.placeholder(kind, v) + `"`
	case []any:
		var out []any
		if emit {
			out = make([]any, len(v))
		}
		for i, e := range v {
			o := n.id(e, kind, sc, emit)
			if emit {
				out[i] = o
			}
		}
		if emit {
			slices.SortStableFunc(out, func(x, y any) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
		}
		return out
	case map[string]any:
		return n.object(v, sc, emit)
	}
	return val
}

// placeholder returns the placeholder of the id literal of the given kind,
// handing out the next one the first time.
func (n *Normaliser) placeholder(kind, lit string) string {
	k := idKey{kind, lit}
	if p, ok := n.ids[k]; ok {
		return p
	}
	n.count[kind]++
	p := "$" + kind + strconv.Itoa(n.count[kind])
	n.ids[k] = p
	if len(lit) >= minTextDigits && isDigits(lit) {
		if _, ok := n.known[lit]; !ok {
			n.known[lit] = p
		}
	}
	return p
}

// transaction returns the placeholder of a transaction ($T1, $T2…).
func (n *Normaliser) transaction(tx string) string {
	if tx == "" || isPlaceholder(tx) {
		return tx
	}
	if p, ok := n.txs[tx]; ok {
		return p
	}
	p := "$T" + strconv.Itoa(len(n.txs)+1)
	n.txs[tx] = p
	return p
}

// text replaces the ids of this run named in free text, such as the reason
// of an error ("No such session 6635366682236306" → "No such session $S1").
// Only whole numbers of at least minTextDigits digits are replaced.
func (n *Normaliser) text(s string) string {
	if len(n.known) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i >= minTextDigits && (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j])) {
			if p, ok := n.known[s[i:j]]; ok {
				if b.Len() == 0 {
					b.Grow(len(s))
				}
				b.WriteString(s[last:i])
				b.WriteString(p)
				last = j
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskCandidate masks the address and port of an ICE candidate line, and
// the related address, related port and ufrag if present; foundation,
// component, transport, priority and type stay.
func maskCandidate(s string) string {
	f := strings.Fields(s)
	if len(f) < 6 {
		return s
	}
	f[4], f[5] = addrMarker, portMarker
	for i := 6; i+1 < len(f); i++ {
		switch f[i] {
		case "raddr":
			f[i+1] = addrMarker
		case "rport":
			f[i+1] = portMarker
		case "ufrag":
			f[i+1] = ignoredMarker
		}
	}
	return strings.Join(f, " ")
}

// isPlaceholder reports whether s is a placeholder or marker this package
// writes: "$" and letters, then optionally digits ($S1, $ignored), maybe in
// double quotes ("$S1", for an id that was a string).
func isPlaceholder(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) < 2 || s[0] != '$' {
		return false
	}
	i := 1
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == 1 {
		return false
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isWordByte reports whether c can be part of a word around a number: a
// number glued to one is not an id.
func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

// literal returns an id as text: a JSON number's digits or a string.
func literal(v any) string {
	switch v := v.(type) {
	case json.Number:
		return string(v)
	case string:
		return v
	}
	return ""
}

// decodeJSON decodes one JSON value, keeping numbers as json.Number so that
// 53-bit ids keep every digit.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// encodeJSON encodes v compactly, with sorted keys and without HTML
// escapes.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
