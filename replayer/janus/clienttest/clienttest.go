// Package clienttest runs real Janus clients — janus.js in headless Chromium and janode — from testdata/clients, for end-to-end tests.
//
// The clients are Node.js scripts in the module's testdata/clients:
// run-browser.mjs opens page/echotest.html in Debian's Chromium through
// playwright-core, and run-janode.mjs drives the echotest, videoroom,
// textroom and admin APIs with Meetecho's janode. Each prints one JSON line,
// which RunBrowser and RunJanode parse.
//
//	clienttest.Require(t)
//	base := clienttest.ServePage(t)
//	res, err := clienttest.RunBrowser(ctx, clienttest.EchoTestURL(base, tapURL+"/janus"))
//
// Nothing is downloaded but the npm packages pinned in
// testdata/clients/package-lock.json: the browser is /usr/bin/chromium and
// janus.js and adapter.js come from the Debian packages libjs-janus-gateway
// and libjs-webrtc-adapter.
//
// It sits beside package janus as the clients of record: the Janus clients
// people use, run for tests (RunSteps also drives the web view's pages in
// the same browser). It may import testing and the rest of the standard
// library only; the end-to-end tests that run it through serve are in
// cmd/janustap/clients.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Chromium is the browser RunBrowser starts: Debian's package chromium.
const Chromium = "/usr/bin/chromium"

// JSDirs maps the paths under /js/ that ServePage serves to the Debian
// directories holding janus.js (libjs-janus-gateway 1.1.2) and adapter.js
// (libjs-webrtc-adapter).
var JSDirs = map[string]string{
	"janus-gateway":  "/usr/share/javascript/janus-gateway",
	"webrtc-adapter": "/usr/share/javascript/webrtc-adapter",
}

// minNode is the oldest Node.js major version the pinned packages support
// (playwright-core needs 20).
const minNode = 20

// Dir returns the module's testdata/clients directory, found by walking up
// from the working directory (a test's package directory) to go.mod, or from
// this source file when the working directory is outside the module.
func Dir() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/janustap/janustap\n")) {
				return filepath.Join(dir, "testdata", "clients"), nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("find testdata/clients: no go.mod of github.com/janustap/janustap above %v", starts)
}

// npmMu serialises npm ci within this process; lockFile does it across test
// binaries that run at the same time.
var npmMu sync.Mutex

// Require checks that the real clients can run: node (20 or later), npm,
// Debian's Chromium, janus.js and adapter.js, and testdata/clients/node_modules,
// which it installs with npm ci when missing. When something is missing it
// calls t.Fatal if the environment variable CI is "true" and t.Skip
// otherwise, naming what is missing and how to install it.
func Require(t testing.TB) {
	t.Helper()
	miss := lacking(t)
	if len(miss) == 0 {
		return
	}
	msg := "real Janus clients cannot run: " + strings.Join(miss, "; ")
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI must provide them)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// lacking returns what Require misses, installing node_modules if it can.
func lacking(t testing.TB) []string {
	t.Helper()
	var miss []string
	if _, err := exec.LookPath("node"); err != nil {
		miss = append(miss, "node (apt-get install -y nodejs)")
	} else if v, err := nodeMajor(); err != nil {
		miss = append(miss, err.Error())
	} else if v < minNode {
		miss = append(miss, fmt.Sprintf("node %d or later (found %d)", minNode, v))
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		miss = append(miss, "npm (apt-get install -y npm)")
	}
	if _, err := os.Stat(Chromium); err != nil {
		miss = append(miss, Chromium+" (apt-get install -y chromium)")
	}
	for _, f := range []string{"janus-gateway/janus.js", "webrtc-adapter/adapter.js"} {
		dir, name, _ := strings.Cut(f, "/")
		if _, err := os.Stat(filepath.Join(JSDirs[dir], name)); err != nil {
			miss = append(miss, filepath.Join(JSDirs[dir], name)+" (apt-get install -y libjs-janus-gateway libjs-webrtc-adapter)")
		}
	}
	dir, err := Dir()
	if err != nil {
		return append(miss, err.Error())
	}
	if installed(dir) {
		return miss
	}
	if npm == "" {
		return append(miss, filepath.Join(dir, "node_modules")+" (npm ci)")
	}
	if err := npmCI(t, npm, dir); err != nil {
		miss = append(miss, err.Error())
	}
	return miss
}

