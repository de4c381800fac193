package golden_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janustap/janustap/schema/golden"
)

func TestDiff(t *testing.T) {
	long := strings.Repeat("x", 300)
	ctx := strings.Repeat("x", 40)
	var many strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&many, "line %d:\n- a\n+ b\n", i)
	}
	many.WriteString("(more lines differ)\n")
	for _, tt := range []struct {
		name, want, got, diff string
	}{
		{"same", "a\nb\n", "a\nb\n", "(same lines)\n"},
		{"oneLine", "a\nb\nc", "a\nB\nc", "line 2:\n- b\n+ B\n"},
		{"gotLonger", "a", "a\nb", "line 2:\n- (none)\n+ b\n"},
		{"longLine", long + "a" + long, long + "b" + long,
			fmt.Sprintf("line 1, byte 301:\n- …%q\n+ …%q\n", ctx+"a"+long[:59], ctx+"b"+long[:59])},
		{"manyLines", strings.Repeat("a\n", 12), strings.Repeat("b\n", 12), many.String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := golden.Diff([]byte(tt.want), []byte(tt.got)); got != tt.diff {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tt.diff)
			}
		})
	}
}

// TestCheck reads the golden file below testdata/ of the working directory
// and returns its bytes.
func TestCheck(t *testing.T) {
	if golden.Updating() {
		t.Skip("-update would rewrite the file this test reads")
	}
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Join("testdata", "case"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "case", "out.golden"), []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := golden.Check(t, "case/out.golden", []byte("same\n")); string(got) != "same\n" {
		t.Errorf("Check returned %q, want the file's bytes", got)
	}
}
