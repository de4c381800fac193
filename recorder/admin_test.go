package recorder_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/health"
	"github.com/janustap/janustap/recorder/janustest"
	"github.com/janustap/janustap/recorder/tap"
)

// readyz answers GET /readyz of the serve whose data directory is dir.
func readyz(t *testing.T, dir string) (int, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, recorder.AdminURLFile))
	if err != nil {
		t.Fatalf("admin url: %v", err)
	}
	resp, err := http.Get(strings.TrimSpace(string(b)) + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /readyz: %v", err)
	}
	return resp.StatusCode, string(body)
}

// TestReadyz: ready while Janus answers, NATS is connected and the spool
// has room; not ready, naming Janus, once Janus is gone; not ready, naming
// the part, when a part reports an error.
func TestReadyz(t *testing.T) {
	t.Parallel()
	j := janustest.Start(t, janustest.Options{})
	st := &health.Status{}
	s := serveTB(t, j, func(c *recorder.Config) {
		c.AdminListen = "127.0.0.1:0"
		c.Health = st
	})
	if code, body := readyz(t, s.dir); code != http.StatusOK || body != "ok janus\nok nats\nok spool\n" {
		t.Fatalf("/readyz with everything up = %d %q", code, body)
	}
	st.Set("project", io.ErrUnexpectedEOF)
	if code, body := readyz(t, s.dir); code != http.StatusServiceUnavailable || !strings.Contains(body, "FAIL project: unexpected EOF") {
		t.Errorf("/readyz with a part failing = %d %q", code, body)
	}
	st.Set("project", nil)
	if err := j.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, s.dir); code != http.StatusServiceUnavailable || !strings.Contains(body, "FAIL janus: janus http api:") || !strings.Contains(body, "ok nats") {
		t.Errorf("/readyz with Janus stopped = %d %q", code, body)
	}
}

// TestAdminListenTaken: serve's default admin address gives way to another
// process's (a free port is served and written to the data directory); an
// address the user chose does not.
func TestAdminListenTaken(t *testing.T) {
	t.Parallel()
	j := janustest.Start(t, janustest.Options{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := serveTB(t, j, func(c *recorder.Config) {
		c.AdminListen = taken.Addr().String()
		c.AdminListenDefault = true
	})
	b, err := os.ReadFile(filepath.Join(s.dir, recorder.AdminURLFile))
	if err != nil {
		t.Fatal(err)
	}
	if u := strings.TrimSpace(string(b)); u == "http://"+taken.Addr().String() || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("admin url = %q, want a free loopback port other than %s", u, taken.Addr())
	}
	if code, _ := readyz(t, s.dir); code != http.StatusOK {
		t.Errorf("/readyz on the fallback port = %d", code)
	}

	err = recorder.Run(t.Context(), recorder.Config{
		Tap:         tap.Config{Gateway: "gw1", JanusHTTP: j.HTTP},
		Listen:      []string{"127.0.0.1:0"},
		DataDir:     t.TempDir(),
		AdminListen: taken.Addr().String(),
	})
	if err == nil || !strings.Contains(err.Error(), "admin listen on "+taken.Addr().String()) {
		t.Errorf("Run with a chosen admin address in use: %v, want an admin listen error", err)
	}
}
