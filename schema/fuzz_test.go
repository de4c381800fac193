package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// More seeds, from real Janus 1.1.2 traffic, are in testdata/fuzz/<FuzzName>/.

// janusSeeds are messages as Janus and janus.js send them, whole, batched
// and cut short.
var janusSeeds = []string{
	`{"janus":"create","transaction":"c1"}`,
	`{"janus":"attach","session_id":6635366682236306,"plugin":"janus.plugin.echotest","opaque_id":"tap-opaque-ws","transaction":"w-attach"}`,
	`{"janus":"success","session_id":6635366682236306,"transaction":"w-attach","data":{"id":4601177821996538}}`,
	`{"janus":"ack","session_id":68911223458987,"transaction":"m1","hint":"I'm taking my time!"}`,
	`{"janus":"error","error":{"code":454,"reason":"JSON error: on line 1: '[' or '{' expected near 'not'"}}`,
	`{"janus":"create","apisecret":"tapsecret","token":"a1b2c3","transaction":"s1"}`,
	`{"janus":"list_sessions","admin_secret":"janusoverlord","transaction":"ha-ls"}`,
	eventAnswer,
	pollBatch,
	`[{"janus":"keepalive"}]`,
	`{"janus":"keepalive","session_id":6635366682236306,"transaction":"w-ka1"}{"janus":"keepalive","session_id":6635366682236306,"transaction":"w-ka2"}`,
	`{"janus":"create","transac`,
	`{"janus":"create","apisecret":"tapsec`,
}

func FuzzParseJanus(f *testing.F) {
	for _, s := range janusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := schema.ParseJanus(b)
		if err != nil {
			return
		}
		if j == nil {
			t.Fatalf("ParseJanus(%q) = nil, nil", b)
		}
		if !json.Valid(b) {
			t.Fatalf("ParseJanus accepted invalid JSON %q", b)
		}
		if trimmed := bytes.TrimLeft(b, " \t\r\n"); trimmed[0] != '{' {
			t.Fatalf("ParseJanus accepted a non-object %q", b)
		}
	})
}

func FuzzSplitObjects(f *testing.F) {
	for _, s := range janusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		parts, err := schema.SplitObjects(frame)
		if len(parts) == 0 {
			t.Fatalf("SplitObjects(%q) gave no part", frame)
		}
		if got := bytes.Join(parts, nil); !bytes.Equal(got, frame) {
			t.Fatalf("parts joined = %q, want the frame %q", got, frame)
		}
		if err != nil || len(bytes.Trim(frame, " \t\r\n")) == 0 {
			return
		}
		for i, p := range parts {
			if !json.Valid(p) {
				t.Fatalf("part %d %q of %q is not valid JSON", i, p, frame)
			}
		}
	})
}

func FuzzSplitArray(f *testing.F) {
	for _, s := range janusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		elems, isArray, err := schema.SplitArray(body)
		if err != nil || !isArray {
			if len(elems) != 1 || !bytes.Equal(elems[0], body) || isArray {
				t.Fatalf("SplitArray(%q) = %q, %t, %v; want the body as one element", body, elems, isArray, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("SplitArray accepted invalid JSON %q", body)
		}
		off := 0
		for i, e := range elems {
			if !json.Valid(e) {
				t.Fatalf("element %d %q of %q is not valid JSON", i, e, body)
			}
			j := bytes.Index(body[off:], e)
			if j < 0 {
				t.Fatalf("element %d %q is not in %q after byte %d", i, e, body, off)
			}
			off += j + len(e)
		}
	})
}

func FuzzRedact(f *testing.F) {
	for _, s := range janusSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := slices.Clone(body)
		out, changed := schema.Redact(body, schema.SecretKeys)
		if !bytes.Equal(body, orig) {
			t.Fatalf("Redact modified its input %q", orig)
		}
		if changed == bytes.Equal(out, body) {
			t.Fatalf("Redact(%q) = %q, changed %t", body, out, changed)
		}
		again, changed := schema.Redact(out, schema.SecretKeys)
		if changed || !bytes.Equal(again, out) {
			t.Fatalf("Redact is not idempotent: Redact(%q) = %q, then %q, %t", body, out, again, changed)
		}
		if !json.Valid(body) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Redact(%q) = %q, not valid JSON", body, out)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber() // 1E1000 is valid JSON, and no float64
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if path, s := secretLeft(v, "$"); path != "" {
			t.Fatalf("Redact(%q) = %q left %s = %q", body, out, path, s)
		}
	})
}

// secretLeft returns the path and value of a value under a secret key in v
// that is neither RedactedMarker nor null, or "".
func secretLeft(v any, path string) (string, string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if slices.Contains(schema.SecretKeys, k) && e != nil && e != schema.RedactedMarker {
				return path + "." + k, fmt.Sprint(e)
			}
			if p, s := secretLeft(e, path+"."+k); p != "" {
				return p, s
			}
		}
	case []any:
		for _, e := range v {
			if p, s := secretLeft(e, path+"[]"); p != "" {
				return p, s
			}
		}
	}
	return "", ""
}

