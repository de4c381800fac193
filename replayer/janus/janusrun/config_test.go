package janusrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// needPackagedConfig skips (or, on CI, fails) a test when /etc/janus is missing.
func needPackagedConfig(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(packagedConfig, "janus.jcfg")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must install the janus package", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

func TestWriteConfig(t *testing.T) {
	t.Parallel()
	needPackagedConfig(t)
	dst := filepath.Join(t.TempDir(), "conf")
	secret, err := writeConfig(packagedConfig, dst, ports{http: 41001, adminHTTP: 41002, ws: 41003, adminWS: 41004}, []string{"libjanus_videoroom.so"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := secret, "janusoverlord"; got != want {
		t.Errorf("admin secret = %q, want %q", got, want)
	}
	tests := []struct {
		file  string
		lines []string // each must appear, uncommented, as a line (before any comment)
	}{
		{"janus.transport.http.jcfg", []string{
			`port = 41001`, `admin_http = true`, `admin_port = 41002`, `ip = "127.0.0.1"`, `admin_ip = "127.0.0.1"`,
		}},
		{"janus.transport.websockets.jcfg", []string{
			`ws_port = 41003`, `ws_ip = "127.0.0.1"`, `admin_ws = true`, `admin_ws_port = 41004`, `admin_ws_ip = "127.0.0.1"`,
		}},
		{"janus.jcfg", []string{
			`disable = "libjanus_voicemail.so,libjanus_duktape.so,libjanus_lua.so,libjanus_sip.so,libjanus_nosip.so,libjanus_videoroom.so"`,
			`disable = "libjanus_rabbitmq.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so"`,
		}},
		{"janus.plugin.streaming.jcfg", []string{`general: {`, `}`}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".jcfg"), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dst, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			have := make(map[string]bool)
			for line := range strings.Lines(string(b)) {
				line, _, _ = strings.Cut(line, "#")
				have[strings.TrimSpace(line)] = true
			}
			for _, want := range tt.lines {
				if !have[want] {
					t.Errorf("%s has no line %q", tt.file, want)
				}
			}
		})
	}
}

// TestWriteConfigNoticesChangedShape changes one line of a copy of the packaged
// config and expects writeConfig to refuse it rather than start a Janus on the
// default ports or all interfaces.
func TestWriteConfigNoticesChangedShape(t *testing.T) {
	t.Parallel()
	needPackagedConfig(t)
	tests := []struct {
		name, file, old, new string
	}{
		{"http_port_changed", "janus.transport.http.jcfg", "port = 8088", "port = 8080"},
		{"admin_http_gone", "janus.transport.http.jcfg", "admin_http = false", ""},
		{"ip_twice", "janus.transport.http.jcfg", `#ip = "192.168.0.1"`, "#ip = \"192.168.0.1\"\n\t#ip = \"10.0.0.1\""},
		{"ws_port_changed", "janus.transport.websockets.jcfg", "ws_port = 8188", "ws_port = 8180"},
		{"admin_ws_ip_gone", "janus.transport.websockets.jcfg", `#admin_ws_ip = "192.168.0.1"`, ""},
		{"plugins_disable_changed", "janus.jcfg", `#disable = "libjanus_voicemail.so,libjanus_recordplay.so"`, `#disable = "libjanus_voicemail.so"`},
		{"transports_disable_changed", "janus.jcfg", `#disable = "libjanus_rabbitmq.so"`, `#disable = "libjanus_mqtt.so"`},
		{"admin_secret_commented", "janus.jcfg", `admin_secret = "janusoverlord"`, `#admin_secret = "janusoverlord"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "etc")
			if err := os.CopyFS(src, os.DirFS(packagedConfig)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(src, tt.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.old) {
				t.Fatalf("packaged %s has no %q to change", tt.file, tt.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = writeConfig(src, filepath.Join(t.TempDir(), "conf"), ports{http: 1, adminHTTP: 2, ws: 3, adminWS: 4}, nil)
			if err == nil {
				t.Fatal("writeConfig accepted the changed config")
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name %s", err, tt.file)
			}
		})
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"empty", "", 3, ""},
		{"fewer_lines", "a\nb\n", 3, "a\nb"},
		{"last_two", "a\nb\nc\n", 2, "b\nc"},
		{"no_final_newline", "a\nb\nc", 1, "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tail(tt.in, tt.n); got != tt.want {
				t.Errorf("tail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestWriteEventHandler(t *testing.T) {
	t.Parallel()
	needPackagedConfig(t)
	dst := filepath.Join(t.TempDir(), "conf")
	if _, err := writeConfig(packagedConfig, dst, ports{http: 41001, adminHTTP: 41002, ws: 41003, adminWS: 41004}, nil); err != nil {
		t.Fatal(err)
	}
	eh := &EventHandler{URL: "http://127.0.0.1:41005/evh", StatsPeriod: 1, Ungrouped: true, Compress: true, User: "u", Password: "p"}
	if err := writeEventHandler(dst, eh); err != nil {
		t.Fatal(err)
	}
	for file, lines := range map[string][]string{
		"janus.jcfg": {`broadcast = true`, `stats_period = 1`},
		"janus.eventhandler.sampleevh.jcfg": {`enabled = true`, `backend = "http://127.0.0.1:41005/evh"`, `grouping = false`,
			`compress = true`, `backend_user = "u"`, `backend_pwd = "p"`},
	} {
		b, err := os.ReadFile(filepath.Join(dst, file))
		if err != nil {
			t.Fatal(err)
		}
		have := make(map[string]bool)
		for line := range strings.Lines(string(b)) {
			line, _, _ = strings.Cut(line, "#")
			have[strings.TrimSpace(line)] = true
		}
		for _, want := range lines {
			if !have[want] {
				t.Errorf("%s has no line %q", file, want)
			}
		}
	}
	if err := writeEventHandler(dst, &EventHandler{URL: `http://x/"`}); err == nil {
		t.Error("writeEventHandler accepted a URL with a quote")
	}
}