func nodeMajor() (int, error) {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("run node --version: %w", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("parse node version %q: %w", out, err)
	}
	return n, nil
}

// installed says whether node_modules holds every package at the version
// package-lock.json pins, and unix-dgram's native module (which janode loads
// on import) is built.
func installed(dir string) bool {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || json.Unmarshal(b, &lock) != nil {
		return false
	}
	for path, p := range lock.Packages {
		if path == "" {
			continue
		}
		var pkg struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path), "package.json"))
		if err != nil || json.Unmarshal(b, &pkg) != nil || pkg.Version != p.Version {
			return false
		}
	}
	_, err = os.Stat(filepath.Join(dir, "node_modules", "unix-dgram", "build", "Release", "unix_dgram.node"))
	return err == nil
}

// npmCI installs node_modules from package-lock.json, once at a time.
func npmCI(t testing.TB, npm, dir string) error {
	t.Helper()
	npmMu.Lock()
	defer npmMu.Unlock()
	unlock, err := lockFile(filepath.Join(os.TempDir(), "janustap-clients-npm-ci.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(dir) { // another test binary did it while we waited
		return nil
	}
	t.Logf("installing %s/node_modules with npm ci", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if !installed(dir) {
		return fmt.Errorf("npm ci in %s left node_modules incomplete:\n%s", dir, out)
	}
	return nil
}

// ServePage serves testdata/clients/page at the root and janus.js and
// adapter.js from the Debian packages under /js/ (see JSDirs) on a loopback
// server that stops when the test ends. It returns the server's base URL,
// such as http://127.0.0.1:PORT.
func ServePage(t testing.TB) (baseURL string) {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(dir, "page"))))
	for name, d := range JSDirs {
		prefix := "/js/" + name + "/"
		mux.Handle(prefix, http.StripPrefix(prefix, http.FileServer(http.Dir(d))))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// EchoTestURL returns the URL of the echotest page served at baseURL (by
// ServePage) that talks to the Janus API at server: http://HOST:PORT/janus
// for REST with long polls, ws://HOST:PORT/ for WebSockets. The page gives
// up after 30 seconds and reports the step it was waiting for.
func EchoTestURL(baseURL, server string) string {
	return baseURL + "/echotest.html?" + url.Values{"server": {server}}.Encode()
}

// Step is one step of a client scenario.
type Step struct {
	Name string
	// OK is false for the step a janode scenario failed in; browser steps
	// are recorded only once done, so they are always OK.
	OK bool `json:"ok"`
	// At is when a browser step happened, from the page's start
	// (performance.now()); zero for janode steps.
	At time.Duration
	// Took is how long a janode step took; zero for browser steps.
	Took time.Duration
	// Detail is what the step saw, as the script wrote it; may be empty.
	Detail json.RawMessage
	// Error says why a janode step failed.
	Error string
}

// BrowserResult is what run-browser.mjs reports.
type BrowserResult struct {
	OK    bool
	Steps []Step
	// BrowserStart is the time from launching Chromium to its being ready.
	BrowserStart time.Duration
	// WebRTCUp is when janus.js reported webrtcup, from the page's start;
	// zero if it did not.
	WebRTCUp time.Duration
	// Scenario is the time from opening the page to its result.
	Scenario time.Duration
	// Total is the time from launching Chromium to the result.
	Total time.Duration
	// Error says why the scenario failed; empty when OK.
	Error string
	// Transport is "http" or "ws", as the page saw its server URL.
	Transport string
	// BrowserVersion is Chromium's version.
	BrowserVersion string
	// Stderr holds the page's console and the script's own messages.
	Stderr string
}

// Step returns the step called name, if there is one.
func (r BrowserResult) Step(name string) (Step, bool) { return findStep(r.Steps, name) }

// JanodeResult is what run-janode.mjs reports.
type JanodeResult struct {
	OK    bool
	Steps []Step
	// Total is the time the whole scenario took, connections included.
	Total time.Duration
	// Error says which step failed and why; empty when OK.
	Error string
	// Stderr holds janode's log and the script's own messages.
	Stderr string
}

// Step returns the step called name, if there is one.
func (r JanodeResult) Step(name string) (Step, bool) { return findStep(r.Steps, name) }

func findStep(steps []Step, name string) (Step, bool) {
	for _, s := range steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// JanodeArgs say where run-janode.mjs connects.
type JanodeArgs struct {
	WS          string // Janus API over WebSockets, such as ws://127.0.0.1:8188/ or a tap's URL
	AdminWS     string // admin API over WebSockets
	AdminSecret string // admin_secret of the gateway
	// Timeout bounds the scenario inside the script; zero means 30 seconds.
	Timeout time.Duration
}

// ms is a duration in milliseconds as the scripts write it.
type ms float64

func (m ms) d() time.Duration { return time.Duration(math.Round(float64(m)*1000)) * time.Microsecond }

type rawStep struct {
	Name   string          `json:"name"`
	OK     *bool           `json:"ok"`
	Ms     ms              `json:"ms"`
	Detail json.RawMessage `json:"detail"`
	Error  string          `json:"error"`
}

// RunBrowser runs run-browser.mjs on pageURL (see EchoTestURL) and returns
// its result. The error is non-nil when the script could not run or the
// scenario failed; the result is filled in as far as the script got.
// Cancelling ctx interrupts the script, which closes Chromium.
func RunBrowser(ctx context.Context, pageURL string) (BrowserResult, error) {
	var raw struct {
		OK             bool      `json:"ok"`
		Steps          []rawStep `json:"steps"`
		BrowserStartMs ms        `json:"browserStartMs"`
		WebRTCUpMs     ms        `json:"webrtcupMs"`
		ScenarioMs     ms        `json:"scenarioMs"`
		TotalMs        ms        `json:"totalMs"`
		Error          string    `json:"error"`
		Transport      string    `json:"transport"`
		BrowserVersion string    `json:"browserVersion"`
	}
	timeout := 60 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d) - 2*time.Second // the script reports before ctx ends
	}
	stderr, err := runScript(ctx, &raw, "run-browser.mjs", "--timeout", strconv.FormatInt(max(timeout.Milliseconds(), 1000), 10), pageURL)
	res := BrowserResult{
		OK:             raw.OK,
		BrowserStart:   raw.BrowserStartMs.d(),
		WebRTCUp:       raw.WebRTCUpMs.d(),
		Scenario:       raw.ScenarioMs.d(),
		Total:          raw.TotalMs.d(),
		Error:          raw.Error,
		Transport:      raw.Transport,
		BrowserVersion: raw.BrowserVersion,
		Stderr:         stderr,
	}
	for _, s := range raw.Steps {
		res.Steps = append(res.Steps, Step{Name: s.Name, OK: true, At: s.Ms.d(), Detail: s.Detail})
	}
	if err != nil {
		return res, fmt.Errorf("browser echotest at %s: %w", pageURL, err)
	}
	return res, nil
}

