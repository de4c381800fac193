// Package golden compares what a test produced with a golden file in the
// testdata/ directory of the test's package, as go/printer's tests do: with
// the flag -update the file is first rewritten with what the test produced,
// and the change is then reviewed in the diff like code.
//
//	golden.Check(t, "sessions.golden", out.Bytes())
//
//	go test ./recorder/store -run TestGolden -update
//
// It owns the -update flag of every test binary that imports it (a package
// whose tests define their own flag of that name panics at start). It sits
// under schema, at the bottom of the import graph, so that the tests of
// every package may use it, and it may import testing and the rest of the
// standard library only.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ with what the tests produce (then review the diff)")

// Updating reports whether the test runs with -update: a test whose golden
// files are named by its cases may then remove the files of cases gone.
func Updating() bool { return *update }

// Check compares got with the file testdata/name (name may hold
// directories) and returns the file's bytes. Under -update it first writes
// got to the file, creating its directory. A difference fails the test with
// the lines that differ (Diff).
func Check(t testing.TB, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (go test -update writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update, then review):\n%s", path, Diff(want, got))
	}
	return want
}

// Most lines Diff shows; a longer line is shown around its first
// differing byte.
const (
	maxLines = 10
	longLine = 200
)

// Diff shows the first lines in which got differs from want, numbered from
// 1, want's line after "-" and got's after "+" ("(none)" past the end). A
// line longer than 200 bytes, such as an encoded event, is shown around the
// first byte where the two differ.
func Diff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := range max(len(w), len(g)) {
		wl, gl := lineOf(w, i), lineOf(g, i)
		if wl == gl {
			continue
		}
		if shown == maxLines {
			b.WriteString("(more lines differ)\n")
			break
		}
		shown++
		if len(wl) <= longLine && len(gl) <= longLine {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
			continue
		}
		at := 0
		for at < len(wl) && at < len(gl) && wl[at] == gl[at] {
			at++
		}
		from := max(at-40, 0)
		fmt.Fprintf(&b, "line %d, byte %d:\n- …%q\n+ …%q\n", i+1, at+1, wl[from:min(at+60, len(wl))], gl[from:min(at+60, len(gl))])
	}
	if shown == 0 {
		return "(same lines)\n"
	}
	return b.String()
}

func lineOf(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}
