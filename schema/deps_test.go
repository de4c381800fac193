package schema_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSchemaImportsOnlyTheStandardLibrary holds the rule of STYLE.md section
// 1: schema is the centre, everything imports it and it imports nothing of
// ours or of anyone else's.
func TestSchemaImportsOnlyTheStandardLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for dep := range strings.Lines(string(out)) {
		if dep = strings.TrimSpace(dep); dep != "" && !strings.HasSuffix(dep, "/schema") {
			t.Errorf("schema depends on %s; the event must know nothing of where it is kept or replayed", dep)
		}
	}
}