// RunJanode runs run-janode.mjs with args and returns its result. The error
// is non-nil when the script could not run or a step failed; the result is
// filled in as far as the script got.
func RunJanode(ctx context.Context, args JanodeArgs) (JanodeResult, error) {
	if args.WS == "" || args.AdminWS == "" {
		return JanodeResult{}, errors.New("run janode: WS and AdminWS are required")
	}
	timeout := args.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	var raw struct {
		OK      bool      `json:"ok"`
		Steps   []rawStep `json:"steps"`
		TotalMs ms        `json:"totalMs"`
		Error   string    `json:"error"`
	}
	stderr, err := runScript(ctx, &raw, "run-janode.mjs",
		"--ws", args.WS, "--admin-ws", args.AdminWS, "--admin-secret", args.AdminSecret,
		"--timeout", strconv.FormatInt(timeout.Milliseconds(), 10))
	res := JanodeResult{OK: raw.OK, Total: raw.TotalMs.d(), Error: raw.Error, Stderr: stderr}
	for _, s := range raw.Steps {
		res.Steps = append(res.Steps, Step{Name: s.Name, OK: s.OK != nil && *s.OK, Took: s.Ms.d(), Detail: s.Detail, Error: s.Error})
	}
	if err != nil {
		return res, fmt.Errorf("janode scenario on %s: %w", args.WS, err)
	}
	return res, nil
}

