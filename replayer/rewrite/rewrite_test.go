package rewrite_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/rewrite"
)

func TestLearnAndRewrite(t *testing.T) {
	m := rewrite.New()
	m.Learn([]byte(`{"janus":"success","transaction":"c","data":{"id":111}}`), []byte(`{"janus":"success","transaction":"c","data":{"id":999}}`))
	m.Learn([]byte(`{"janus":"event","session_id":111,"sender":222,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","id":333,"private_id":44,"publishers":[{"id":555}]}}}`),
		[]byte(`{"janus":"event","session_id":999,"sender":888,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","id":777,"private_id":66,"publishers":[{"id":5555}]}}}`))
	tests := []struct {
		name, in, want string
	}{
		{"session in body", `{"janus":"keepalive","session_id":111,"transaction":"k"}`, `{"janus":"keepalive","session_id":999,"transaction":"k"}`},
		{"handle and spaces", "{\n   \"janus\": \"message\",\n   \"session_id\": 111,\n   \"handle_id\": 222\n}", "{\n   \"janus\": \"message\",\n   \"session_id\": 999,\n   \"handle_id\": 888\n}"},
		{"plugin ids in body", `{"janus":"message","body":{"request":"join","ptype":"subscriber","feed":555,"private_id":44}}`, `{"janus":"message","body":{"request":"join","ptype":"subscriber","feed":5555,"private_id":66}}`},
		{"array of feeds", `{"body":{"streams":[{"feed":333},{"feed":555}]}}`, `{"body":{"streams":[{"feed":777},{"feed":5555}]}}`},
		{"unknown id kept", `{"session_id":123}`, `{"session_id":123}`},
		{"non-id key kept", `{"bitrate":111}`, `{"bitrate":111}`},
		{"string id kept", `{"session_id":"111"}`, `{"session_id":"111"}`},
		{"malformed rewritten up to the break", `{"session_id":111,`, `{"session_id":999,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := m.Rewrite([]byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("Rewrite(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretsAndTransactions(t *testing.T) {
	m := rewrite.New()
	m.Secrets = rewrite.Secrets{APISecret: "s3", AdminSecret: "adm"}
	m.TxSuffix = "~r1"
	got, err := m.Rewrite([]byte(`{"janus":"create","transaction":"abc","apisecret":"REDACTED","token":"REDACTED","admin_secret":"REDACTED"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"janus":"create","transaction":"abc~r1","apisecret":"s3","token":"REDACTED","admin_secret":"adm"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := m.UnTx("abc~r1"); got != "abc" {
		t.Errorf("UnTx = %q", got)
	}
	if got := m.RewriteQuery("rid=1&apisecret=REDACTED"); got != "rid=1&apisecret=s3" {
		t.Errorf("RewriteQuery = %q", got)
	}
}

func TestConflict(t *testing.T) {
	m := rewrite.New()
	m.Set(1, 2)
	m.Set(1, 3)
	if n, _ := m.ID(1); n != 2 || len(m.Conflicts()) != 1 {
		t.Errorf("after a conflicting learn: id %d conflicts %q", n, m.Conflicts())
	}
}

func FuzzRewrite(f *testing.F) {
	f.Add([]byte(`{"janus":"message","session_id":111,"handle_id":222,"body":{"feed":[1,2]},"transaction":"x"}`))
	f.Add([]byte(`{"janus":"keepalive","transaction":`))
	f.Add([]byte(`[{"session_id":111}]`))
	m := rewrite.New()
	m.Set(111, 999)
	m.Set(222, 1)
	m.TxSuffix = "~r"
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := m.Rewrite(b)
		if err != nil {
			return
		}
		if json.Valid(b) && !json.Valid(out) {
			t.Fatalf("valid %q rewritten to invalid %q", b, out)
		}
	})
}

// TestLearnUnordered learns ids from answers whose lists (participants,
// publishers) come in another order in the new run, as Janus sends lists
// it builds from hash tables, and rewrites later requests and the leaving
// feed with them.
func TestLearnUnordered(t *testing.T) {
	const (
		captured = `{"janus":"success","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"participants","room":1234,` +
			`"participants":[{"id":111,"display":"alice","publisher":false},{"id":222,"display":"bob","publisher":false},{"id":333,"display":"carol","publisher":true}]}}}`
		reversed = `{"janus":"success","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"participants","room":1234,` +
			`"participants":[{"id":3333,"display":"carol","publisher":true},{"id":2222,"display":"bob","publisher":false},{"id":1111,"display":"alice","publisher":false}]}}}`
		rotated = `{"janus":"success","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"participants","room":1234,` +
			`"participants":[{"id":2222,"display":"bob","publisher":false},{"id":3333,"display":"carol","publisher":true},{"id":1111,"display":"alice","publisher":false}]}}}`
		publishers = `{"janus":"event","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,` +
			`"publishers":[{"id":333,"display":"carol","streams":[{"mid":"0","type":"audio"}]},{"id":111,"display":"alice","streams":[{"mid":"0","type":"audio"}]}]}}}`
		publishersNew = `{"janus":"event","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,` +
			`"publishers":[{"id":1111,"display":"alice","streams":[{"mid":"0","type":"audio"}]},{"id":3333,"display":"carol","streams":[{"mid":"0","type":"audio"}]}]}}}`
	)
	tests := []struct {
		name          string
		learn         [][2]string // captured, new
		in, want      string
		wantConflicts int
	}{
		{"same order", [][2]string{{captured, strings.NewReplacer("111", "1111", "222", "2222", "333", "3333").Replace(captured)}},
			`{"body":{"request":"join","ptype":"subscriber","streams":[{"feed":111},{"feed":333}]}}`,
			`{"body":{"request":"join","ptype":"subscriber","streams":[{"feed":1111},{"feed":3333}]}}`, 0},
		{"reversed participants", [][2]string{{captured, reversed}},
			`{"body":{"request":"join","ptype":"subscriber","streams":[{"feed":111},{"feed":333}]}}`,
			`{"body":{"request":"join","ptype":"subscriber","streams":[{"feed":1111},{"feed":3333}]}}`, 0},
		{"rotated participants", [][2]string{{captured, rotated}},
			`{"plugindata":{"data":{"leaving":222,"unpublished":333,"kicked":111}}}`,
			`{"plugindata":{"data":{"leaving":2222,"unpublished":3333,"kicked":1111}}}`, 0},
		{"publishers after participants", [][2]string{{captured, reversed}, {publishers, publishersNew}},
			`{"body":{"request":"subscribe","streams":[{"feed_id":333,"mid":"0"},{"feed_id":111,"mid":"0"}]}}`,
			`{"body":{"request":"subscribe","streams":[{"feed_id":3333,"mid":"0"},{"feed_id":1111,"mid":"0"}]}}`, 0},
		{"leaving ok stays", [][2]string{{captured, reversed}},
			`{"plugindata":{"data":{"leaving":"ok"}}}`, `{"plugindata":{"data":{"leaving":"ok"}}}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := rewrite.New()
			for _, l := range tt.learn {
				m.Learn([]byte(l[0]), []byte(l[1]))
			}
			got, err := m.Rewrite([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Errorf("Rewrite(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
			if c := m.Conflicts(); len(c) != tt.wantConflicts {
				t.Errorf("conflicts %q", c)
			}
		})
	}
}
