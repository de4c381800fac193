// Package janustest starts a private, real Janus (package janusrun) for the
// tests of any package and stops it after: Start fails the test under CI=true
// when Janus is not installed, skips it elsewhere, and logs the end of
// janus.log when the test failed. WaitFor polls a condition.
//
//	j := janustest.Start(t, janustest.Options{Args: []string{"-s", "5"}})
//	resp, err := http.Get(j.HTTP + "/info")
//
// It is to package janus what httptest is to net/http: the other end of the
// client, for tests. It may import janusrun, testing and the rest of the
// standard library.
package janustest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janusrun"
)

// The runner's types, for the tests that name them.
type (
	Janus        = janusrun.Janus
	Options      = janusrun.Options
	EventHandler = janusrun.EventHandler
)

// ErrNotInstalled says the janus binary or its packaged config is missing.
var ErrNotInstalled = janusrun.ErrNotInstalled

// Run is janusrun.Run.
func Run(ctx context.Context, dir string, opts Options) (*Janus, error) {
	return janusrun.Run(ctx, dir, opts)
}

// FreePort is janusrun.FreePort.
func FreePort() (int, error) { return janusrun.FreePort() }

// pollInterval is how often WaitFor asks its condition, at most.
const pollInterval = 20 * time.Millisecond

// Start starts Janus for the test and registers t.Cleanup to stop it (SIGTERM,
// wait, SIGKILL after a few seconds). When the test has failed, the cleanup
// also logs the end of janus.log. When janus is not installed, Start calls
// t.Fatal if the environment variable CI is "true" (CI must install it) and
// t.Skip otherwise.
func Start(t testing.TB, opts Options) *Janus {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	j, err := Run(t.Context(), t.TempDir(), opts)
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "true":
		t.Fatalf("%v; CI must install the janus package", err)
	case errors.Is(err, ErrNotInstalled):
		t.Skipf("skipping: %v", err)
	case err != nil:
		t.Fatalf("start janus: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of %s:\n%s", filepath.Join(j.Dir, "janus.log"), j.LogTail(40))
		}
		if err := j.Stop(); err != nil {
			t.Errorf("stop janus: %v", err)
		}
	})
	return j
}

// WaitFor calls cond at once and then every few milliseconds until it returns
// nil, and calls t.Fatalf with its last error if that has not happened within
// timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval / 2)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("condition not met within %v: %v", timeout, err)
			return
		case <-tick.C:
		}
	}
}