// runScript runs node script args in testdata/clients and decodes the last
// line of its stdout into v. The script's verdict is in its exit status and in
// v's error field; runScript returns an error for either.
func runScript(ctx context.Context, v any, script string, args ...string) (stderr string, err error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Stdout = &out
	cmd.Stderr = &errb
	// An interrupt lets playwright close Chromium; after WaitDelay, SIGKILL.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	stderr = errb.String()
	if ctx.Err() != nil {
		runErr = fmt.Errorf("%w (%w)", context.Cause(ctx), runErr)
	}

	line := lastLine(out.Bytes())
	if len(line) == 0 {
		if runErr == nil {
			runErr = errors.New("no output")
		}
		return stderr, fmt.Errorf("run node %s: %w; stderr:\n%s", script, runErr, tail(stderr, 30))
	}
	if err := json.Unmarshal(line, v); err != nil {
		return stderr, fmt.Errorf("decode result of %s %q: %w", script, line, err)
	}
	if runErr != nil {
		var msg struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(line, &msg)
		return stderr, fmt.Errorf("%s: %s (%w)", script, msg.Error, runErr)
	}
	return stderr, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

func tail(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// DemosDir holds Meetecho's demo pages: Debian's package janus-demos
// (1.1.2), whose javascript/ links to /usr/share/javascript.
const DemosDir = "/usr/share/janus/demos"

// RequireDemos is Require and Meetecho's demo pages (DemosDir).
func RequireDemos(t testing.TB) {
	t.Helper()
	Require(t)
	if _, err := os.Stat(filepath.Join(DemosDir, "settings.js")); err != nil {
		msg := "Meetecho's demo pages cannot be served: " + DemosDir + " (apt-get install -y janus-demos)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI must provide them)", msg)
		}
		t.Skipf("skipping: %s", msg)
	}
}

// ServeDemos serves Meetecho's demo pages (DemosDir) on a loopback server
// that stops when the test ends, once per entry of servers: under
// /NAME/, with a settings.js whose server is servers[NAME] (a Janus API
// URL, http://HOST:PORT/janus or ws://HOST:PORT/). It returns the server's
// base URL: the echotest talking to servers["ws"] is at
// BASE/ws/echotest.html.
func ServeDemos(t testing.TB, servers map[string]string) (baseURL string) {
	t.Helper()
	settings, err := os.ReadFile(filepath.Join(DemosDir, "settings.js"))
	if err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(DemosDir))
	mux := http.NewServeMux()
	for name, server := range servers {
		q, err := json.Marshal(server)
		if err != nil {
			t.Fatal(err)
		}
		// The packaged settings.js picks a server from the page's own
		// host; the line added at its end points it at the tap instead.
		// It also declares token and apisecret, which the pages read and
		// Debian's settings.js only mentions in a comment ("token is not
		// defined" otherwise).
		js := append(bytes.Clone(settings), "\n// janustap: the Janus API under test\nserver = "+string(q)+";\nvar token, apisecret;\n"...)
		prefix := "/" + name + "/"
		mux.HandleFunc(prefix+"settings.js", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(js)
		})
		mux.Handle(prefix, http.StripPrefix(prefix[:len(prefix)-1], files))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
