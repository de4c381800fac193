package diff_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDiffImportsOnlySchema holds the rule of STYLE.md section 1: the
// replayer imports schema and the standard library, never the recorder.
func TestDiffImportsOnlySchema(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		if dep != "" && dep != "github.com/janustap/janustap/schema" && dep != "github.com/janustap/janustap/replayer/diff" {
			t.Errorf("diff depends on %s; it compares events and needs nothing but schema", dep)
		}
	}
}
