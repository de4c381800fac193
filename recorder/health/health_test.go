package health_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/health"
)

func TestReady(t *testing.T) {
	ok := health.Check{Name: "janus", Run: func(context.Context) error { return nil }}
	down := health.Check{Name: "nats", Run: func(context.Context) error { return errors.New("not connected") }}
	slow := health.Check{Name: "slow", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	tests := []struct {
		name      string
		checks    []health.Check
		reports   map[string]error
		wantReady bool
		want      []string
	}{
		{"all ready", []health.Check{ok}, nil, true, []string{"ok janus"}},
		{"a check fails", []health.Check{ok, down}, nil, false, []string{"ok janus", "FAIL nats: not connected"}},
		{"a check times out", []health.Check{slow}, nil, false, []string{"FAIL slow: context deadline exceeded"}},
		{"a part reports an error", []health.Check{ok}, map[string]error{"publish": errors.New("disk full")}, false,
			[]string{"ok janus", "FAIL publish: disk full (since"}},
		{"a part recovered", []health.Check{ok}, map[string]error{"publish": nil}, true, []string{"ok janus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s health.Status
			for part, err := range tt.reports {
				s.Set(part, errors.New("first"))
				s.Set(part, err)
			}
			lines, ready := health.Ready(t.Context(), &s, tt.checks, 50*time.Millisecond)
			if ready != tt.wantReady {
				t.Errorf("ready = %v, want %v (%q)", ready, tt.wantReady, lines)
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("lines = %q, want %q", lines, tt.want)
			}
			for i := range lines {
				if !strings.HasPrefix(lines[i], tt.want[i]) {
					t.Errorf("line %d = %q, want it to start with %q", i, lines[i], tt.want[i])
				}
			}
		})
	}
}

func TestStatusKeepsSince(t *testing.T) {
	var s health.Status
	s.Set("publish", errors.New("a"))
	first := s.Problems()[0].Since
	s.Set("publish", errors.New("b"))
	p := s.Problems()
	if len(p) != 1 || p[0].Err.Error() != "b" || !p[0].Since.Equal(first) {
		t.Errorf("after a second error: %+v, want the new message since %v", p, first)
	}
	var nilStatus *health.Status
	nilStatus.Set("x", errors.New("ignored"))
	if nilStatus.Problems() != nil {
		t.Error("a nil Status has problems")
	}
}

func TestHandler(t *testing.T) {
	var s health.Status
	srv := httptest.NewServer(health.Handler(&s, []health.Check{{Name: "janus", Run: func(context.Context) error { return nil }}}, time.Second))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ok janus\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	s.Set("project", errors.New("database is locked"))
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !slices.Contains(strings.Split(body, "\n")[:1], "ok janus") || !strings.Contains(body, "FAIL project: database is locked") {
		t.Errorf("/readyz with a failing part = %d %q", code, body)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing = %d, want 404", code)
	}
}
