package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/janustap/janustap/"

// imports is the import rule of STYLE.md section 1, package by package:
// what each package of the module may import besides the standard library
// (its test files may import anything below cmd). A path of this module
// allows that package alone; any other path allows that module or package
// and what lies below it. Each package's doc comment says the same in words.
var imports = map[string][]string{
	"schema":        nil,
	"schema/har":    {"schema"},
	"schema/golden": nil,

	"recorder": {"recorder/bus", "recorder/evh", "recorder/health", "recorder/lockfile", "recorder/metrics",
		"recorder/spool", "recorder/store", "recorder/tap", "schema", "github.com/nats-io/nats.go"},
	"recorder/tap":         {"schema", "github.com/gorilla/websocket"},
	"recorder/tap/taptest": {"replayer/janus", "replayer/janus/janustest", "recorder/tap", "schema"},
	"recorder/spool":       nil,
	"recorder/bus":         {"recorder/health", "recorder/spool", "schema", "github.com/nats-io/nats-server/v2", "github.com/nats-io/nats.go"},
	"recorder/bus/bustest": {"replayer/janus/janusrun", "github.com/nats-io/nats-server/v2"},
	"recorder/store":       {"schema", "github.com/mattn/go-sqlite3", "C"},
	"recorder/evh":         {"recorder/health", "schema"},
	"recorder/health":      nil,
	"recorder/lockfile":    nil,
	"recorder/metrics":     {"schema", "github.com/prometheus/client_golang"},
	"recorder/verdict":     {"recorder/store", "schema"},
	"recorder/webui":       {"recorder/store", "recorder/verdict", "schema", "schema/har"},

	"replayer":                  {"recorder/store", "replayer/janus", "replayer/diff", "replayer/drive", "replayer/plan", "schema"},
	"replayer/plan":             {"schema"},
	"replayer/rewrite":          {"schema"},
	"replayer/drive":            {"replayer/janus", "replayer/media", "replayer/plan", "replayer/rewrite", "schema"},
	"replayer/diff":             {"schema"},
	"replayer/janus":            {"schema", "github.com/gorilla/websocket"},
	"replayer/janus/janusrun":   nil,
	"replayer/janus/janustest":  {"replayer/janus/janusrun"},
	"replayer/janus/clienttest": nil,
	"replayer/media":            {"github.com/pion"},

	"bench": {"recorder", "recorder/bus", "replayer/janus", "replayer/janus/janusrun", "schema",
		"github.com/google/pprof", "github.com/gorilla/websocket", "github.com/mattn/go-sqlite3", "github.com/nats-io/nats.go"},

	"cmd/janustap": {"bench", "recorder", "recorder/bus", "recorder/health", "recorder/lockfile", "recorder/metrics",
		"recorder/store", "recorder/tap", "recorder/verdict", "recorder/webui", "replayer", "replayer/diff",
		"replayer/drive", "replayer/janus/janusrun", "replayer/media", "replayer/rewrite", "schema", "schema/har",
		"github.com/nats-io/nats.go", "github.com/urfave/cli/v2"},
	"cmd/janustap/faults":  nil,
	"cmd/janustap/clients": nil,
}

// goList runs go list on every package of the module and returns, for each,
// the imports of its non-test files that are not in the standard library.
func goList(t *testing.T) map[string][]string {
	t.Helper()
	std, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	isStd := map[string]bool{}
	for p := range strings.FieldsSeq(string(std)) {
		isStd[p] = true
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list %s...: %v", module, err)
	}
	got := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(f[0], module)
		got[pkg] = []string{}
		for _, imp := range f[1:] {
			if !isStd[imp] {
				got[pkg] = append(got[pkg], imp)
			}
		}
	}
	return got
}

// allows says whether a package whose row is allowed may import imp. "C"
// (cgo) is allowed where the row names it.
func allows(allowed []string, imp string) bool {
	if imp == "C" {
		return slices.Contains(allowed, "C")
	}
	rel, ours := strings.CutPrefix(imp, module)
	return slices.ContainsFunc(allowed, func(a string) bool {
		if other := strings.Contains(strings.SplitN(a, "/", 2)[0], "."); other {
			return !ours && strings.HasPrefix(imp+"/", a+"/")
		}
		return ours && rel == a
	})
}

// TestImportRules holds every package of the module to its row of imports:
// nothing it imports is missing from the row, and every package has one.
func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	got := goList(t)
	for pkg, deps := range got {
		allowed, ok := imports[pkg]
		if !ok {
			t.Errorf("package %s has no row in the import rules (cmd/janustap/deps_test.go); add one, and say in its doc comment what it may import", pkg)
			continue
		}
		for _, imp := range deps {
			if !allows(allowed, imp) {
				t.Errorf("%s imports %s, which its import rule does not allow", pkg, strings.TrimPrefix(imp, module))
			}
		}
	}
	for pkg := range imports {
		if _, ok := got[pkg]; !ok {
			t.Errorf("the import rules name %s, which is no package of the module", pkg)
		}
	}
}

// TestImportRulesFlowOneWay holds the rows themselves to the arrows of
// STYLE.md section 1: cmd → bench → replayer → recorder → schema. Nothing
// imports cmd; schema's packages import schema's alone; the recorder's
// packages import no replayer, and the replayer's no bench. A package
// named ...test is test support and serves tests from anywhere: it may
// import what they import, but never cmd.
func TestImportRulesFlowOneWay(t *testing.T) {
	area := func(p string) string { return strings.SplitN(p, "/", 2)[0] }
	for pkg, allowed := range imports {
		for _, imp := range allowed {
			if strings.Contains(imp, ".") || imp == "C" {
				continue // another module, or cgo
			}
			from, to := area(pkg), area(imp)
			var bad bool
			switch {
			case to == "cmd":
				bad = true
			case strings.HasSuffix(pkg, "test"):
			case from == "schema":
				bad = to != "schema"
			case from == "recorder":
				bad = to != "recorder" && to != "schema"
			case from == "replayer":
				bad = to == "bench"
			}
			if bad {
				t.Errorf("the import rules let %s import %s, against the arrows of STYLE.md section 1", pkg, imp)
			}
		}
	}
}

// TestBinaryDoesNotLinkTesting keeps the test helpers out of the shipped
// binary: the package testing (and so anything written for tests only)
// must not be among janustap's dependencies.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		if dep = strings.TrimSpace(dep); dep == "testing" || strings.HasSuffix(dep, "test") && strings.HasPrefix(dep, module) {
			t.Errorf("janustap links %s: the shipped binary must not carry test code", dep)
		}
	}
}
