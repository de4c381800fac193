package bench

import (
	"bytes"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildJanustap builds the janustap binary from this module, or returns ""
// when it does not build (the command may be mid-change elsewhere).
func buildJanustap(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "janustap")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/janustap")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("janustap does not build, so the janustap targets are skipped: %v\n%s", err, out)
		return ""
	}
	return bin
}

// TestBenchQuick runs a very small bench against a real Janus, nginx and
// janustap, and checks that every target answered.
func TestBenchQuick(t *testing.T) {
	need(t, "janus")
	need(t, "nginx")
	targets := []string{Direct, Nginx}
	bin := buildJanustap(t)
	if bin != "" {
		targets = append(targets, Janustap)
	}
	var logs bytes.Buffer
	cfg := Config{
		Workload: Workload{Clients: 2, Messages: 3},
		Duration: 1500 * time.Millisecond,
		Rounds:   1,
		Targets:  targets,
		IdleWS:   20,
		Janustap: bin,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b bytes.Buffer
			rep.WriteText(&b)
			t.Logf("report:\n%s\nlog:\n%s", b.String(), logs.String())
		}
	})

	if got, want := len(rep.Rows), len(targets)*len(Transports); got != want {
		t.Fatalf("report has %d rows, want %d", got, want)
	}
	for _, r := range rep.Rows {
		if r.Requests == 0 || r.ReqPerSec() <= 0 {
			t.Errorf("%s over %s: %d requests, %.0f req/s; want some", r.Target, r.Transport, r.Requests, r.ReqPerSec())
		}
		if r.Errors != 0 {
			t.Errorf("%s over %s: %d errors, first: %s", r.Target, r.Transport, r.Errors, r.FirstErr)
		}
		if r.Event.N == 0 {
			t.Errorf("%s over %s: no echotest event measured", r.Target, r.Transport)
		}
		if r.Target != Direct && (!r.HasAdded || !r.HasProc || r.PeakRSS == 0) {
			t.Errorf("%s over %s: added latency %v, process measured %v, peak RSS %d", r.Target, r.Transport, r.HasAdded, r.HasProc, r.PeakRSS)
		}
		if r.Target == Janustap {
			if r.Rec == nil || r.Rec.Events == 0 {
				t.Errorf("janustap over %s: no events in the stream (%+v)", r.Transport, r.Rec)
			} else if r.Rec.Dropped != 0 {
				t.Errorf("janustap over %s: %d events dropped", r.Transport, r.Rec.Dropped)
			}
		}
	}
	if got, want := len(rep.Idle), len(targets); got != want {
		t.Errorf("idle measurements of %d targets, want %d", got, want)
	}
	for _, r := range rep.Idle {
		if r.Held != r.Wanted {
			t.Errorf("%s held %d of %d idle WebSockets: %v", r.Target, r.Held, r.Wanted, r.FirstErr)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\nratio-vs-nginx p50=") {
		t.Errorf("the report does not end with the ratio line:\n%s", out.String())
	}
}
