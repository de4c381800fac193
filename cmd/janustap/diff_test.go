package main

import (
	"reflect"
	"testing"

	"github.com/janustap/janustap/replayer/diff"
)

// TestPrintRules: replay and diff print the default normalisation rules,
// in the form --rules reads back as the same rules, without needing a flow.
func TestPrintRules(t *testing.T) {
	for _, cmd := range []string{"replay", "diff"} {
		t.Run(cmd, func(t *testing.T) {
			out := mustRun(t, cmd, "--print-rules")
			got, err := diff.ParseRules([]byte(out))
			if err != nil {
				t.Fatalf("%s --print-rules printed what --rules cannot read: %v", cmd, err)
			}
			if !reflect.DeepEqual(got, diff.DefaultRules()) {
				t.Errorf("%s --print-rules = %+v, want DefaultRules", cmd, got)
			}
		})
	}
}