func FuzzDecode(f *testing.F) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(goldens) == 0 {
		f.Fatalf("no golden events to seed from: %v", err)
	}
	for _, path := range goldens {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"id":"x","time":"2026-11-24T15:00:00+01:00","body":"","header":{},"labels":{}}`))
	f.Add([]byte(`{"v":1,"id":"x","body_base64":""}`))
	f.Add([]byte(`{"v":2,"id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := schema.Decode(b)
		if err != nil {
			if ev != nil {
				t.Fatalf("Decode returned an event with its error %v", err)
			}
			return
		}
		enc, err := schema.Encode(ev)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", b, err)
		}
		again, err := schema.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %q: %v", b, enc, err)
		}
		if enc2, err := schema.Encode(again); err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable: %q, then %q (%v)", enc, enc2, err)
		}
		got, want := normalise(again), normalise(ev)
		if !got.Time.Equal(want.Time) || got.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
			t.Fatalf("time after a round trip = %v, want %v", got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event after a round trip =\n%+v\nwant\n%+v", got, want)
		}
	})
}

// normalise returns a copy of ev with what the encoding does not tell apart
// made equal: an empty body, header or label map is nil.
func normalise(ev *schema.Event) schema.Event {
	n := *ev
	if len(n.Body) == 0 {
		n.Body = nil
	}
	if len(n.Header) == 0 {
		n.Header = nil
	}
	if len(n.Labels) == 0 {
		n.Labels = nil
	}
	return n
}

// FuzzRedactEncodings is a property test of redaction (issue 14, finding
// 5): a secret given in any encoding Janus accepts, as the value of a
// secret key of a JSON body (the key escaped or not, the value a string, a
// number, an array or an object) or of a query parameter (its key
// percent-encoded in any way), is never kept in the event.
func FuzzRedactEncodings(f *testing.F) {
	f.Add("s3cr3tValue", uint8(0), uint16(0), uint8(0))
	f.Add("s3cr3tValue", uint8(1), uint16(0xffff), uint8(1))
	f.Add("abcdef123", uint8(2), uint16(0x5a5a), uint8(2))
	f.Add("QWERTY77", uint8(0), uint16(0x0101), uint8(3))
	f.Fuzz(func(t *testing.T, secret string, key uint8, escapes uint16, kind uint8) {
		if len(secret) < 6 || len(secret) > 64 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return // a secret that text of the template could hold by chance
		}
		k := schema.SecretKeys[int(key)%len(schema.SecretKeys)]
		jsonKey, queryKey := encodeKey(k, escapes)
		var value string
		switch kind % 4 {
		case 0:
			value = strconv.Quote(secret)
		case 1:
			value = "1" + digits(secret) // a number
		case 2:
			value = `[ "x", ` + strconv.Quote(secret) + ` ]`
		case 3:
			value = `{"nested": {"v": ` + strconv.Quote(secret) + `}}`
		}
		if kind%4 == 1 {
			secret = "1" + digits(secret)
		}
		ev := &schema.Event{
			Body:  []byte(`{"janus":"message","transaction":"t","body":{"request":"list",` + jsonKey + `: ` + value + `}}`),
			Query: "rid=1&" + queryKey + "=" + url.QueryEscape(secret) + "&maxev=1",
		}
		schema.RedactEvent(ev)
		if bytes.Contains(ev.Body, []byte(secret)) {
			t.Errorf("body keeps the secret: %s", ev.Body)
		}
		if strings.Contains(ev.Query, url.QueryEscape(secret)) {
			t.Errorf("query keeps the secret: %s", ev.Query)
		}
		if !ev.Redacted {
			t.Error("event not marked redacted")
		}
	})
}

// encodeKey spells key as a JSON string with \u escapes and as a query key
// with %XX escapes (upper or lower hex), for the characters escapes picks.
func encodeKey(key string, escapes uint16) (jsonKey, queryKey string) {
	var j, q strings.Builder
	j.WriteByte('"')
	for i := range len(key) {
		c := key[i]
		bit := escapes>>(i%16)&1 == 1
		if bit {
			fmt.Fprintf(&j, `\u%04x`, c)
			if i%2 == 0 {
				fmt.Fprintf(&q, "%%%02X", c)
			} else {
				fmt.Fprintf(&q, "%%%02x", c)
			}
		} else {
			j.WriteByte(c)
			q.WriteByte(c)
		}
	}
	j.WriteByte('"')
	return j.String(), q.String()
}

// digits maps s to a string of digits of the same length.
func digits(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
