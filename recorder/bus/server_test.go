package bus_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/schema"
)

// startServer starts an embedded server on a random port in dir and shuts it
// down when the test ends.
func startServer(t testing.TB, dir string, edit func(*bus.Server)) *bus.Server {
	t.Helper()
	s := &bus.Server{Dir: dir, Port: -1, Logger: testLogger(t)}
	if edit != nil {
		edit(s)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestServerRequiresCredentials(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)

	fi, err := os.Stat(filepath.Join(dir, bus.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("credentials file mode %v, want %v", got, want)
	}
	user, pass, err := bus.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if user == "" || len(pass) < 20 {
		t.Errorf("credentials %q/%d characters, want a user and a long password", user, len(pass))
	}
	if got := s.ConnectOptions(); got.User != user || got.Password != pass {
		t.Errorf("server connects as %q, the file says %q", got.User, user)
	}

	for _, tc := range []struct {
		name string
		opts bus.ConnectOptions
	}{
		{"none", bus.ConnectOptions{}},
		{"wrong-password", bus.ConnectOptions{User: user, Password: pass + "x"}},
		{"wrong-user", bus.ConnectOptions{User: "nobody", Password: pass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := bus.Connect(t.Context(), s.ClientURL(), tc.opts)
			if err == nil {
				nc.Close()
				t.Fatal("connected without the right credentials")
			}
			if !bus.IsAuthError(err) {
				t.Errorf("error %v, want an authorization error", err)
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	t.Run("right", func(t *testing.T) {
		nc, js := connect(t, s.ClientURL(), bus.ConnectOptions{User: user, Password: pass})
		if _, err := js.AccountInfo(t.Context()); err != nil {
			t.Fatalf("jetstream: %v", err)
		}
		if got, want := nc.MaxPayload(), int64(bus.DefaultMaxPayload); got != want {
			t.Errorf("max payload %d, want %d", got, want)
		}
	})
}

func TestServerKeepsCredentialsAndStore(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	user, pass, err := bus.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, s.ClientURL(), s.ConnectOptions())
	ensureStream(t, js)
	s.Shutdown()

	s = startServer(t, dir, nil)
	if got := s.ConnectOptions(); got.User != user || got.Password != pass {
		t.Fatalf("restarted server has new credentials")
	}
	_, js = connect(t, s.ClientURL(), s.ConnectOptions())
	if _, err := js.Stream(t.Context(), bus.DefaultStream); err != nil {
		t.Fatalf("stream gone after restart: %v", err)
	}
}

func TestServerTightensCredentialsMode(t *testing.T) {
	dir := t.TempDir()
	startServer(t, dir, nil).Shutdown()
	path := filepath.Join(dir, bus.CredentialsFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	startServer(t, dir, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("credentials file mode %v after start, want %v", got, want)
	}
}

func TestLoadCredentialsWithoutServer(t *testing.T) {
	_, _, err := bus.LoadCredentials(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestServerRefusesNonLoopback(t *testing.T) {
	for _, host := range []string{"0.0.0.0", "::", "192.0.2.1", "example.com"} {
		s := &bus.Server{Dir: t.TempDir(), Host: host, Port: -1, Logger: testLogger(t)}
		if err := s.Start(t.Context()); err == nil {
			s.Shutdown()
			t.Errorf("started on %s", host)
		}
	}
}

func TestServerPortInUse(t *testing.T) {
	first := startServer(t, t.TempDir(), nil)
	u, err := url.Parse(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	s := &bus.Server{Dir: t.TempDir(), Logger: testLogger(t)}
	if s.Port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err == nil {
		s.Shutdown()
		t.Fatalf("second server started on port %d", s.Port)
	} else {
		t.Logf("second server on port %d: %v", s.Port, err)
	}
}

func TestServerLogsThroughSlog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level slog.Leveler
		want  bool // whether "Server is ready", a notice, reaches the log
	}{
		{"default", nil, false},
		{"info", slog.LevelInfo, true},
		{"off", slog.LevelError + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := startServer(t, t.TempDir(), func(s *bus.Server) { s.Logger, s.NATSLogLevel = logger, tc.level })
			s.Shutdown()
			if got := strings.Contains(buf.String(), "Server is ready"); got != tc.want {
				t.Errorf("notice logged: %v, want %v; log:\n%s", got, tc.want, buf.String())
			}
		})
	}
}

func TestServerMaxPayload(t *testing.T) {
	s := startServer(t, t.TempDir(), func(s *bus.Server) { s.MaxPayload = 64 << 10 })
	nc, js := connect(t, s.ClientURL(), s.ConnectOptions())
	if got, want := nc.MaxPayload(), int64(64<<10); got != want {
		t.Errorf("max payload %d, want %d", got, want)
	}
	ensureStream(t, js)
	_, err := js.Publish(t.Context(), bus.DefaultPrefix+".gw.http.c2g", make([]byte, 65<<10))
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("publish over the max payload: %v, want %v", err, nats.ErrMaxPayload)
	}
}

// lockedBuffer is a bytes.Buffer for several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServerRestartJetStream: after RestartJetStream the stream is there
// with what it held, and a publisher on the same in-memory connection goes
// on publishing into it.
func TestServerRestartJetStream(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	_, js := connect(t, s.ClientURL(), s.ConnectOptions())
	stream := ensureStream(t, js)
	sp := openSpool(t)
	var gen schema.IDGen
	evs := events(40, &gen)
	seqs := appendEvents(t, sp, evs[:20])
	p := &bus.Publisher{JS: js, Spool: sp, Logger: testLogger(t)}
	runPublisher(t, p)
	waitShipped(t, p, seqs[19])

	if err := s.RestartJetStream(t.Context()); err != nil {
		t.Fatal(err)
	}
	seqs = appendEvents(t, sp, evs[20:])
	waitShipped(t, p, seqs[19])
	checkStream(t, stream, evs, true)
}
