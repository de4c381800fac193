package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// waitPage waits until url answers 200 and returns its body.
func waitPage(t *testing.T, url string) string {
	t.Helper()
	var body string
	janustest.WaitFor(t, 20*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
		}
		body = string(b)
		return nil
	})
	return body
}

func TestUICommand(t *testing.T) {
	db := projectEvents(t, readFlow(t, "plugin-error-428"))
	addr := port(freePort(t))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out, errw bytes.Buffer
	go func() {
		done <- newApp(&out, &errw).RunContext(ctx, []string{"janustap", "ui", "--db", db, "--listen", addr, "--no-live"})
	}()
	base := "http://" + addr
	if page := waitPage(t, base+"/?opaque_id=subscriber-1"); !strings.Contains(page, "4602587483775661") {
		t.Errorf("sessions page lacks the session:\n%s", page)
	}
	if page := waitPage(t, base+"/s/janus/4602587483775661"); !strings.Contains(page, "/static/session.js") {
		t.Errorf("session page:\n%s", page)
	}
	if ladder := waitPage(t, base+"/api/s/janus/4602587483775661"); !strings.Contains(ladder, "No such feed") {
		t.Errorf("the session's ladder lacks the verdict:\n%s", ladder)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ui: %v\n%s", err, errw.String())
	}
	if !strings.Contains(out.String(), "web view on http://"+addr) {
		t.Errorf("ui printed %q", out.String())
	}
}

// TestServeUI runs serve with --ui-listen: the web view answers beside the
// tap, from the store serve records to.
func TestServeUI(t *testing.T) {
	srv := bustest.Start(t)
	addr := port(freePort(t))
	stop := startServe(t, srv.ClientURL(), "--data", t.TempDir(), "--ui-listen", addr, "--admin-listen", "")
	defer stop()
	if page := waitPage(t, "http://"+addr+"/"); !strings.Contains(page, "no session matches") {
		t.Errorf("sessions page of an empty store:\n%s", page)
	}
}
