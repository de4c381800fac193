package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/janustap/janustap/schema"
)

// readFlow reads a capture of recorder/verdict/testdata/flows.
func readFlow(t *testing.T, name string) []*schema.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "recorder", "verdict", "testdata", "flows", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*schema.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		ev, err := schema.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestWhy(t *testing.T) {
	evs := append(readFlow(t, "plugin-error-428"), readFlow(t, "normal")...)
	db := projectEvents(t, evs)
	tests := []struct {
		session string
		args    []string
		want    []string
	}{
		{"4602587483775661", nil, []string{"session 4602587483775661 of janus: videoroom refused join (message 5) with error 428",
			"error plugin-error:", "#5 ", "01M93WR8E9FR1Y0CSV32HT04EH"}},
		{"8017296119821882", nil, []string{"session 8017296119821882 of janus: no problem found\n"}},
		{"4602587483775661", []string{"--json"}, []string{`"rule": "plugin-error"`, `"n": 6`}},
	}
	for _, tt := range tests {
		t.Run(tt.session+strings.Join(tt.args, ""), func(t *testing.T) {
			out := mustRun(t, append([]string{"why", "--db", db, tt.session}, tt.args...)...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if len(tt.args) > 0 {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("--json output: %v", err)
				}
			}
		})
	}
	t.Run("rules", func(t *testing.T) {
		out := mustRun(t, "why", "--rules")
		for _, r := range []string{"janus-unreachable", "connection-dropped", "session-timeout", "janus-error", "plugin-error", "hangup", "pc-never-up"} {
			if !strings.Contains(out, r+"  ") {
				t.Errorf("--rules lacks %s:\n%s", r, out)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, _, err := runCmd(t, "why", "--db", db, strconv.Itoa(12345)); err == nil {
			t.Error("why on an unknown session did not fail")
		}
	})
}
