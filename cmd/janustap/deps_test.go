package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkTesting keeps the test helpers out of the shipped
// binary: the package testing (and so anything written for tests only)
// must not be among janustap's dependencies.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		if dep = strings.TrimSpace(dep); dep == "testing" || strings.HasSuffix(dep, "test") && strings.HasPrefix(dep, "github.com/janustap/") {
			t.Errorf("janustap links %s: the shipped binary must not carry test code", dep)
		}
	}
}
