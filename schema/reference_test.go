package schema

// The implementations of Decode, ParseJanus, SplitObjects and SplitArray on
// top of encoding/json that the scanner of scan.go replaced, kept as the
// reference the differential fuzz targets hold the new ones to: for any
// input, both must fail, or both succeed with deep-equal results.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decodeStd is Decode with json.Unmarshal.
func decodeStd(b []byte) (*Event, error) {
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

// encodeStd is Encode with encoding/json.
func encodeStd(ev *Event) ([]byte, error) {
	alias := eventAlias(*ev)
	alias.V = encodedVersion(ev)
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

// parseJanusStd is ParseJanus with a json.Decoder.
func parseJanusStd(body []byte) (*Janus, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("parse janus message: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("parse janus message: %w", ErrNotObject)
	}
	j := &Janus{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("parse janus message: %w", err)
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("parse janus message: value of %q: %w", key, err)
		}
		switch key {
		case "janus":
			j.Janus = strings.ToLower(jsonStringStd(raw))
		case "transaction":
			j.Transaction = jsonStringStd(raw)
		case "session_id":
			j.SessionID = jsonIDStd(raw)
		case "handle_id":
			j.HandleID = jsonIDStd(raw)
		case "sender":
			j.Sender = jsonIDStd(raw)
		case "plugin":
			j.Plugin = jsonStringStd(raw)
		case "opaque_id":
			j.OpaqueID = jsonStringStd(raw)
		case "reason":
			j.Reason = jsonStringStd(raw)
		case "data":
			j.DataID = jsonIDStd(fieldStd(raw, "id"))
		case "body":
			j.PluginKey, j.PluginValue, j.PluginError = pluginDataStd(raw)
		case "plugindata":
			var pd map[string]json.RawMessage
			if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &pd) == nil {
				j.Plugin = jsonStringStd(pd["plugin"])
				j.PluginKey, j.PluginValue, j.PluginError = pluginDataStd(pd["data"])
			}
		case "jsep":
			j.HasJSEP = len(raw) > 0 && raw[0] == '{'
			if j.HasJSEP {
				j.JSEP = jsonStringStd(fieldStd(raw, "type"))
			}
		case "error":
			if ec := fieldStd(raw, "code"); ec != nil {
				j.ErrorCode = int(jsonIntStd(ec))
			}
			j.ErrorReason = jsonStringStd(fieldStd(raw, "reason"))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("parse janus message: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse janus message: data after the object")
	}
	return j, nil
}

func jsonStringStd(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func jsonIDStd(raw json.RawMessage) uint64 {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func jsonIntStd(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func fieldStd(raw json.RawMessage, key string) json.RawMessage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m[key]
}

func pluginDataStd(raw json.RawMessage) (key, value string, errorCode int) {
	if len(raw) == 0 || raw[0] != '{' {
		return "", "", 0
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return "", "", 0
	}
	first, fromRequest := true, false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return key, value, errorCode
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return key, value, errorCode
		}
		pick := first && !fromRequest || k == "request" && !fromRequest
		first = false
		if pick {
			key, value, fromRequest = k, "", k == "request"
			switch {
			case len(v) > 0 && v[0] == '"':
				value = jsonStringStd(v)
			case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'):
				value = string(v)
			}
		}
		if k == "error_code" {
			errorCode = int(jsonIntStd(v))
		}
	}
	return key, value, errorCode
}

// splitObjectsStd is SplitObjects with a json.Decoder.
func splitObjectsStd(frame []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(frame))
	var parts [][]byte
	start, last := 0, 0
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			parts = append(parts, frame[start:])
			return parts, fmt.Errorf("split frame at byte %d: %w", start, err)
		}
		end := int(dec.InputOffset())
		parts = append(parts, frame[start:end])
		last, start = start, end
	}
	switch {
	case len(parts) == 0:
		return [][]byte{frame}, nil
	case start < len(frame):
		parts[len(parts)-1] = frame[last:]
	}
	return parts, nil
}

