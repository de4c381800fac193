package diff

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/janustap/janustap/schema"
)

// pathDiff is one value that differs between two paired messages.
type pathDiff struct {
	path     string
	a, b     any
	inA, inB bool
	priority int
}

// pathPriority orders the differences of one message: the most telling
// first. Other paths come after, sorted.
var pathPriority = map[string]int{
	"janus":                      1,
	"error.code":                 2,
	"plugindata.data.error_code": 3,
	"http.status":                4,
	"error.reason":               5,
	"plugindata.data.error":      6,
	"plugindata.data.$plugin":    7, // the plugin's own key: "videoroom": "joined"
	"jsep.type":                  8,
}

// diffMessages lists what differs between two paired messages, most
// telling first.
func diffMessages(a, b *message) []pathDiff {
	var out []pathDiff
	na, nb := comparedBodies(a, b)
	if !sameValue(na, nb) {
		diffValue("", na, nb, &out)
	}
	out = append(out, metaDiffs(a, b)...)
	own := ""
	if ev := pluginEvent(a.top); ev != "" {
		name, _, _ := strings.Cut(ev, "\x00")
		own = "plugindata.data." + name[strings.LastIndexByte(name, '.')+1:]
	}
	for i := range out {
		p := out[i].path
		if p == own {
			p = "plugindata.data.$plugin"
		}
		out[i].priority = cmp.Or(pathPriority[p], len(pathPriority)+1)
	}
	slices.SortStableFunc(out, func(x, y pathDiff) int {
		return cmp.Or(cmp.Compare(x.priority, y.priority), cmp.Compare(x.path, y.path))
	})
	return out
}

// metaDiffs compares what is not in the bodies: the method and path of two
// HTTP requests, the status of two HTTP responses.
func metaDiffs(a, b *message) []pathDiff {
	var out []pathDiff
	meta := func(path string, va, vb any) {
		if va != vb {
			out = append(out, pathDiff{path: path, a: va, b: vb, inA: true, inB: true})
		}
	}
	switch {
	case a.ev.Kind == schema.Request && b.ev.Kind == schema.Request && isHTTP(a.ev) && isHTTP(b.ev):
		meta("http.method", a.ev.Method, b.ev.Method)
		meta("http.path", a.path, b.path)
	case a.ev.Kind == schema.Response && b.ev.Kind == schema.Response:
		meta("http.status", json.Number(strconv.Itoa(a.ev.Status)), json.Number(strconv.Itoa(b.ev.Status)))
	}
	return out
}

// sameMessage reports whether two messages do not differ at all.
func sameMessage(a, b *message) bool {
	na, nb := comparedBodies(a, b)
	return sameValue(na, nb) && len(metaDiffs(a, b)) == 0
}

// comparedBodies returns the normalised bodies of two paired messages as they
// are compared. A request sent over HTTP names its session and handle in the
// path, and over WebSocket in the body: when one run replays the other over
// the other transport, where the ids stand is not a difference, so the
// top-level session_id and handle_id of both requests are left out.
func comparedBodies(a, b *message) (any, any) {
	if !a.req || !b.req || isHTTP(a.ev) == isHTTP(b.ev) {
		return a.norm, b.norm
	}
	return withoutIDs(a.norm), withoutIDs(b.norm)
}

func withoutIDs(v any) any {
	top, ok := v.(map[string]any)
	if !ok {
		return v
	}
	_, s := top["session_id"]
	_, h := top["handle_id"]
	if !s && !h {
		return v
	}
	out := make(map[string]any, len(top))
	for k, x := range top {
		if k != "session_id" && k != "handle_id" {
			out[k] = x
		}
	}
	return out
}

// sameValue reports whether two normalised values are equal.
func sameValue(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			if y, ok := bv[k]; !ok || !sameValue(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !sameValue(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return sameScalar(a, b)
}

// diffValue appends to out the paths under path where a and b differ. Two
// objects or two arrays are compared member by member; anything else is
// compared whole.
func diffValue(path string, a, b any, out *[]pathDiff) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case inA && inB && sameValue(x, y):
			case inA && inB:
				diffValue(joinKey(path, k), x, y, out)
			default:
				absent(joinKey(path, k), x, y, inA, out)
			}
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		for i := range max(len(av), len(bv)) {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(av):
				*out = append(*out, pathDiff{path: p, b: bv[i], inB: true})
			case i >= len(bv):
				*out = append(*out, pathDiff{path: p, a: av[i], inA: true})
			case !sameValue(av[i], bv[i]):
				diffValue(p, av[i], bv[i], out)
			}
		}
		return
	}
	if !sameScalar(a, b) {
		*out = append(*out, pathDiff{path: path, a: a, b: b, inA: true, inB: true})
	}
}

// maxSpread is the number of keys up to which an object present in one run
// only is reported key by key (error.code, error.reason), not whole.
const maxSpread = 4

// absent appends the difference of a value present in one run only: x in
// run A when inA, else y in run B.
func absent(path string, x, y any, inA bool, out *[]pathDiff) {
	v := y
	if inA {
		v = x
	}
	if m, ok := v.(map[string]any); ok && len(m) > 0 && len(m) <= maxSpread {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			absent(joinKey(path, k), m[k], m[k], inA, out)
		}
		return
	}
	if inA {
		*out = append(*out, pathDiff{path: path, a: v, inA: true})
	} else {
		*out = append(*out, pathDiff{path: path, b: v, inB: true})
	}
}

func sameScalar(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return b == nil
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case json.Number:
		bv, ok := b.(json.Number)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	}
	return false
}

// joinKey appends key k to a JSON path: .k when k is a plain word, else
// ["k"].
func joinKey(path, k string) string {
	plain := k != ""
	for i := 0; i < len(k) && plain; i++ {
		c := k[i]
		plain = isWordByte(c) || c == '-'
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(k) + "]"
	case path == "":
		return k
	}
	return path + "." + k
}

// render writes a normalised value for a report: compact JSON, but a
// placeholder bare.
func render(v any) string {
	if s, ok := v.(string); ok && isPlaceholder(s) {
		return s
	}
	b, err := encodeJSON(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// renderMessage writes a whole normalised message for a report.
func renderMessage(m *message) string {
	if m.tree != nil {
		return render(m.norm)
	}
	if m.ev.Kind == schema.Request {
		return m.ev.Method + " " + m.path
	}
	if m.ev.Status != 0 {
		return "HTTP " + strconv.Itoa(m.ev.Status) + " without body"
	}
	return "(empty)"
}
