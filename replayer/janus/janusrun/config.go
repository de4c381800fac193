package janusrun

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// packagedConfig is where the Debian package keeps its configuration.
const packagedConfig = "/etc/janus"

// ports are the four TCP ports of one instance, all on 127.0.0.1.
type ports struct {
	http, adminHTTP, ws, adminWS int
}

func (p ports) list() []int { return []int{p.http, p.adminHTTP, p.ws, p.adminWS} }

// edit replaces the single match of re in a config file. A count other than one
// means the packaged config no longer has the shape we expect.
type edit struct {
	re   *regexp.Regexp
	repl string
}

func (e edit) apply(name, text string) (string, error) {
	if n := len(e.re.FindAllStringIndex(text, -1)); n != 1 {
		return "", fmt.Errorf("edit %s: pattern %q matches %d lines, want 1 (has the packaged config changed?)", name, e.re, n)
	}
	return e.re.ReplaceAllString(text, e.repl), nil
}

// setting matches one "key = value" line, commented out or not, keeping its
// indentation in ${1}. value is a regexp.
func setting(key, value, repl string) edit {
	return edit{
		re:   regexp.MustCompile(`(?m)^([ \t]*)#?` + regexp.QuoteMeta(key) + ` = ` + value + `([ \t]|$)`),
		repl: "${1}" + key + " = " + repl + "${2}",
	}
}

var adminSecretRE = regexp.MustCompile(`(?m)^[ \t]*admin_secret = "([^"]*)"`)

// writeConfig copies the packaged config from src into dst (which must not
// exist), binds every listener to 127.0.0.1 on p, enables the admin API on
// HTTP and WebSockets, disables unused plugins and transports (plus
// disablePlugins) and drops the streaming sample mountpoints. It returns
// the admin secret from janus.jcfg.
func writeConfig(src, dst string, p ports, disablePlugins []string) (adminSecret string, err error) {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return "", fmt.Errorf("copy janus config %s to %s: %w", src, dst, err)
	}
	plugins := append([]string{"libjanus_voicemail.so", "libjanus_duktape.so", "libjanus_lua.so", "libjanus_sip.so", "libjanus_nosip.so"}, disablePlugins...)
	for _, name := range plugins {
		if strings.ContainsAny(name, `",`) {
			return "", fmt.Errorf("disable plugin %q: name must not contain a quote or comma", name)
		}
	}
	const loopback = `"127.0.0.1"`
	port := strconv.Itoa
	edits := map[string][]edit{
		"janus.transport.http.jcfg": {
			setting("port", "8088", port(p.http)),
			setting("admin_http", "false", "true"),
			setting("admin_port", "7088", port(p.adminHTTP)),
			setting("ip", `"[^"]*"`, loopback),
			setting("admin_ip", `"[^"]*"`, loopback),
		},
		"janus.transport.websockets.jcfg": {
			setting("ws_port", "8188", port(p.ws)),
			setting("ws_ip", `"[^"]*"`, loopback),
			setting("admin_ws", "false", "true"),
			setting("admin_ws_port", "7188", port(p.adminWS)),
			setting("admin_ws_ip", `"[^"]*"`, loopback),
		},
		"janus.jcfg": {
			// the only "disable" lines with these defaults are in plugins: and transports:
			setting("disable", `"libjanus_voicemail\.so,libjanus_recordplay\.so"`, `"`+strings.Join(plugins, ",")+`"`),
			setting("disable", `"libjanus_rabbitmq\.so"`, `"libjanus_rabbitmq.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so"`),
		},
	}
	for name, es := range edits {
		path := filepath.Join(dst, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read janus config: %w", err)
		}
		text := string(b)
		for _, e := range es {
			if text, err = e.apply(name, text); err != nil {
				return "", err
			}
		}
		if name == "janus.jcfg" {
			m := adminSecretRE.FindAllStringSubmatch(text, -1)
			if len(m) != 1 {
				return "", fmt.Errorf("read admin_secret from %s: found %d uncommented lines, want 1", path, len(m))
			}
			adminSecret = m[0][1]
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return "", fmt.Errorf("write janus config: %w", err)
		}
	}
	// The packaged sample mountpoints bind fixed UDP ports on all interfaces.
	if err := os.WriteFile(filepath.Join(dst, "janus.plugin.streaming.jcfg"), []byte("general: {\n}\n"), 0o644); err != nil {
		return "", fmt.Errorf("write janus config: %w", err)
	}
	return adminSecret, nil
}

// EventHandler turns on Janus's event handlers and has the HTTP one
// (sampleevh) post every event to URL.
type EventHandler struct {
	// URL is sampleevh's backend, such as http://127.0.0.1:8090/.
	URL string
	// StatsPeriod is janus.jcfg's stats_period, the seconds between two
	// media statistics events of a PeerConnection; 0 keeps the packaged 5.
	StatsPeriod int
	// Ungrouped posts each event alone instead of in JSON arrays.
	Ungrouped bool
	// Compress gzips each POST (sampleevh's compress).
	Compress bool
	// User and Password, when User is set, are sent as basic authentication
	// (backend_user, backend_pwd).
	User, Password string
}

// writeEventHandler edits the config in dst for eh: janus.jcfg's events
// broadcast (and stats_period), and janus.eventhandler.sampleevh.jcfg.
func writeEventHandler(dst string, eh *EventHandler) error {
	if strings.ContainsAny(eh.URL+eh.User+eh.Password, "\"\n\\") {
		return fmt.Errorf("event handler settings must not contain quotes, backslashes or line breaks")
	}
	quote := func(s string) string { return `"` + s + `"` }
	core := []edit{
		setting("broadcast", "true", "true"),
		// The other handlers would load only to say they are off (GELF's
		// says so as FATAL).
		setting("disable", `"libjanus_sampleevh\.so"`, `"libjanus_wsevh.so,libjanus_rabbitmqevh.so,libjanus_mqttevh.so,libjanus_nanomsgevh.so,libjanus_gelfevh.so"`),
	}
	if eh.StatsPeriod != 0 {
		core = append(core, setting("stats_period", "5", strconv.Itoa(eh.StatsPeriod)))
	}
	evh := []edit{
		setting("enabled", "false", "true"),
		setting("backend", `"[^"]*"`, quote(eh.URL)),
	}
	if eh.Ungrouped {
		evh = append(evh, setting("grouping", "true", "false"))
	}
	if eh.Compress {
		evh = append(evh, setting("compress", "true", "true"))
	}
	if eh.User != "" {
		evh = append(evh, setting("backend_user", `"[^"]*"`, quote(eh.User)), setting("backend_pwd", `"[^"]*"`, quote(eh.Password)))
	}
	for name, es := range map[string][]edit{"janus.jcfg": core, "janus.eventhandler.sampleevh.jcfg": evh} {
		path := filepath.Join(dst, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read janus config: %w", err)
		}
		text := string(b)
		for _, e := range es {
			if text, err = e.apply(name, text); err != nil {
				return err
			}
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("write janus config: %w", err)
		}
	}
	return nil
}
