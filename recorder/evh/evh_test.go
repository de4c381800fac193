package evh_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/janustap/janustap/recorder/evh"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/schema"
)

// Real events of Janus 1.1.2's sampleevh (an echotest), shortened.
const (
	created  = `{"emitter":"MyJanusInstance","type":1,"timestamp":1796500011857108,"session_id":6416714918406041,"event":{"name":"created","transport":{"transport":"janus.transport.http","id":"3044796962901722807"}}}`
	attached = `{"emitter":"MyJanusInstance","type":2,"timestamp":1796500011981638,"session_id":6416714918406041,"handle_id":6425673392933702,"opaque_id":"echotest-BERkoia7","event":{"name":"attached","plugin":"janus.plugin.echotest","opaque_id":"echotest-BERkoia7"}}`
	stats    = `{"emitter":"MyJanusInstance","type":32,"subtype":3,"timestamp":1796500014159808,"session_id":6416714918406041,"handle_id":6425673392933702,"event":{"mid":"0","media":"audio","rtt":0,"lost":0,"packets-received":25,"bytes-received":1836}}`
)

// memory keeps the events it is given.
type memory struct {
	mu   sync.Mutex
	evs  []*schema.Event
	fail error
}

func (m *memory) Emit(ev *schema.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.evs = append(m.evs, ev)
	return nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReceiver(t *testing.T) {
	grouped := "[\n" + created + ",\n" + attached + ",\n" + stats + "\n]"
	big := "[" + strings.Repeat(created+",", 400) + created + "]" // ~80 KB
	tests := []struct {
		name       string
		method     string
		body       []byte
		header     map[string]string
		user       bool // the receiver wants basic auth u:p
		fail       error
		wantStatus int
		wantDirs   []string
	}{
		{name: "single", body: []byte(created), wantStatus: 200, wantDirs: []string{"session"}},
		{name: "grouped", body: []byte(grouped), wantStatus: 200, wantDirs: []string{"session", "handle", "media-stats"}},
		{name: "gzip", body: gz(grouped), header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 200, wantDirs: []string{"session", "handle", "media-stats"}},
		{name: "gzip_unannounced", body: gz(created), wantStatus: 200, wantDirs: []string{"session"}},
		{name: "auth", body: []byte(created), user: true, header: map[string]string{"Authorization": "Basic dTpw"}, wantStatus: 200, wantDirs: []string{"session"}},
		{name: "auth_missing", body: []byte(created), user: true, wantStatus: 401},
		{name: "auth_wrong", body: []byte(created), user: true, header: map[string]string{"Authorization": "Basic dTp4"}, wantStatus: 401},
		{name: "get", method: "GET", wantStatus: 405},
		{name: "not_json", body: []byte(`type=1`), wantStatus: 400},
		{name: "cut_short", body: []byte(grouped[:len(grouped)/2]), wantStatus: 400},
		{name: "element_not_event", body: []byte(`[` + created + `,{"hello":1}]`), wantStatus: 400},
		{name: "bad_gzip", body: []byte("\x1f\x8bnot gzip"), header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 400},
		{name: "deflate", body: []byte(created), header: map[string]string{"Content-Encoding": "br"}, wantStatus: 415},
		{name: "oversized", body: []byte(big), wantStatus: 413},
		{name: "oversized_uncompressed", body: gz(big), header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 413},
		{name: "spool_refuses", body: []byte(created), fail: errors.New("spool full"), wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := &memory{fail: tt.fail}
			st := &health.Status{}
			r := &evh.Receiver{Gateway: "gw", Tap: "tap1", Emitter: mem, MaxBody: 32 << 10, Health: st}
			if tt.user {
				r.User, r.Password = "u", "p"
			}
			method := tt.method
			if method == "" {
				method = "POST"
			}
			req := httptest.NewRequest(method, "/evh", bytes.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if got := w.Code; got != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", got, strings.TrimSpace(w.Body.String()), tt.wantStatus)
			}
			if got, want := len(mem.evs), len(tt.wantDirs); got != want {
				t.Fatalf("%d events emitted, want %d", got, want)
			}
			if tt.fail != nil && len(st.Problems()) != 1 {
				t.Errorf("health problems %v, want the spool's", st.Problems())
			}
			for i, ev := range mem.evs {
				if got := string(ev.Direction); got != tt.wantDirs[i] {
					t.Errorf("event %d dir %q, want %q", i, got, tt.wantDirs[i])
				}
				if ev.Kind != schema.JanusEvent || ev.Transport != schema.EVH || ev.Gateway != "gw" || ev.Tap != "tap1" ||
					ev.Seq != uint64(i+1) || ev.Labels[schema.EmitterLabel] != "MyJanusInstance" {
					t.Errorf("event %d: %+v", i, ev)
				}
				if _, err := schema.ParseEvhEnvelope(ev.Body); err != nil {
					t.Errorf("event %d body: %v", i, err)
				}
				if len(mem.evs) > 1 && (ev.Part != i || ev.Parts != len(mem.evs) || !ev.Batch) {
					t.Errorf("event %d part %d/%d batch %v", i, ev.Part, ev.Parts, ev.Batch)
				}
			}
		})
	}
}

// TestReceiverRetry posts the same events twice, as sampleevh retries a
// POST whose answer it did not get: the events get the same ids (which
// JetStream and the recorder store once), in new connections.
func TestReceiverRetry(t *testing.T) {
	mem := &memory{}
	r := &evh.Receiver{Gateway: "gw", Tap: "tap1", Emitter: mem}
	body := "[" + created + "," + attached + "]"
	for range 2 {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(body)))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	if len(mem.evs) != 4 {
		t.Fatalf("%d events, want 4", len(mem.evs))
	}
	for i := range 2 {
		if a, b := mem.evs[i], mem.evs[i+2]; a.ID != b.ID || a.Conn == b.Conn {
			t.Errorf("event %d: ids %s, %s (want equal), conns %s, %s (want different)", i, a.ID, b.ID, a.Conn, b.Conn)
		}
	}
	if mem.evs[0].ID == mem.evs[1].ID {
		t.Errorf("two events, one id %s", mem.evs[0].ID)
	}
	if got := r.Stats(); got.Posts != 2 || got.Events != 4 {
		t.Errorf("stats %+v", got)
	}
}

func TestReceiverFromEmitter(t *testing.T) {
	mem := &memory{}
	r := &evh.Receiver{Gateway: "gw", FromEmitter: true, Emitter: mem}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(created)))
	if w.Code != 200 || len(mem.evs) != 1 || mem.evs[0].Gateway != "MyJanusInstance" {
		t.Fatalf("status %d, events %+v", w.Code, mem.evs)
	}
}