// splitArrayStd is SplitArray with a json.Decoder.
func splitArrayStd(body []byte) (elems [][]byte, isArray bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return [][]byte{body}, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %w", err)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return [][]byte{body}, false, fmt.Errorf("split poll answer: element %d: %w", len(elems), err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %w", err)
	}
	if rest := body[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return [][]byte{body}, false, fmt.Errorf("split poll answer: %d bytes after the array", len(rest))
	}
	return elems, true, nil
}

// corpus returns the inputs of the seed corpus files of the fuzz targets
// named, and the golden events.
func corpus(tb testing.TB, targets ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	goldens, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, path := range goldens {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	for _, target := range targets {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		for _, path := range files {
			f, err := os.Open(path)
			if err != nil {
				tb.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<24)
			for sc.Scan() {
				line := sc.Text()
				if q, ok := strings.CutPrefix(line, "[]byte("); ok {
					s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
					if err != nil {
						tb.Fatalf("%s: %v", path, err)
					}
					out = append(out, []byte(s))
				}
			}
			f.Close()
		}
	}
	if len(out) == 0 {
		tb.Fatal("no seeds")
	}
	return out
}

// Messages with the edges of ParseJanus: keys and values of every type,
// duplicates, escapes, invalid UTF-8, nesting.
var janusEdgeSeeds = []string{
	`{"janus":"event","session_id":6635366682236306,"transaction":"m2","sender":4601177821996538,"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}},"jsep":{"type":"answer","sdp":"v=0\r\n"}}`,
	`{"janus":"EvEnT","janus":"\u00c9V\u0130","session_id":-0,"handle_id":1e3,"sender":18446744073709551615,"sender":18446744073709551616}`,
	`{"plugin":"x","plugindata":{},"plugindata":{"data":[]},"plugindata":5}`,
	`{"jsep":{"type":"offer"},"jsep":null,"error":{"code":1},"error":{"reason":"r"},"error":[]}`,
	`{"body":{"error_code":"7","error_code":-9223372036854775808},"body":{"x":1.5e3,"error_code":9223372036854775808}}`,
	`{"data":{"id":1,"id":"2"},"data":{"ID":3}}`,
	"{\"\\u006aanus\":\"a\\ud83d\\ude00\\ud800\\udc00\\ud800x\\udc00\xff\xc3\x28\",\"transaction\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	`{"janus":"x"} `, `{"janus":"x"}x`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":[1,]}`, `{"a":{"b":1,}}`,
	`{,}`, `{"a" 1}`, `{"a":1,}`, `{"a":1 "b":2}`, "{\"a\":\"\x01\"}", "{\"a\":\"\x7f\"}", `{"a":"\x01"}`, `{"a":"\u12"}`, `{"a":"\q"}`,
	`42`, `42x`, `01`, `-`, `"s"x`, `"s`, `true`, `truex`, `tru`, `null`, `[`, `[x`, `]`, `}`, `:`, `,`, ``, ` `, `x`,
}

