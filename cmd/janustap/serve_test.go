package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestServeStreamFlags runs serve against a NATS server and checks that the
// stream it creates has the duplicate window and replicas it was given.
func TestServeStreamFlags(t *testing.T) {
	s := bustest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	created := make(chan *nats.Msg, 1)
	_, err = nc.ChanSubscribe("$JS.EVENT.ADVISORY.STREAM.CREATED."+bus.DefaultStream, created)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out, errw bytes.Buffer
	go func() {
		done <- newApp(&out, &errw).RunContext(ctx, []string{"janustap", "--log-level", "warn", "serve",
			"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--nats", s.ClientURL(),
			"--no-record", "--dedupe-window", "3m"})
	}()
	select {
	case <-created:
	case err := <-done:
		t.Fatalf("serve returned before creating the stream: %v\n%s", err, errw.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no stream created by serve in 30 s\n%s", errw.String())
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, errw.String())
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The advisory can come before the stream answers lookups.
	var st jetstream.Stream
	janustest.WaitFor(t, 10*time.Second, func() (err error) {
		st, err = js.Stream(ctx, bus.DefaultStream)
		return err
	})
	if got, want := st.CachedInfo().Config.Duplicates, 3*time.Minute; got != want {
		t.Errorf("duplicate window %v, want %v (--dedupe-window)", got, want)
	}
}

// TestTuneGC checks that serve sets its GC target unless GOGC sets one.
func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
	}{
		{env: "", want: serveGOGC},
		{env: "200", want: 100}, // left as the runtime read it
		{env: "off", want: 100},
	} {
		old := debug.SetGCPercent(100)
		tuneGC(func(k string) string {
			if k == "GOGC" {
				return tc.env
			}
			return ""
		})
		if got := debug.SetGCPercent(old); got != tc.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tc.env, got, tc.want)
		}
	}
}

// TestTwoServes runs two serves side by side, each with its own --listen
// and --data and no port flags (the embedded NATS servers and the admin
// listeners find free ports), and a third on a data directory in use, which
// is refused with an error naming the serve that holds it.
func TestTwoServes(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	run := func(data string) (<-chan error, *bytes.Buffer, context.CancelFunc) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		var out, errw bytes.Buffer
		args := []string{"janustap", "--log-level", "warn", "serve", "--listen", "127.0.0.1:0", "--data", data,
			"--janus-http", j.HTTP, "--janus-ws", j.WS, "--janus-admin-http", j.AdminHTTP, "--janus-admin-ws", j.AdminWS}
		go func() { done <- newApp(&out, &errw).RunContext(ctx, args) }()
		return done, &errw, cancel
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		done, errw, cancel := run(dir)
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve --data %s: %v\n%s", dir, err, errw)
			}
		}()
		waitFor(t, t.Context(), done, time.Minute, func() error {
			b, err := os.ReadFile(filepath.Join(dir, recorder.AdminURLFile))
			if err != nil {
				return err
			}
			code, body, err := httpGet(t.Context(), strings.TrimSpace(string(b))+"/readyz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/readyz: %d %s", code, body)
			}
			return err
		})
	}
	urls := map[string]bool{}
	for _, dir := range dirs {
		for _, f := range []string{recorder.URLFile, recorder.AdminURLFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			u := strings.TrimSpace(string(b))
			if urls[u] {
				t.Errorf("%s of %s is %s, as another's", f, dir, u)
			}
			urls[u] = true
		}
	}

	done, errw, cancel := run(dirs[0])
	defer cancel()
	select {
	case err := <-done:
		want := fmt.Sprintf("janustap serve (pid %d)", os.Getpid())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve on a data directory in use: %v, want an error naming %q\n%s", err, want, errw)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve on a data directory in use still running after a minute")
	}
}
