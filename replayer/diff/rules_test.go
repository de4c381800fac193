package diff_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/schema/golden"
)

// TestDefaultRulesFile keeps testdata/default-rules.json, the form
// `janustap replay --print-rules` prints for users to copy and edit, equal
// to DefaultRules.
func TestDefaultRulesFile(t *testing.T) {
	b, err := diff.DefaultRules().MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "default-rules.json", b)
	r, err := diff.LoadRules(filepath.Join("testdata", "default-rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, diff.DefaultRules()) {
		t.Errorf("LoadRules(default-rules.json) = %+v, want DefaultRules", r)
	}
	if err := diff.DefaultRules().Validate(); err != nil {
		t.Errorf("DefaultRules are not valid: %v", err)
	}
}

// TestRulesExtendDefault adds a plugin to the default rules and checks the
// rules of both apply.
func TestRulesExtendDefault(t *testing.T) {
	r, err := diff.ParseRules([]byte(`{
	  "extends": "default",
	  "global": {"ignore": ["hint"]},
	  "plugins": {"janus.plugin.acme": {"ids": {"call_id": "C", "peer": "H"}, "ignore": ["started_at"]}},
	  "media": {"plugin_events": {"janus.plugin.acme": ["speaking"]}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Extends != "" {
		t.Errorf("Extends = %q after parsing, want it resolved", r.Extends)
	}
	if got := r.Plugins["janus.plugin.videoroom"].IDs["private_id"]; got != "P" {
		t.Errorf("videoroom private_id has kind %q, want the default P", got)
	}
	if got := r.Global.Ignore; !strings.Contains(strings.Join(got, ","), "created") || got[len(got)-1] != "hint" {
		t.Errorf("global ignore = %v, want the defaults then hint", got)
	}
	body := `{"janus":"event","session_id":6635366682236306,"sender":4601177821996538,"hint":"later",` +
		`"plugindata":{"plugin":"janus.plugin.acme","data":{"acme":"ringing","call_id":77123456,"peer":4601177821996538,"started_at":1764000000}}}`
	got, err := diff.Normalise([]byte(body), r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hint":"$ignored","janus":"event","plugindata":{"data":{"acme":"ringing","call_id":"$C1","peer":"$H1","started_at":"$ignored"},"plugin":"janus.plugin.acme"},"sender":"$H1","session_id":"$S1"}`
	if string(got) != want {
		t.Errorf("Normalise with acme rules:\n got %s\nwant %s", got, want)
	}
}

// TestRulesComplete checks that rules without extends are all there is.
func TestRulesComplete(t *testing.T) {
	r, err := diff.ParseRules([]byte(`{"global": {"ids": {"session_id": "S"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := diff.Normalise([]byte(`{"janus":"success","session_id":6635366682236306,"sender":4601177821996538,"local-ip":"192.0.2.2"}`), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"janus":"success","local-ip":"192.0.2.2","sender":4601177821996538,"session_id":"$S1"}`; string(got) != want {
		t.Errorf("Normalise:\n got %s\nwant %s", got, want)
	}
}

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		name, rules string
		invalid     bool // the error wraps ErrInvalidRules
	}{
		{"not_json", `{"global":`, false},
		{"unknown_key", `{"globals": {}}`, false},
		{"misspelt_nested_key", `{"global": {"ignored": ["x"]}}`, false},
		{"data_after", `{} {}`, false},
		{"lower_case_kind", `{"global": {"ids": {"session_id": "s"}}}`, true},
		{"transaction_kind", `{"plugins": {"janus.plugin.x": {"ids": {"tx": "T"}}}}`, true},
		{"empty_kind", `{"global": {"ids": {"session_id": ""}}}`, true},
		{"digit_kind", `{"global": {"ids": {"session_id": "S2"}}}`, true},
		{"unknown_base", `{"extends": "strict"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := diff.ParseRules([]byte(tc.rules))
			if err == nil {
				t.Fatalf("ParseRules = %+v, want an error", r)
			}
			if got := errors.Is(err, diff.ErrInvalidRules); got != tc.invalid {
				t.Errorf("errors.Is(%q, ErrInvalidRules) = %v, want %v", err, got, tc.invalid)
			}
			if !strings.HasPrefix(err.Error(), "parse rules: ") {
				t.Errorf("error %q does not say what was done", err)
			}
		})
	}
}

func TestLoadRulesErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := diff.LoadRules(filepath.Join(dir, "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadRules of a missing file: %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(path, []byte(`{"global": {"ids": {"id": "x"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := diff.LoadRules(path)
	if !errors.Is(err, diff.ErrInvalidRules) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadRules of bad rules: %v, want ErrInvalidRules naming %s", err, path)
	}
}
