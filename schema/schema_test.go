package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// Ids seen on a live Janus 1.1.2; Janus masks ids to 53 bits, so maxID is
// the largest it can hand out.
const (
	sessionID = 6635366682236306
	handleID  = 4601177821996538
	maxID     = 1<<53 - 1 // 9007199254740991
)

// sdpOffer and sdpAnswer are SDPs as they stand inside a JSON string: the
// line ends are the escapes \r\n.
const sdpOffer = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS 3a1b8c2e-5e4f-4d0f-9c9b-2f8f0d7c6e11\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Qy4n\r\na=ice-pwd:Yk2b4xX0JXrXy4Q1mM3vV9pX\r\na=ice-options:trickle\r\na=fingerprint:sha-256 5C:1F:0A:9E:33:77:2B:CD:91:04:AF:6E:58:C2:0D:1B:E4:89:73:3A:16:F0:BD:62:9C:47:D8:21:0E:AA:35:F9\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1743542916 cname:Xq0cU6pD+e8yWq5N\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n`

const sdpAnswer = `v=0\r\no=- 4611731400430051336 2 IN IP4 192.0.2.2\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=ice-options:trickle\r\na=fingerprint:sha-256 D2:B9:31:8F:DF:24:D8:0E:ED:D2:EF:25:9E:AF:6F:B8:34:AE:53:9C:E6:F3:8F:F2:64:15:FA:E8:7F:53:2D:38\r\na=msid-semantic: WMS janus\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.2\r\na=sendrecv\r\na=mid:0\r\na=rtcp-mux\r\na=ice-ufrag:Wl3a\r\na=ice-pwd:Mg8ZWXJ3JlBPd7JAfqcu5a\r\na=setup:active\r\na=rtpmap:111 opus/48000/2\r\na=msid:janus janusa0\r\na=ssrc:2881484470 cname:janus\r\na=candidate:1 1 udp 2015363327 192.0.2.2 40124 typ host\r\na=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 192.0.2.2\r\na=sendrecv\r\na=mid:1\r\na=rtcp-mux\r\na=setup:active\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=ssrc-group:FID 1370290409 3254125236\r\na=end-of-candidates\r\n`

// messageOffer is an echotest message with an offer, posted to
// /janus/<session>/<handle>, pretty-printed.
const messageOffer = `{
   "janus": "message",
   "body": {
      "audio": true,
      "video": true
   },
   "jsep": {
      "type": "offer",
      "sdp": "` + sdpOffer + `"
   },
   "transaction": "m2"
}`

// eventAnswer is the echotest event answering messageOffer, in the
// 3-space indented form Janus sends (json = "indented").
const eventAnswer = `{
   "janus": "event",
   "session_id": 6635366682236306,
   "transaction": "m2",
   "sender": 4601177821996538,
   "plugindata": {
      "plugin": "janus.plugin.echotest",
      "data": {
         "echotest": "event",
         "result": "ok"
      }
   },
   "jsep": {
      "type": "answer",
      "sdp": "` + sdpAnswer + `"
   }
}`

// pollBatch is a long-poll answer with maxev=10: an array of three events,
// pretty-printed; pollElems are its elements as they stand in it.
var pollElems = []string{`{
      "janus": "event",
      "session_id": 6635366682236306,
      "transaction": "r-vr-join",
      "sender": 4601177821996538,
      "plugindata": {
         "plugin": "janus.plugin.videoroom",
         "data": {
            "videoroom": "joined",
            "room": 4242,
            "description": "tap",
            "id": 6713301572521604,
            "private_id": 3060372547,
            "publishers": []
         }
      }
   }`, `{
      "janus": "webrtcup",
      "session_id": 6635366682236306,
      "sender": 4601177821996538
   }`, `{
      "janus": "media",
      "session_id": 6635366682236306,
      "sender": 4601177821996538,
      "mid": "0",
      "type": "audio",
      "receiving": true
   }`}

var pollBatch = "[\n   " + strings.Join(pollElems, ",\n   ") + "\n]"

func TestParseJanus(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *schema.Janus
		wantErr error // checked with errors.Is when set
		fail    bool  // an error is wanted
	}{
		{
			name: "create",
			body: `{"janus":"create","transaction":"c1"}`,
			want: &schema.Janus{Janus: "create", Transaction: "c1"},
		},
		{
			name: "create_with_id",
			body: `{"janus":"create","id":424242,"transaction":"e27"}`,
			want: &schema.Janus{Janus: "create", Transaction: "e27"},
		},
		{
			name: "attach",
			body: `{"janus":"attach","session_id":6635366682236306,"plugin":"janus.plugin.echotest","opaque_id":"tap-opaque-ws","transaction":"w-attach"}`,
			want: &schema.Janus{Janus: "attach", Transaction: "w-attach", SessionID: sessionID,
				Plugin: "janus.plugin.echotest", OpaqueID: "tap-opaque-ws"},
		},
		{
			name: "message_body_request",
			body: `{"janus":"message","session_id":6635366682236306,"handle_id":4601177821996538,"body":{"request":"create","room":4242,"description":"tap"},"transaction":"r-vr-create"}`,
			want: &schema.Janus{Janus: "message", Transaction: "r-vr-create", SessionID: sessionID,
				HandleID: handleID, PluginKey: "request", PluginValue: "create"},
		},
		{
			name: "message_body_request_not_first",
			body: `{"janus":"message","body":{"room":4242,"request":"exists"},"transaction":"r2"}`,
			want: &schema.Janus{Janus: "message", Transaction: "r2", PluginKey: "request", PluginValue: "exists"},
		},
		{
			name: "message_body_number_first",
			body: `{"janus":"message","body":{"room":4242,"audio":true},"transaction":"r2"}`,
			want: &schema.Janus{Janus: "message", Transaction: "r2", PluginKey: "room", PluginValue: "4242"},
		},
		{
			name: "message_offer_pretty",
			body: messageOffer,
			want: &schema.Janus{Janus: "message", Transaction: "m2", PluginKey: "audio",
				JSEP: "offer", HasJSEP: true},
		},
		{
			name: "success_data_id",
			body: "{\n   \"janus\": \"success\",\n   \"transaction\": \"c1\",\n   \"data\": {\n      \"id\": 9007199254740991\n   }\n}",
			want: &schema.Janus{Janus: "success", Transaction: "c1", DataID: maxID},
		},
		{
			name: "attach_success",
			body: `{"janus":"success","session_id":6635366682236306,"transaction":"w-attach","data":{"id":4601177821996538}}`,
			want: &schema.Janus{Janus: "success", Transaction: "w-attach", SessionID: sessionID, DataID: handleID},
		},
		{
			name: "event_plugindata_jsep_answer",
			body: eventAnswer,
			want: &schema.Janus{Janus: "event", Transaction: "m2", SessionID: sessionID, Sender: handleID,
				Plugin: "janus.plugin.echotest", PluginKey: "echotest", PluginValue: "event",
				JSEP: "answer", HasJSEP: true},
		},
		{
			name: "ack_hint",
			body: `{"janus":"ack","session_id":68911223458987,"transaction":"m1","hint":"I'm taking my time!"}`,
			want: &schema.Janus{Janus: "ack", Transaction: "m1", SessionID: 68911223458987},
		},
		{
			name: "error_458",
			body: `{"janus":"error","session_id":6635366682236306,"transaction":"k9","error":{"code":458,"reason":"No such session 6635366682236306"}}`,
			want: &schema.Janus{Janus: "error", Transaction: "k9", SessionID: sessionID,
				ErrorCode: 458, ErrorReason: "No such session 6635366682236306"},
		},
		{
			name: "error_454_no_transaction",
			body: "{\n   \"janus\": \"error\",\n   \"error\": {\n      \"code\": 454,\n      \"reason\": \"JSON error: on line 1: '[' or '{' expected near 'not'\"\n   }\n}",
			want: &schema.Janus{Janus: "error", ErrorCode: 454,
				ErrorReason: "JSON error: on line 1: '[' or '{' expected near 'not'"},
		},
		{
			name: "error_457_conflicting_ids",
			body: `{"janus":"error","error":{"code":457,"reason":"Conflicting session ID (payload and path)"}}`,
			want: &schema.Janus{Janus: "error", ErrorCode: 457,
				ErrorReason: "Conflicting session ID (payload and path)"},
		},
		{
			name: "hangup_reason",
			body: `{"janus":"hangup","session_id":6635366682236306,"sender":4601177821996538,"reason":"Janus API"}`,
			want: &schema.Janus{Janus: "hangup", SessionID: sessionID, Sender: handleID, Reason: "Janus API"},
		},
		{
			name: "detached_opaque_id",
			body: `{"janus":"detached","session_id":6635366682236306,"sender":4601177821996538,"opaque_id":"tap-opaque-ws"}`,
			want: &schema.Janus{Janus: "detached", SessionID: sessionID, Sender: handleID, OpaqueID: "tap-opaque-ws"},
		},
		{
			name: "videoroom_sync_error_427",
			body: "{\n   \"janus\": \"success\",\n   \"session_id\": 6635366682236306,\n   \"transaction\": \"r-vr-create\",\n   \"sender\": 4601177821996538,\n   \"plugindata\": {\n      \"plugin\": \"janus.plugin.videoroom\",\n      \"data\": {\n         \"videoroom\": \"event\",\n         \"error_code\": 427,\n         \"error\": \"Room 4242 already exists\"\n      }\n   }\n}",
			want: &schema.Janus{Janus: "success", Transaction: "r-vr-create", SessionID: sessionID, Sender: handleID,
				Plugin: "janus.plugin.videoroom", PluginKey: "videoroom", PluginValue: "event", PluginError: 427},
		},
		{
			name: "trickle",
			body: `{"janus":"trickle","session_id":6635366682236306,"handle_id":4601177821996538,"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0","sdpMid":"0","sdpMLineIndex":0},"transaction":"tr1"}`,
			want: &schema.Janus{Janus: "trickle", Transaction: "tr1", SessionID: sessionID, HandleID: handleID},
		},
		{
			name: "timeout_max_id",
			body: `{"janus":"timeout","session_id":9007199254740991}`,
			want: &schema.Janus{Janus: "timeout", SessionID: maxID},
		},
		{
			name: "verb_lower_cased",
			body: `{"janus":"INFO","transaction":"t-info"}`,
			want: &schema.Janus{Janus: "info", Transaction: "t-info"},
		},
		{
			name: "session_id_string",
			body: `{"janus":"keepalive","session_id":"6635366682236306","transaction":"w-ka"}`,
			want: &schema.Janus{Janus: "keepalive", Transaction: "w-ka"},
		},
		{
			name: "session_id_float",
			body: `{"janus":"keepalive","session_id":6635366682236306.0,"handle_id":4.601177821996538e15,"transaction":"w-ka"}`,
			want: &schema.Janus{Janus: "keepalive", Transaction: "w-ka"},
		},
		{
			name: "session_id_null_negative",
			body: `{"janus":"keepalive","session_id":null,"handle_id":-1,"sender":true,"transaction":"w-ka"}`,
			want: &schema.Janus{Janus: "keepalive", Transaction: "w-ka"},
		},
		{
			name: "transaction_not_string",
			body: `{"janus":"ping","transaction":42}`,
			want: &schema.Janus{Janus: "ping"},
		},
		{
			name: "keys_exact",
			body: `{"JANUS":"create","Transaction":"c1","Session_ID":1,"Data":{"id":2}}`,
			want: &schema.Janus{},
		},
		{
			name: "nested_keys_exact",
			body: `{"janus":"event","plugindata":{"PLUGIN":"janus.plugin.echotest","Data":{"echotest":"event"}},"error":{"Code":1,"REASON":"x"},"jsep":{"Type":"answer"},"data":{"ID":5}}`,
			want: &schema.Janus{Janus: "event", HasJSEP: true},
		},
		{
			name: "jsep_null",
			body: `{"janus":"message","body":{},"jsep":null,"transaction":"m3"}`,
			want: &schema.Janus{Janus: "message", Transaction: "m3"},
		},
		{
			name: "trailing_white_space",
			body: "{\"janus\":\"ping\",\"transaction\":\"t\"}\n \t",
			want: &schema.Janus{Janus: "ping", Transaction: "t"},
		},
		{name: "empty", body: ``, fail: true},
		{name: "invalid_json", body: `not json`, fail: true},
		{name: "cut_short", body: `{"janus":"create","transac`, fail: true},
		{name: "missing_value", body: `{"janus":}`, fail: true},
		{name: "unclosed", body: `{"janus":"create"`, fail: true},
		{name: "bad_comma", body: `{"janus":"create" "transaction":"c1"}`, fail: true},
		{name: "array", body: `[{"janus":"keepalive"}]`, wantErr: schema.ErrNotObject},
		{name: "string", body: `"janus"`, wantErr: schema.ErrNotObject},
		{name: "number", body: `42`, wantErr: schema.ErrNotObject},
		{name: "two_objects", body: `{"janus":"ping","transaction":"a"}{"janus":"ping","transaction":"b"}`, fail: true},
		{name: "trailing_garbage", body: `{"janus":"ping","transaction":"a"}x`, fail: true},
		{name: "trailing_bracket", body: `{"janus":"ping","transaction":"a"}]`, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParseJanus([]byte(tt.body))
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseJanus error = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.fail:
				if err == nil {
					t.Fatalf("ParseJanus = %+v, nil; want an error", got)
				}
				return
			case err != nil:
				t.Fatalf("ParseJanus: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseJanus =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestSplitObjects(t *testing.T) {
	const (
		ka1 = `{"janus":"keepalive","session_id":6635366682236306,"transaction":"w-ka1"}`
		ka2 = `{"janus":"keepalive","session_id":6635366682236306,"transaction":"w-ka2"}`
	)
	tests := []struct {
		name  string
		frame string
		want  []string
		fail  bool
	}{
		{name: "one", frame: ka1, want: []string{ka1}},
		{name: "one_pretty", frame: eventAnswer, want: []string{eventAnswer}},
		{name: "two", frame: ka1 + ka2, want: []string{ka1, ka2}},
		{name: "three", frame: ka1 + ka2 + ka1, want: []string{ka1, ka2, ka1}},
		{name: "white_space", frame: " " + ka1 + "\n \t" + ka2 + " \n", want: []string{" " + ka1, "\n \t" + ka2 + " \n"}},
		{name: "trailing_newline", frame: ka1 + "\n", want: []string{ka1 + "\n"}},
		{name: "numbers", frame: `1 2`, want: []string{`1`, ` 2`}},
		{name: "empty", frame: ``, want: []string{``}},
		{name: "white_space_only", frame: " \n", want: []string{" \n"}},
		{name: "invalid_tail", frame: ka1 + ka2[:20], want: []string{ka1, ka2[:20]}, fail: true},
		{name: "garbage_tail", frame: ka1 + " not json", want: []string{ka1, " not json"}, fail: true},
		{name: "invalid", frame: `{"janus":}` + ka1, want: []string{`{"janus":}` + ka1}, fail: true},
		{name: "value_then_garbage", frame: `{}x`, want: []string{`{}`, `x`}, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := schema.SplitObjects([]byte(tt.frame))
			if gotFail := err != nil; gotFail != tt.fail {
				t.Errorf("SplitObjects error = %v, want error: %t", err, tt.fail)
			}
			got := make([]string, len(parts))
			for i, p := range parts {
				got[i] = string(p)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitObjects parts = %q, want %q", got, tt.want)
			}
			if got, want := string(bytes.Join(parts, nil)), tt.frame; got != want {
				t.Errorf("parts joined = %q, want the frame %q", got, want)
			}
		})
	}
}

func TestSplitArray(t *testing.T) {
	const ka = `{"janus":"keepalive"}`
	tests := []struct {
		name    string
		body    string
		want    []string
		isArray bool
		fail    bool
	}{
		{name: "object", body: eventAnswer, want: []string{eventAnswer}},
		{name: "keepalive", body: ka, want: []string{ka}},
		{name: "not_json", body: `nope`, want: []string{`nope`}},
		{name: "array_of_1", body: "[" + ka + "]", want: []string{ka}, isArray: true},
		{name: "array_of_1_pretty", body: "[\n   {\n      \"janus\": \"keepalive\"\n   }\n]", want: []string{"{\n      \"janus\": \"keepalive\"\n   }"}, isArray: true},
		{name: "array_of_3_pretty", body: pollBatch, want: pollElems, isArray: true},
		{name: "leading_white_space", body: "\n [" + ka + "," + ka + "]\n", want: []string{ka, ka}, isArray: true},
		{name: "empty_array", body: `[]`, isArray: true},
		{name: "cut_short", body: pollBatch[:len(pollBatch)/2], fail: true},
		{name: "unclosed", body: "[" + ka, fail: true},
		{name: "missing_comma", body: "[" + ka + " " + ka + "]", fail: true},
		{name: "trailing_comma", body: "[" + ka + ",]", fail: true},
		{name: "trailing_data", body: "[" + ka + "] x", fail: true},
		{name: "two_arrays", body: "[" + ka + "][" + ka + "]", fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elems, isArray, err := schema.SplitArray([]byte(tt.body))
			if tt.fail {
				if err == nil {
					t.Fatalf("SplitArray = %q, %t, nil; want an error", elems, isArray)
				}
				if len(elems) != 1 || string(elems[0]) != tt.body || isArray {
					t.Errorf("SplitArray on error = %q, %t; want the body as one element, false", elems, isArray)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitArray: %v", err)
			}
			if isArray != tt.isArray {
				t.Errorf("SplitArray isArray = %t, want %t", isArray, tt.isArray)
			}
			got := make([]string, len(elems))
			for i, e := range elems {
				got[i] = string(e)
			}
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SplitArray elements = %q, want %q", got, want)
			}
			// Each element is the very substring of the body, in order.
			off := 0
			for i, e := range elems {
				j := bytes.Index([]byte(tt.body)[off:], e)
				if j < 0 {
					t.Fatalf("element %d %q is not in the body after byte %d", i, e, off)
				}
				off += j + len(e)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path            string
		base            string
		session, handle uint64
	}{
		{"/janus", "janus", 0, 0},
		{"/janus/", "janus", 0, 0},
		{"/janus/6635366682236306", "janus", sessionID, 0},
		{"/janus/6635366682236306/4601177821996538", "janus", sessionID, handleID},
		{"/janus/6635366682236306/4601177821996538/", "janus", sessionID, handleID},
		{"/janus/9007199254740991/9007199254740991", "janus", maxID, maxID},
		{"/janus/info", "janus", 0, 0},
		{"/janus/abc/4601177821996538", "janus", 0, handleID},
		{"/janus/-1/1.5", "janus", 0, 0},
		{"/admin/6635366682236306", "admin", sessionID, 0},
		{"/admin/info", "admin", 0, 0},
		{"/", "", 0, 0},
		{"", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			base, session, handle := schema.ParsePath(tt.path)
			if base != tt.base || session != tt.session || handle != tt.handle {
				t.Errorf("ParsePath(%q) = %q, %d, %d; want %q, %d, %d", tt.path, base, session, handle, tt.base, tt.session, tt.handle)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string // "" means unchanged
		changed bool
	}{
		{
			name:    "apisecret",
			body:    `{"janus":"create","apisecret":"tapsecret","transaction":"s1"}`,
			want:    `{"janus":"create","apisecret":"REDACTED","transaction":"s1"}`,
			changed: true,
		},
		{
			name:    "token",
			body:    `{"janus":"attach","plugin":"janus.plugin.videoroom","token":"a1b2c3d4","transaction":"s2"}`,
			want:    `{"janus":"attach","plugin":"janus.plugin.videoroom","token":"REDACTED","transaction":"s2"}`,
			changed: true,
		},
		{
			name:    "admin_secret_pretty",
			body:    "{\n   \"janus\": \"list_sessions\",\n   \"admin_secret\" : \"janusoverlord\",\n   \"transaction\": \"ha-ls\"\n}",
			want:    "{\n   \"janus\": \"list_sessions\",\n   \"admin_secret\" : \"REDACTED\",\n   \"transaction\": \"ha-ls\"\n}",
			changed: true,
		},
		{
			name:    "white_space_around_colon",
			body:    "{\"token\"\n\t:\r\n \"t0k\"}",
			want:    "{\"token\"\n\t:\r\n \"REDACTED\"}",
			changed: true,
		},
		{
			name:    "all_three",
			body:    `{"janus":"add_token","token":"a1b2c3","plugins":["janus.plugin.echotest"],"apisecret":"tapsecret","admin_secret":"janusoverlord","transaction":"t"}`,
			want:    `{"janus":"add_token","token":"REDACTED","plugins":["janus.plugin.echotest"],"apisecret":"REDACTED","admin_secret":"REDACTED","transaction":"t"}`,
			changed: true,
		},
		{
			name:    "nested",
			body:    `{"janus":"message_plugin","admin_secret":"janusoverlord","plugin":"janus.plugin.videoroom","request":{"request":"create","room":4242,"token":"t0k","allowed":[{"token":"t1"}]},"transaction":"t"}`,
			want:    `{"janus":"message_plugin","admin_secret":"REDACTED","plugin":"janus.plugin.videoroom","request":{"request":"create","room":4242,"token":"REDACTED","allowed":[{"token":"REDACTED"}]},"transaction":"t"}`,
			changed: true,
		},
		{
			name:    "nested_pretty",
			body:    "{\n   \"janus\": \"message\",\n   \"body\": {\n      \"request\": \"list\",\n      \"apisecret\": \"tapsecret\"\n   },\n   \"transaction\": \"m\"\n}",
			want:    "{\n   \"janus\": \"message\",\n   \"body\": {\n      \"request\": \"list\",\n      \"apisecret\": \"REDACTED\"\n   },\n   \"transaction\": \"m\"\n}",
			changed: true,
		},
		{
			name:    "escaped_quotes_in_value",
			body:    `{"apisecret":"se\"cr\\\"et\\","janus":"info","transaction":"x"}`,
			want:    `{"apisecret":"REDACTED","janus":"info","transaction":"x"}`,
			changed: true,
		},
		{
			name:    "escaped_key",
			body:    `{"janus":"create","\u0074oken":"t0k","transaction":"x"}`,
			want:    `{"janus":"create","\u0074oken":"REDACTED","transaction":"x"}`,
			changed: true,
		},
		{
			name: "key_name_as_value",
			body: `{"janus":"message","body":{"request":"token","x":"apisecret"},"list":["token","admin_secret"],"transaction":"token"}`,
		},
		{
			name: "escaped_key_name_in_value",
			body: `{"note":"\"token\":\"not a secret\"","transaction":"x"}`,
		},
		{
			name: "longer_keys",
			body: `{"my_token":"x","tokens":"y","apisecret_hint":"z","Token":"w"}`,
		},
		{
			// Issue 14, finding 5: a secret key's value is redacted
			// whatever its type; null, which holds none, stays.
			name:    "not_a_string",
			body:    `{"token":12345,"apisecret":null,"admin_secret":{"a":"b}]\""},"x":["token",1]}`,
			want:    `{"token":"REDACTED","apisecret":null,"admin_secret":"REDACTED","x":["token",1]}`,
			changed: true,
		},
		{
			name:    "array_of_tokens",
			body:    "{\"request\":\"create\",\"token\" : [ \"t1\", [\"t2\"] ],\"room\":1}",
			want:    `{"request":"create","token" : "REDACTED","room":1}`,
			changed: true,
		},
		{
			name:    "cut_in_an_array",
			body:    `{"janus":"x","token":["t1","t`,
			want:    `{"janus":"x","token":"REDACTED"`,
			changed: true,
		},
		{
			name:    "number_last",
			body:    `{"apisecret":-1.5e3}`,
			want:    `{"apisecret":"REDACTED"}`,
			changed: true,
		},
		{
			name: "already_redacted",
			body: `{"janus":"create","apisecret":"REDACTED","token" : "REDACTED","transaction":"s1"}`,
		},
		{
			name:    "some_already_redacted",
			body:    `{"apisecret":"REDACTED","token":"t0k"}`,
			want:    `{"apisecret":"REDACTED","token":"REDACTED"}`,
			changed: true,
		},
		{
			name:    "invalid_json",
			body:    `{"janus":"create","apisecret":"tapsecret",,,`,
			want:    `{"janus":"create","apisecret":"REDACTED",,,`,
			changed: true,
		},
		{
			name:    "unterminated_string",
			body:    `{"janus":"create","apisecret":"tapsec`,
			want:    `{"janus":"create","apisecret":"REDACTED"`,
			changed: true,
		},
		{
			name:    "unterminated_after_escape",
			body:    `{"token":"ab\`,
			want:    `{"token":"REDACTED"`,
			changed: true,
		},
		{
			name:    "key_glued_to_key",
			body:    `"apisecret"apisecret":"s3cr3t"`,
			want:    `"apisecret"apisecret":"REDACTED"`,
			changed: true,
		},
		{
			name:    "value_glued_to_key",
			body:    `{"token":"apisecret"apisecret":"s3cr3t"}`,
			want:    `{"token":"REDACTED"apisecret":"REDACTED"}`,
			changed: true,
		},
		{name: "cut_in_key", body: `{"janus":"create","apisec`},
		{name: "cut_after_colon", body: `{"janus":"create","apisecret": `},
		{name: "empty", body: ``},
		{name: "no_secret", body: eventAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			got, changed := schema.Redact(body, schema.SecretKeys)
			want := tt.want
			if want == "" {
				want = tt.body
			}
			if string(got) != want || changed != tt.changed {
				t.Errorf("Redact =\n%s, %t\nwant\n%s, %t", got, changed, want, tt.changed)
			}
			if string(body) != tt.body {
				t.Errorf("Redact modified its input: %s", body)
			}
			if json.Valid([]byte(tt.body)) && !json.Valid(got) {
				t.Errorf("Redact made valid JSON invalid: %s", got)
			}
			again, changed := schema.Redact(got, schema.SecretKeys)
			if !bytes.Equal(again, got) || changed {
				t.Errorf("Redact is not idempotent: %s, %t", again, changed)
			}
		})
	}
}

func TestRedactOtherKeys(t *testing.T) {
	got, changed := schema.Redact([]byte(`{"request":"create","room":4242,"secret":"roomsecret","pin":"1234","token":"t"}`), []string{"secret", "pin"})
	if want := `{"request":"create","room":4242,"secret":"REDACTED","pin":"REDACTED","token":"t"}`; string(got) != want || !changed {
		t.Errorf("Redact = %s, %t; want %s, true", got, changed, want)
	}
	body := []byte(`{"token":"t"}`)
	if got, changed := schema.Redact(body, nil); !bytes.Equal(got, body) || changed {
		t.Errorf("Redact with no keys = %s, %t; want the body, false", got, changed)
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    string // "" means unchanged
		changed bool
	}{
		{name: "empty", query: ""},
		{name: "long_poll", query: "rid=1732457812345&maxev=10"},
		{name: "apisecret", query: "rid=1732457812345&maxev=10&apisecret=tapsecret", want: "rid=1732457812345&maxev=10&apisecret=REDACTED", changed: true},
		{name: "token_first", query: "token=a1b2c3&rid=1732457812345&maxev=10", want: "token=REDACTED&rid=1732457812345&maxev=10", changed: true},
		{name: "both", query: "rid=1&maxev=10&token=a1b2c3&apisecret=tapsecret", want: "rid=1&maxev=10&token=REDACTED&apisecret=REDACTED", changed: true},
		{name: "admin_secret_escaped_value", query: "admin_secret=janus%26overlord%3D", want: "admin_secret=REDACTED", changed: true},
		{name: "no_value", query: "token&rid=1", want: "token=REDACTED&rid=1", changed: true},
		{name: "already_redacted", query: "rid=1&apisecret=REDACTED"},
		{name: "other_keys", query: "xtoken=1&tokens=2&apisecret_=3"},
		// Issue 14, finding 5: Janus decodes the keys; so does redaction.
		{name: "percent_encoded_keys", query: "api%73ecret=S1&tok%65n=S2&%61dmin_secret=S3&rid=1", want: "api%73ecret=REDACTED&tok%65n=REDACTED&%61dmin_secret=REDACTED&rid=1", changed: true},
		{name: "upper_hex_and_case", query: "%54%4F%4B%45%4E=S2", want: "%54%4F%4B%45%4E=REDACTED", changed: true},
		{name: "bad_escape_elsewhere", query: "x=%zz&token=S2", want: "x=%zz&token=REDACTED", changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := schema.RedactQuery(tt.query, schema.SecretParams)
			want := tt.want
			if want == "" {
				want = tt.query
			}
			if got != want || changed != tt.changed {
				t.Errorf("RedactQuery(%q) = %q, %t; want %q, %t", tt.query, got, changed, want, tt.changed)
			}
		})
	}
}

func TestRedactEvent(t *testing.T) {
	ev := &schema.Event{
		Method: "POST",
		Path:   "/janus/6635366682236306",
		Query:  "token=a1b2c3",
		Header: map[string]string{
			"Authorization": "Bearer a1b2c3",
			"Content-Type":  "application/json",
		},
		Body: []byte(`{"janus":"attach","plugin":"janus.plugin.echotest","apisecret":"tapsecret","transaction":"a1"}`),
	}
	schema.RedactEvent(ev)
	if got, want := string(ev.Body), `{"janus":"attach","plugin":"janus.plugin.echotest","apisecret":"REDACTED","transaction":"a1"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if got, want := ev.Query, "token=REDACTED"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
	if got, want := ev.Header, map[string]string{"Authorization": "REDACTED", "Content-Type": "application/json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("header = %v, want %v", got, want)
	}
	if !ev.Redacted {
		t.Error("Redacted = false, want true")
	}

	// Once more: nothing left to redact, and Redacted stays set.
	before := *ev
	schema.RedactEvent(ev)
	if !reflect.DeepEqual(*ev, before) {
		t.Errorf("second RedactEvent changed the event: %+v", *ev)
	}

	for _, ev := range []*schema.Event{
		{Body: []byte(eventAnswer), Query: "rid=1&maxev=10", Header: map[string]string{"Content-Type": "application/json"}},
		{}, // no body, no query, nil header
	} {
		schema.RedactEvent(ev)
		if ev.Redacted {
			t.Errorf("RedactEvent set Redacted on an event without secrets: %+v", ev)
		}
	}
}

func TestIDGen(t *testing.T) {
	at := time.Date(2026, 11, 24, 14, 0, 0, 123_000_000, time.UTC)
	var g schema.IDGen

	t.Run("same_time", func(t *testing.T) {
		prev := ""
		for i := range 100000 {
			id := g.New(at)
			if len(id) != 26 {
				t.Fatalf("id %q has %d characters, want 26", id, len(id))
			}
			if id <= prev {
				t.Fatalf("id %d %q does not sort after %q", i, id, prev)
			}
			prev = id
		}
	})
	t.Run("clock_backwards", func(t *testing.T) {
		prev := g.New(at)
		for i := range 100000 {
			// The clock jumps back and forth around at, never past it.
			id := g.New(at.Add(-time.Duration(i%1000) * time.Millisecond))
			if id <= prev {
				t.Fatalf("id %d %q does not sort after %q", i, id, prev)
			}
			prev = id
		}
		next := g.New(at.Add(time.Millisecond))
		if next <= prev {
			t.Fatalf("id %q after the clock moved on does not sort after %q", next, prev)
		}
		if got, _ := schema.IDTime(next); !got.Equal(at.Add(time.Millisecond)) {
			t.Errorf("IDTime(%q) = %v, want %v", next, got, at.Add(time.Millisecond))
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				ids := make([]string, 1000)
				for i := range ids {
					ids[i] = g.New(time.Now())
				}
				mu.Lock()
				defer mu.Unlock()
				for _, id := range ids {
					seen[id] = true
				}
			})
		}
		wg.Wait()
		if got, want := len(seen), 4000; got != want {
			t.Errorf("%d distinct ids, want %d", got, want)
		}
	})
}

func TestIDTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 11, 24, 14, 0, 0, 123_456_789, time.UTC),
		time.UnixMilli(0),
		time.UnixMilli(1<<48 - 1), // the last millisecond of the layout, in year 10889
	} {
		var g schema.IDGen
		id := g.New(at)
		got, ok := schema.IDTime(id)
		if want := at.Truncate(time.Millisecond); !ok || !got.Equal(want) {
			t.Errorf("IDTime(New(%v)) = %v, %t; want %v, true", at, got, ok, want)
		}
	}
	valid := new(schema.IDGen).New(time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC))
	for _, id := range []string{
		"",
		valid[:25],
		valid + "0",
		"01JABCDEFGHJKMNPQRSTVWXYZI", // I is not in the alphabet
		"01jabcdefghjkmnpqrstvwxyz0", // lower case
		"01JABCDEFGHJKMNPQRSTVWX!Z0",
		"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", // more than 128 bits
	} {
		if got, ok := schema.IDTime(id); ok {
			t.Errorf("IDTime(%q) = %v, true; want false", id, got)
		}
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		gateway   string
		transport schema.Transport
		dir       schema.Direction
		want      string
	}{
		{"local", schema.HTTP, schema.ToGateway, "janustap.local.http.c2g"},
		{"janus.example.com", schema.WS, schema.ToClient, "janustap.janus_example_com.ws.g2c"},
		{"", schema.AdminHTTP, schema.ToGateway, "janustap._.admin-http.c2g"},
		{"a b*c>d", schema.AdminWS, schema.ToClient, "janustap.a_b_c_d.admin-ws.g2c"},
	}
	for _, tt := range tests {
		ev := &schema.Event{Gateway: tt.gateway, Transport: tt.transport, Direction: tt.dir}
		if got := ev.Subject("janustap"); got != tt.want {
			t.Errorf("Subject of gateway %q = %q, want %q", tt.gateway, got, tt.want)
		}
	}
}

func TestSubjectToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "_"},
		{"janus1", "janus1"},
		{"janus-eu_1", "janus-eu_1"},
		{"127.0.0.1:8088", "127_0_0_1:8088"},
		{"a*b>c", "a_b_c"},
		{"with space\ttab\nnewline", "with_space_tab_newline"},
		{"nul\x00del\x7f", "nul_del_"},
		{"jänus→ü", "jänus→ü"},
	}
	for _, tt := range tests {
		if got := schema.SubjectToken(tt.in); got != tt.want {
			t.Errorf("SubjectToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKeepHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Transfer-Encoding", "chunked")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Max-Age", "86400")
	h.Add("Sec-WebSocket-Protocol", "janus-protocol")
	h.Add("Sec-WebSocket-Protocol", "janus-admin-protocol")
	h.Set("Cookie", "session=x")
	h.Set("User-Agent", "Mozilla/5.0")
	h.Set("Date", "Tue, 24 Nov 2026 14:00:00 GMT")
	h["Origin"] = []string{} // present without a value
	got := schema.KeepHeaders(h)
	want := map[string]string{
		"Content-Type":                "application/json",
		"Transfer-Encoding":           "chunked",
		"Access-Control-Allow-Origin": "*",
		"Access-Control-Max-Age":      "86400",
		"Sec-Websocket-Protocol":      "janus-protocol, janus-admin-protocol",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KeepHeaders = %v, want %v", got, want)
	}
	if got := schema.KeepHeaders(http.Header{"Date": {"x"}}); got != nil {
		t.Errorf("KeepHeaders of no kept header = %v, want nil", got)
	}
	if got := schema.KeepHeaders(nil); got != nil {
		t.Errorf("KeepHeaders(nil) = %v, want nil", got)
	}
}

func TestEventAccessors(t *testing.T) {
	var ev schema.Event
	if ev.SessionID() != 0 || ev.HandleID() != 0 || ev.Transaction() != "" {
		t.Errorf("accessors of an event without Janus = %d, %d, %q; want zeros", ev.SessionID(), ev.HandleID(), ev.Transaction())
	}
	ev.Janus = &schema.Janus{SessionID: sessionID, Sender: handleID, Transaction: "m2"}
	if got, want := ev.HandleID(), uint64(handleID); got != want {
		t.Errorf("HandleID of a reply = %d, want the sender %d", got, want)
	}
	ev.Janus.HandleID = 42
	if got, want := ev.HandleID(), uint64(42); got != want {
		t.Errorf("HandleID of a request = %d, want %d", got, want)
	}
	if got, want := ev.SessionID(), uint64(sessionID); got != want {
		t.Errorf("SessionID = %d, want %d", got, want)
	}
	if got, want := ev.Transaction(), "m2"; got != want {
		t.Errorf("Transaction = %q, want %q", got, want)
	}
}

func TestTransport(t *testing.T) {
	tests := []struct {
		tr          schema.Transport
		ws, isAdmin bool
	}{
		{schema.HTTP, false, false},
		{schema.WS, true, false},
		{schema.AdminHTTP, false, true},
		{schema.AdminWS, true, true},
	}
	for _, tt := range tests {
		if got := tt.tr.IsWS(); got != tt.ws {
			t.Errorf("%s.IsWS() = %t, want %t", tt.tr, got, tt.ws)
		}
		if got := tt.tr.IsAdmin(); got != tt.isAdmin {
			t.Errorf("%s.IsAdmin() = %t, want %t", tt.tr, got, tt.isAdmin)
		}
	}
	if got, want := len(schema.Transports), len(tests); got != want {
		t.Errorf("len(Transports) = %d, want %d", got, want)
	}
}

func TestEncodeDecode(t *testing.T) {
	at := time.Date(2026, 11, 24, 14, 0, 0, 123_456_789, time.UTC)
	tests := []struct {
		name  string
		ev    schema.Event
		has   []string // substrings of the encoding
		lacks []string
	}{
		{
			name:  "utf8_body",
			ev:    schema.Event{ID: "01KAV5Q7R8ZP3M6N2C4D5E6F7G", Conn: "c1", Seq: 1, Time: at, Body: []byte(messageOffer)},
			has:   []string{`"body":"{\n   \"janus\": \"message\"`, `a=fmtp:111 minptime=10;useinbandfec=1`},
			lacks: []string{`body_base64`, `\u003c`},
		},
		{
			name: "html_not_escaped",
			ev:   schema.Event{ID: "x", Body: []byte(`{"janus":"message","body":{"text":"<b>a & b</b>"}}`)},
			has:  []string{`<b>a & b</b>`},
		},
		{
			name:  "non_utf8_body",
			ev:    schema.Event{ID: "x", Binary: true, Body: []byte("{\"janus\":\"keepalive\",\"transaction\":\"\xff\xfe\"}")},
			has:   []string{`"body_base64":"eyJqYW51cyI6ImtlZXBhbGl2ZSIsInRyYW5zYWN0aW9uIjoi//4ifQ=="`},
			lacks: []string{`"body":`},
		},
		{
			name:  "empty_body",
			ev:    schema.Event{ID: "x", Kind: schema.Open},
			lacks: []string{`"body"`, `body_base64`},
		},
		{
			name: "labels_and_header",
			ev: schema.Event{ID: "x", Labels: map[string]string{"flow": "echotest-ws", "run": "3"},
				Header: map[string]string{"Content-Type": "application/json"}},
			has: []string{`"labels":{"flow":"echotest-ws","run":"3"}`, `"header":{"Content-Type":"application/json"}`},
		},
		{
			name: "max_ids",
			ev:   schema.Event{ID: "x", Seq: 1<<64 - 1, Janus: &schema.Janus{SessionID: maxID, HandleID: maxID}},
			has:  []string{`"seq":18446744073709551615`, `"session_id":9007199254740991`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := schema.Encode(&tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(b, "\n") {
				t.Errorf("encoding is not one line: %s", b)
			}
			for _, s := range tt.has {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("encoding lacks %s: %s", s, b)
				}
			}
			for _, s := range tt.lacks {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("encoding has %s: %s", s, b)
				}
			}
			got, err := schema.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.ev
			want.V = max(schema.VersionOf(want.Kind), want.V)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Decode(Encode(ev)) =\n%+v\nwant\n%+v", *got, want)
			}
			if tt.ev.V != 0 {
				t.Errorf("Encode changed its argument's V to %d", tt.ev.V)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error // checked with errors.Is when set
	}{
		{name: "invalid_json", in: `{"v":1,"id":`},
		{name: "not_object", in: `[1]`},
		{name: "empty", in: ``},
		{name: "no_v", in: `{"id":"01KAV5Q7R8ZP3M6N2C4D5E6F7G"}`},
		{name: "v_0", in: `{"v":0,"id":"01KAV5Q7R8ZP3M6N2C4D5E6F7G"}`},
		{name: "v_negative", in: `{"v":-1,"id":"01KAV5Q7R8ZP3M6N2C4D5E6F7G"}`},
		{name: "v_newer", in: `{"v":3,"id":"01KAV5Q7R8ZP3M6N2C4D5E6F7G","new_field":true}`, wantErr: schema.ErrUnknownVersion},
		{name: "v_string", in: `{"v":"1","id":"01KAV5Q7R8ZP3M6N2C4D5E6F7G"}`},
		{name: "no_id", in: `{"v":1,"gateway":"local"}`},
		{name: "both_bodies", in: `{"v":1,"id":"x","body":"{}","body_base64":"e30="}`},
		{name: "both_bodies_empty", in: `{"v":1,"id":"x","body":"","body_base64":""}`},
		{name: "bad_base64", in: `{"v":1,"id":"x","body_base64":"!!"}`},
		{name: "bad_time", in: `{"v":1,"id":"x","time":"yesterday"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := schema.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode = %+v, nil; want an error", ev)
			}
			if ev != nil {
				t.Errorf("Decode returned an event with its error: %+v", ev)
			}
			var de *schema.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("Decode error %T %v is not a *DecodeError", err, err)
			}
			if got, want := errors.Is(err, schema.ErrUnknownVersion), tt.wantErr == schema.ErrUnknownVersion; got != want {
				t.Errorf("errors.Is(%v, ErrUnknownVersion) = %t, want %t", err, got, want)
			}
			if !strings.HasPrefix(err.Error(), "decode event: ") {
				t.Errorf("error %q does not say what was being done", err)
			}
		})
	}
}

func TestDecodeNull(t *testing.T) {
	ev, err := schema.Decode([]byte(`{"v":1,"id":"x","body":null,"body_base64":null,"janus":null,"header":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (&schema.Event{V: 1, ID: "x"}); !reflect.DeepEqual(ev, want) {
		t.Errorf("Decode = %+v, want %+v", ev, want)
	}
}

// goldenEvents are realistic events, one per golden file in testdata/events.
func goldenEvents(t testing.TB) map[string]*schema.Event {
	t.Helper()
	parse := func(body string) *schema.Janus {
		j, err := schema.ParseJanus([]byte(body))
		if err != nil {
			t.Fatalf("ParseJanus(%s): %v", body, err)
		}
		return j
	}
	day := func(h, m, s, ms int) time.Time {
		return time.Date(2026, 11, 24, h, m, s, ms*int(time.Millisecond), time.UTC)
	}

	httpReq := &schema.Event{
		V: 1, ID: "01KAV5Q7R8ZP3M6N2C4D5E6F7G", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000042", Seq: 1,
		Time: day(14, 0, 0, 120), Mono: 5_120_334_001,
		Transport: schema.HTTP, Direction: schema.ToGateway, Kind: schema.Request,
		Method: "POST", Path: "/janus/6635366682236306/4601177821996538",
		Header: map[string]string{"Content-Type": "application/json", "Content-Length": fmt.Sprint(len(messageOffer)),
			"Origin": "http://127.0.0.1:8080"},
		Body: []byte(messageOffer), BodySize: len(messageOffer),
	}
	httpReq.Janus = parse(messageOffer)
	httpReq.Janus.SessionID, httpReq.Janus.HandleID = sessionID, handleID // from the path

	admin := &schema.Event{
		V: 1, ID: "01KAV5Q7SB0C1D2E3F4G5H6J7K", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000057", Seq: 1,
		Time: day(14, 0, 3, 2), Mono: 8_002_118_775,
		Transport: schema.AdminHTTP, Direction: schema.ToGateway, Kind: schema.Request,
		Method: "POST", Path: "/admin",
		Header: map[string]string{"Content-Type": "application/json"},
		Body:   []byte("{\n   \"janus\": \"list_sessions\",\n   \"admin_secret\": \"janusoverlord\",\n   \"transaction\": \"ha-ls\"\n}"),
	}
	admin.BodySize = len(admin.Body)
	admin.Janus = parse(string(admin.Body))
	schema.RedactEvent(admin)

	const trickle = `{"janus":"trickle","session_id":6635366682236306,"handle_id":4601177821996538,"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0","sdpMid":"0","sdpMLineIndex":0},"transaction":"tr1"}`
	binary := []byte("{\"janus\":\"keepalive\",\"session_id\":6635366682236306,\"transaction\":\"\xc3\x28\xff\"}")

	return map[string]*schema.Event{
		"http-request-message-offer": httpReq,
		"poll-event-batch": {
			V: 1, ID: "01KAV5Q7RCA1B2C3D4E5F6G7H8", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000041", Seq: 3,
			Time: day(14, 0, 0, 187), Mono: 5_187_002_410,
			Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.PollEvent,
			Method: "GET", Path: "/janus/6635366682236306", Query: "rid=1795528799871&maxev=10", Status: 200,
			Header: map[string]string{"Content-Type": "application/json", "Transfer-Encoding": "chunked",
				"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "86400"},
			Parent: "01KAV5Q7QZ9Y8X7W6V5T4S3R2Q", Part: 1, Parts: 3, Batch: true,
			Body: []byte(pollElems[1]), BodySize: len(pollElems[1]),
			Janus: parse(pollElems[1]),
		},
		"ws-frame": {
			V: 1, ID: "01KAV5Q7S0M1N2P3Q4R5S6T7V8", Gateway: "local", Tap: "tap-7f3a", Conn: "w-000003", Seq: 7,
			Time: day(14, 0, 1, 5), Mono: 6_005_873_112,
			Transport: schema.WS, Direction: schema.ToGateway, Kind: schema.Frame,
			Method: "GET", Path: "/", Subprotocol: "janus-protocol",
			Body:     []byte(trickle),
			BodySize: len(trickle),
			Janus:    parse(trickle),
			Labels:   map[string]string{"flow": "echotest-ws"},
		},
		"ws-close": {
			V: 1, ID: "01KAV5Q7T1W2X3Y4Z5A6B7C8D9", Gateway: "local", Tap: "tap-7f3a", Conn: "w-000003", Seq: 31,
			Time: day(14, 0, 9, 999), Mono: 14_999_000_000,
			Transport: schema.WS, Direction: schema.ToClient, Kind: schema.Close,
			Method: "GET", Path: "/", Subprotocol: "janus-protocol",
			CloseCode: 1001, CloseText: "going away",
		},
		"failure-502": {
			V: 1, ID: "01KAV5Q7V2E3F4G5H6J7K8M9N0", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000077", Seq: 2,
			Time: day(14, 0, 12, 0), Mono: 17_000_120_000,
			Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.Failure,
			Method: "POST", Path: "/janus", Status: 502, Parent: "01KAV5Q7V1D2E3F4G5H6J7K8M9",
			Error: "forward POST /janus: dial tcp 127.0.0.1:18088: connect: connection refused",
		},
		"admin-request-redacted": admin,
		"ws-binary-non-utf8": {
			V: 1, ID: "01KAV5Q7W3P4Q5R6S7T8V9W0X1", Gateway: "local", Tap: "tap-7f3a", Conn: "w-000004", Seq: 2,
			Time: day(14, 0, 13, 456), Mono: 18_456_000_001,
			Transport: schema.WS, Direction: schema.ToGateway, Kind: schema.Frame, Binary: true,
			Method: "GET", Path: "/", Subprotocol: "janus-protocol",
			Body: binary, BodySize: len(binary), Janus: parse(string(binary)),
		},
		"http-response-truncated": {
			V: 1, ID: "01KAV5Q7X4R5S6T7V8W9X0Y1Z2", Gateway: "local", Tap: "tap-7f3a", Conn: "h-000042", Seq: 2,
			Time: day(14, 0, 0, 161), Mono: 5_161_000_000,
			Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.Response,
			Method: "POST", Path: "/janus/6635366682236306/4601177821996538", Status: 200,
			Header:     map[string]string{"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
			Parent:     "01KAV5Q7R8ZP3M6N2C4D5E6F7G",
			Body:       []byte(eventAnswer[:256]),
			BodySize:   len(eventAnswer),
			Truncated:  true,
			BodySHA256: schema.SHA256([]byte(eventAnswer)),
			Janus:      parse(eventAnswer),
		},
		"evh-selected-pair": evhGolden(t, day(14, 0, 1, 300), `{
   "emitter": "MyJanusInstance",
   "type": 16,
   "subtype": 4,
   "timestamp": 1796500013621762,
   "session_id": 6635366682236306,
   "handle_id": 4601177821996538,
   "opaque_id": "echotest-BERkoia7",
   "event": {
      "selected-pair": "192.0.2.2:40374 [host,udp] <-> 192.0.2.2:43745 [host,udp]",
      "candidates": {
         "local": {"address": "192.0.2.2", "port": 40374, "type": "host", "transport": "udp", "family": 4},
         "remote": {"address": "192.0.2.2", "port": 43745, "type": "host", "transport": "udp", "family": 4}
      },
      "stream_id": 1,
      "component_id": 1
   }
}`),
	}
}

// evhGolden is the event of a Janus event posted to a tap at t, the
// second of a grouped POST of three.
func evhGolden(tb testing.TB, at time.Time, body string) *schema.Event {
	tb.Helper()
	env, err := schema.ParseEvhEnvelope([]byte(body))
	if err != nil {
		tb.Fatal(err)
	}
	ev := &schema.Event{Tap: "tap-7f3a", Conn: "e-000009", Seq: 2, Time: at, Mono: 6_300_000_000,
		Method: "POST", Path: "/", Part: 1, Parts: 3, Batch: true}
	schema.EvhEvent(ev, "local", env, []byte(body))
	return ev
}

func TestGolden(t *testing.T) {
	events := goldenEvents(t)
	if golden.Updating() {
		// Drop goldens whose case is gone.
		old, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
		for _, path := range old {
			if _, ok := events[strings.TrimSuffix(filepath.Base(path), ".json")]; !ok {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for name, ev := range events {
		t.Run(name, func(t *testing.T) {
			got, err := schema.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			want := golden.Check(t, filepath.Join("events", name+".json"), got)
			dec, err := schema.Decode(want)
			if err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			if !reflect.DeepEqual(dec, ev) {
				t.Errorf("Decode(golden) =\n%+v\nwant\n%+v", dec, ev)
			}
		})
	}
}

// TestValidate (issue 14, finding 7): the events a tap makes are valid;
// what no tap could produce is refused, saying why.
func TestValidate(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden events: %v", err)
	}
	var good *schema.Event
	for _, path := range goldens {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := schema.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		good = ev
	}
	for _, tc := range []struct {
		name string
		edit func(*schema.Event)
		want string
	}{
		{"kind", func(ev *schema.Event) { ev.Kind = "bogus" }, `unknown kind "bogus"`},
		{"direction", func(ev *schema.Event) { ev.Direction = "x" }, `unknown direction "x"`},
		{"transport", func(ev *schema.Event) { ev.Transport = "smtp" }, `unknown transport "smtp"`},
		{"id", func(ev *schema.Event) { ev.ID = "not-a-ulid" }, "is not a ULID"},
		{"id_lowercase", func(ev *schema.Event) { ev.ID = strings.ToLower(good.ID) }, "is not a ULID"},
		{"time", func(ev *schema.Event) { ev.Time = time.Time{} }, "no time"},
		{"gateway_star", func(ev *schema.Event) { ev.Gateway = "*" }, "cannot be in a NATS subject token"},
		{"gateway_wildcard", func(ev *schema.Event) { ev.Gateway = "evil.>" }, "cannot be in a NATS subject token"},
		{"gateway_empty", func(ev *schema.Event) { ev.Gateway = "" }, "empty gateway name"},
		{"gateway_newline", func(ev *schema.Event) { ev.Gateway = "a\nb" }, "cannot be in a NATS subject token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := *good
			tc.edit(&ev)
			if err := ev.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