// Events with the edges of Decode.
var decodeEdgeSeeds = []string{
	`{"v":1,"id":"x","time":"2026-11-24T15:00:00+01:00","body":"","header":{},"labels":{}}`,
	`{"v":1,"id":"x","body_base64":""}`,
	`{"v":2,"id":"x"}`,
	`null`, ` null `, `nullx`, `[]`, `"x"`, `1`, `{}`,
	`{"V":1,"ID":"x","Janus":{"JANUS":"a","ſession_id":1},"\u212aind":"k","tranſport":"ws"}`,
	`{"v":1,"id":"x","header":{"a":"1"},"header":{"b":null},"labels":{"a":"1"},"labels":null,"labels":{"c":"3"}}`,
	`{"v":1,"id":"x","janus":{"janus":"a"},"janus":{"transaction":"t"},"janus":null,"janus":{"sender":5}}`,
	`{"v":1,"id":"x","body_base64":[1,2,3],"body_base64":[null,null]}`,
	`{"v":1,"id":"x","body_base64":"AAEC","body_base64":[null,7,null]}`,
	`{"v":1,"id":"x","body_base64":"e30=\n","body":null}`,
	`{"v":1,"id":"x","body_base64":[],"body":null}`,
	`{"v":1,"id":"x","body_base64":[256]}`, `{"v":1,"id":"x","body_base64":[-0]}`, `{"v":1,"id":"x","body_base64":[1.0]}`,
	`{"v":1,"id":"x","body":"a","body":null}`, `{"v":1,"id":"x","body":"\ud800"}`, "{\"v\":1,\"id\":\"x\",\"body\":\"\xff\"}",
	`{"v":1,"id":"x","time":null}`, `{"v":1,"id":"x","time":"2026-11-24T15:00:00Z","time":null}`,
	`{"v":1,"id":"x","time":"2026-11-24T15:00:00.123456789Z"}`, `{"v":1,"id":"x","time":"2026-11-24T15:00:00,1Z"}`,
	`{"v":1,"id":"x","time":"2026-11-24T15:00:00+24:00"}`, `{"v":1,"id":"x","time":"2026\u002d11-24T15:00:00Z"}`,
	`{"v":1,"id":"x","time":1}`, `{"v":1,"id":"x","time":{}}`,
	`{"v":1,"id":"x","seq":-0}`, `{"v":1,"id":"x","seq":18446744073709551615}`, `{"v":1,"id":"x","mono":-9223372036854775808}`,
	`{"v":1,"id":"x","status":1e2}`, `{"v":1,"id":"x","status":"1"}`, `{"v":1,"id":"x","binary":null,"batch":true,"batch":false}`,
	`{"v":1,"v":null,"id":"x","id":null}`, `{"v":-0,"id":"x"}`, `{"v":-1,"id":"x"}`, `{"v":1,"id":""}`,
	`{"v":1,"id":"x","unknown":{"a":[1,{"b":null}]},"Body":"b"}`, `{"v":1,"id":"x","body":"x","body_base64":null}`,
	`{"v":1,"id":"x","header":{"a":1}}`, `{"\u017fEQ":1,"v":1,"id":"x"}`, `{"ſſſſſſſſſſſſſſſſ":1,"v":1,"id":"x"}`,
	`{"v":1,"id":"x","janus":{"ÞLUGIN":"p","plugin_KEY":"k","Has_Jsep":true}}`, "{\"v\":1,\"id\":\"x\",\"ga\xfftway\":\"g\",\"tap\":\"\xff\"}", `{"v":1,"id":"x","janus":{"session_id":-1}}`, `{"v":1,"id":"x","janus":[]}`,
}

func FuzzDecodeDifferential(f *testing.F) {
	for _, b := range corpus(f, "FuzzDecode") {
		f.Add(b)
	}
	for _, s := range decodeEdgeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecode)
}

func FuzzParseJanusDifferential(f *testing.F) {
	for _, b := range corpus(f, "FuzzParseJanus", "FuzzSplitObjects", "FuzzSplitArray", "FuzzRedact") {
		f.Add(b)
	}
	for _, s := range janusEdgeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkParseJanus)
}

func FuzzSplitDifferential(f *testing.F) {
	for _, b := range corpus(f, "FuzzSplitObjects", "FuzzSplitArray", "FuzzParseJanus") {
		f.Add(b)
	}
	for _, s := range janusEdgeSeeds {
		f.Add([]byte(s))
		f.Add([]byte("[" + s + "]"))
		f.Add([]byte(" [" + s + "," + s + "] "))
	}
	f.Fuzz(checkSplit)
}

