package recorder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/lockfile"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// goroutines returns the stacks of the running goroutines, by the line that
// names each ("goroutine 7 [select]:" without its state).
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		head, _, _ := bytes.Cut(g, []byte(" ["))
		out[string(head)] = string(g)
	}
	return out
}

// freePort returns a loopback address nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeFailingLateStopsEverything makes a step late in serve's start
// fail, in Open or in Run, and checks that what the earlier steps started is
// stopped once Open has failed, or Run has returned and Close been called:
// the ports of the tap, the event receiver and the embedded NATS server are
// free again, the data directory is unlocked, and no goroutine the service
// started is left. The last case stops a service that started well.
func TestServeFailingLateStopsEverything(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, c *recorder.Config)
		want   string // in the error; "" for none
		served bool   // whether the tap served before it stopped
	}{
		{"admin-address-in-use", func(t *testing.T, c *recorder.Config) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { taken.Close() })
			c.AdminListen = taken.Addr().String()
		}, "admin listen on", false},
		{"database-not-lockable", func(t *testing.T, c *recorder.Config) {
			c.DBPath = filepath.Join(t.TempDir(), "not-a-dir", "x", "janustap.db")
			if err := os.WriteFile(filepath.Dir(filepath.Dir(c.DBPath)), []byte("a file"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "database", false},
		{"tap-config-invalid", func(t *testing.T, c *recorder.Config) {
			ln, err := net.Listen("tcp", c.EVHListen)
			if err != nil {
				t.Fatal(err)
			}
			c.EVHListen, c.EVHListener = "", ln // the service closes it
			c.Tap.JanusHTTP = "::not a url"
		}, "janus", false},
		{"database-unopenable-in-run", func(t *testing.T, c *recorder.Config) {
			// Everything serves, then the database (a directory) fails to open.
			c.AdminListen = "127.0.0.1:0"
			c.DBPath = t.TempDir()
		}, "open recorder database", true},
		{"stopped-once-ready", func(t *testing.T, c *recorder.Config) {
			c.AdminListen = "127.0.0.1:0"
			c.NoRecord = true
			c.Ready = nil // set below: cancels
		}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			natsAddr, tapAddr, evhAddr := freePort(t), freePort(t), freePort(t)
			_, natsPort, _ := net.SplitHostPort(natsAddr)
			port, err := strconv.Atoi(natsPort)
			if err != nil {
				t.Fatal(err)
			}
			cfg := recorder.Config{
				// Janus is never asked: the service fails before any traffic.
				Tap:          tap.Config{Gateway: "gw1", JanusHTTP: "http://127.0.0.1:9/janus"},
				Listen:       []string{tapAddr},
				DataDir:      t.TempDir(),
				EmbeddedPort: port,
				EVHListen:    evhAddr,
				Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			}
			ready := false
			cfg.Ready = func([]net.Addr) { ready = true }
			tc.edit(t, &cfg)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if cfg.Ready == nil {
				cfg.Ready = func([]net.Addr) { ready = true; cancel() }
			}
			before := goroutines()

			s, err := recorder.Open(ctx, cfg)
			if err == nil {
				err = s.Run(ctx)
				if cerr := s.Close(); cerr != nil {
					t.Errorf("Close: %v", cerr)
				}
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("serve = %v, want an error saying %q", err, tc.want)
			}
			if ready != tc.served {
				t.Errorf("the tap served: %v, want %v", ready, tc.served)
			}

			for _, addr := range []string{tapAddr, evhAddr, natsAddr} {
				janustest.WaitFor(t, 10*time.Second, func() error {
					ln, err := net.Listen("tcp", addr)
					if err != nil {
						return fmt.Errorf("%s not free again: %w", addr, err)
					}
					return ln.Close()
				})
			}
			l, err := lockfile.DataDir(cfg.DataDir, "test")
			if err != nil {
				t.Fatalf("data directory still locked: %v", err)
			}
			l.Close()
			janustest.WaitFor(t, 10*time.Second, func() error {
				var left []string
				for id, stack := range goroutines() {
					if _, ok := before[id]; !ok {
						left = append(left, stack)
					}
				}
				if len(left) > 0 {
					slices.Sort(left)
					return errors.New("left running:\n" + strings.Join(left, "\n\n"))
				}
				return nil
			})
		})
	}
}
