package bench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janustap/janustap/schema/golden"
)

// need returns the path of a program the test needs. A missing program
// fails the test in CI, which must install it, and skips it elsewhere.
func need(t *testing.T, name string) string {
	t.Helper()
	bin, err := lookBin("", name)
	switch {
	case errors.Is(err, ErrMissing) && os.Getenv("CI") == "true":
		t.Fatalf("%v; CI must install it", err)
	case err != nil:
		t.Skipf("skipping: %v", err)
	}
	return bin
}

func testNginxConfig(dir string) NginxConfig {
	return NginxConfig{
		Dir:       dir,
		Listen:    "127.0.0.1:18080",
		JanusHTTP: "http://127.0.0.1:18088/janus",
		AdminHTTP: "http://127.0.0.1:17088/admin",
		JanusWS:   "ws://127.0.0.1:18188",
	}
}

func TestNginxConfigRender(t *testing.T) {
	tests := []struct {
		name string
		edit func(*NginxConfig)
	}{
		{"nginx", func(*NginxConfig) {}},
		{"nginx-root-no-admin", func(c *NginxConfig) { c.Root, c.AdminHTTP, c.Workers, c.MaxConns = true, "", 1, 4096 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testNginxConfig("/tmp/bench-nginx")
			tt.edit(&c)
			got, err := c.Render()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.name+".conf.golden", got)
		})
	}
}

func TestNginxConfigRefusesBadURLs(t *testing.T) {
	tests := []struct {
		name string
		edit func(*NginxConfig)
	}{
		{"no_dir", func(c *NginxConfig) { c.Dir = "" }},
		{"no_listen", func(c *NginxConfig) { c.Listen = "" }},
		{"http_without_path", func(c *NginxConfig) { c.JanusHTTP = "http://127.0.0.1:18088" }},
		{"ws_without_host", func(c *NginxConfig) { c.JanusWS = "ws:///" }},
		{"admin_without_path", func(c *NginxConfig) { c.AdminHTTP = "http://127.0.0.1:17088" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testNginxConfig("/tmp/bench-nginx")
			tt.edit(&c)
			if b, err := c.Render(); err == nil {
				t.Errorf("Render accepted %+v:\n%s", c, b)
			}
		})
	}
}

// TestNginxConfigIsValid has nginx itself check the generated config.
func TestNginxConfigIsValid(t *testing.T) {
	bin := need(t, "nginx")
	dir := t.TempDir()
	c := testNginxConfig(dir)
	c.Root = os.Geteuid() == 0
	b, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "test is successful") {
		t.Errorf("nginx -t did not say the test is successful:\n%s", out)
	}
}
