package recorder_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRecorderDoesNotImportReplayer keeps the imports flowing one way:
// cmd → replayer → recorder → schema. No package under recorder may depend
// on the replayer or the command line. (End-to-end tests, such as
// clienttest's, replay what they captured and so import the replayer from
// their test files; the packages themselves never do.)
func TestRecorderDoesNotImportReplayer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		if strings.Contains(dep, "janustap/replayer") || strings.Contains(dep, "janustap/cmd") {
			t.Errorf("recorder depends on %s; the recorder must know nothing of replays or the CLI", dep)
		}
	}
}