// checkDecode fails t unless Decode and decodeStd agree on b: both fail
// with the same reason, or both give deep-equal events.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := Decode(b)
	want, werr := decodeStd(b)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("Decode(%.200q):\nerror %v\nreference error %v", b, gerr, werr)
	}
	if gerr != nil {
		var gde, wde *DecodeError
		if !errors.As(gerr, &gde) || !errors.As(werr, &wde) || gde.Reason != wde.Reason ||
			errors.Is(gerr, ErrUnknownVersion) != errors.Is(werr, ErrUnknownVersion) || got != nil {
			t.Fatalf("Decode(%.200q):\nerror %v\nreference error %v", b, gerr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%.200q) =\n%#v\nreference\n%#v", b, got, want)
	}
}

// checkParseJanus fails t unless ParseJanus and parseJanusStd agree on b:
// both fail, saying alike whether b is not an object, or both give
// deep-equal results.
func checkParseJanus(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := ParseJanus(b)
	want, werr := parseJanusStd(b)
	if (gerr == nil) != (werr == nil) || errors.Is(gerr, ErrNotObject) != errors.Is(werr, ErrNotObject) {
		t.Fatalf("ParseJanus(%.200q):\nerror %v\nreference error %v", b, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseJanus(%.200q) =\n%#v\nreference\n%#v", b, got, want)
	}
}

// checkSplit fails t unless SplitObjects and SplitArray agree with their
// references on b, and SplitArray's elements share no memory with b.
func checkSplit(t *testing.T, b []byte) {
	t.Helper()
	parts, err := SplitObjects(b)
	wparts, werr := splitObjectsStd(b)
	if (err == nil) != (werr == nil) || !reflect.DeepEqual(parts, wparts) {
		t.Fatalf("SplitObjects(%.200q) = %.200q, %v\nreference %.200q, %v", b, parts, err, wparts, werr)
	}
	elems, isArray, err := SplitArray(b)
	welems, wisArray, werr := splitArrayStd(b)
	if (err == nil) != (werr == nil) || isArray != wisArray || !reflect.DeepEqual(elems, welems) {
		t.Fatalf("SplitArray(%.200q) = %.200q, %t, %v\nreference %.200q, %t, %v", b, elems, isArray, err, welems, wisArray, werr)
	}
	if isArray {
		orig := bytes.Clone(b)
		for _, e := range elems {
			clear(e)
		}
		if !bytes.Equal(b, orig) {
			t.Fatalf("SplitArray(%.200q): elements share memory with the body", orig)
		}
	}
}

// TestDifferentialDepth holds the scanner to encoding/json's nesting limit
// of 10000 where a fuzzer does not go: for Decode the whole event counts
// (json.Unmarshal checks it at once), for ParseJanus and the splits each
// value read on its own by the json.Decoder has the whole limit.
func TestDifferentialDepth(t *testing.T) {
	nest := func(n int, open, close string) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	for _, n := range []int{maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1} {
		arr, obj := nest(n, "[", "]"), strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n)
		for _, v := range []string{arr, obj, "[" + arr + "]"} {
			for _, ev := range []string{
				`{"v":1,"id":"x","u":` + v + `}`,
				`{"v":1,"id":"x","janus":{"u":` + v + `}}`,
				`{"v":1,"id":"x","header":{"u":` + v + `}}`,
				`{"v":1,"id":"x","body_base64":` + v + `}`,
				`{"v":1,"id":"x","janus":` + v + `}`,
			} {
				checkDecode(t, []byte(ev))
			}
			for _, m := range []string{
				`{"u":` + v + `}`,
				`{"data":` + v + `}`, `{"data":{"id":` + v + `}}`,
				`{"body":` + v + `}`, `{"body":{"a":` + v + `}}`, `{"body":{"a":1,"error_code":` + v + `}}`,
				`{"plugindata":` + v + `}`, `{"plugindata":{"data":` + v + `}}`, `{"plugindata":{"data":{"a":` + v + `}}}`,
				`{"jsep":` + v + `}`, `{"jsep":{"type":` + v + `}}`,
				`{"error":` + v + `}`, `{"error":{"code":` + v + `,"reason":` + v + `}}`,
				v,
			} {
				checkParseJanus(t, []byte(m))
			}
			checkSplit(t, []byte(v))
			checkSplit(t, []byte(v+v))
			checkSplit(t, []byte("["+v+","+v+"]"))
		}
	}
}

// checkEncode holds Encode to encodeStd: the same bytes, or both failing.
func checkEncode(t *testing.T, ev *Event) {
	t.Helper()
	want, werr := encodeStd(ev)
	got, err := Encode(ev)
	if (err != nil) != (werr != nil) {
		t.Fatalf("Encode error %v, encoding/json error %v", err, werr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%s\nencoding/json =\n%s", got, want)
	}
}

// FuzzEncodeDifferential builds events from fuzzed strings, bodies and
// numbers, and from decoding fuzzed bytes, and holds Encode to
// encoding/json.
func FuzzEncodeDifferential(f *testing.F) {
	for _, b := range corpus(f, "FuzzDecode") {
		f.Add(b, "gw", "k", "v", int64(1), uint64(2))
	}
	f.Add([]byte("{\"janus\":\"x\u2028\"}\xff\x00\b\f\t<>&"), "a\"b\\c", "\x7f\xc3", "\u2029é", int64(-3), uint64(1<<53))
	f.Fuzz(func(t *testing.T, data []byte, s1, s2, s3 string, n int64, u uint64) {
		if ev, err := Decode(data); err == nil {
			checkEncode(t, ev)
		}
		ev := &Event{
			ID: s1, Gateway: s2, Tap: s3, Conn: s1 + s2, Seq: u, Mono: n,
			Time:      time.Unix(n%(1<<35), n%1e9).UTC(),
			Transport: Transport(s2), Direction: Direction(s3), Kind: Kind(s1),
			Method: s2, Path: s3, Query: s1, Status: int(n), Subprotocol: s3,
			CloseCode: int(n >> 3), CloseText: s2, Binary: n&1 == 1,
			Parent: s3, Part: int(n >> 5), Parts: int(u >> 7), Batch: u&1 == 1,
			Body: data, BodySize: len(data), Truncated: n&2 == 2, BodySHA256: s1,
			Redacted: u&2 == 2, ParseError: s2, Error: s3,
		}
		if n&4 == 4 {
			ev.Header = map[string]string{s1: s2, s2: s3, "Content-Type": s1}
			ev.Labels = map[string]string{}
		}
		if n&8 == 8 {
			ev.Labels = map[string]string{s3: s1}
		}
		if u&4 == 4 {
			ev.Janus = &Janus{}
		}
		if u&8 == 8 {
			ev.Janus = &Janus{Janus: s1, Transaction: s2, SessionID: u, HandleID: u >> 1, Sender: u >> 2, DataID: u >> 3,
				Plugin: s3, PluginKey: s1, PluginValue: s2, PluginError: int(n), ErrorCode: int(n >> 1), ErrorReason: s3,
				JSEP: s2, HasJSEP: n&16 == 16, OpaqueID: s1, Reason: s3}
		}
		if u&16 == 16 {
			ev.Janus = &Janus{Reason: s3, HasJSEP: true}
		}
		if n&32 == 32 {
			ev.Time = time.Date(int(u%20000)-5000, 1, 2, 3, 4, 5, int(n%1e9), time.FixedZone("x", int(n%100000)))
		}
		checkEncode(t, ev)
	})
}

// BenchmarkEncodeReference compares Encode with encodeStd on an event with
// a 3000-byte body, the size of an SDP offer.
func BenchmarkEncodeReference(b *testing.B) {
	ev := &Event{ID: "01KAV5Q7RCA1B2C3D4E5F6G7H8", Gateway: "local", Body: make([]byte, 3000)}
	for i := range ev.Body {
		ev.Body[i] = "abcdefghijklmnopqrstuvwxyz0123456789 =:\r\n"[i%41]
	}
	for name, enc := range map[string]func(*Event) ([]byte, error){"encoding-json": encodeStd, "Encode": Encode} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
