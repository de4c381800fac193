package janusrun

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// errPortTaken marks a start that failed because a port was in use.
var errPortTaken = errors.New("port already in use")

// bindFailures are the lines Janus 1.1.2 logs when it cannot listen on a port.
var bindFailures = []string{
	"Couldn't start webserver",               // HTTP
	"Couldn't start admin/monitor webserver", // admin HTTP
	"Error creating vhost",                   // WebSockets and admin WebSockets
}

// defaultPorts are the packaged config's ports; a private Janus never uses
// them, so it cannot collide with a system Janus.
var defaultPorts = []int{8088, 8089, 7088, 7889, 8188, 8989, 7188, 7989}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0 and closes the listener. Someone else may take the port
// before the caller binds it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns four distinct free ports, none of them a Janus default.
// It holds every listener until it has all four, so they differ.
func freePorts() (ports, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var got []int
	for len(got) < 4 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("find free port: %w", err)
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; !slices.Contains(defaultPorts, p) {
			got = append(got, p)
		}
	}
	return ports{http: got[0], adminHTTP: got[1], ws: got[2], adminWS: got[3]}, nil
}

// waitReady polls until Janus answers on all four ports and holds them itself,
// or fails early when the process exits or logs a fatal error. The log is read
// from offset, where this run starts.
func (j *Janus) waitReady(ctx context.Context, p *Child, logPath string, offset int64) error {
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}, // and no proxy from the environment
	}
	defer client.CloseIdleConnections()
	pid := p.Pid()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var notReady error
	for {
		log, _ := readFrom(logPath, offset)
		if failed := fatalLines(log); failed != "" || !p.Running() {
			if !p.Running() {
				<-p.Done()
				// the log of a process that has exited is complete
				log, _ = readFrom(logPath, offset)
				failed = fatalLines(log)
			}
			if out, _ := readFrom(filepath.Join(j.Dir, "janus.out"), 0); !p.Running() && out != "" {
				log += "janus.out:\n" + tail(out, 5)
			}
			err := fmt.Errorf("janus pid %d failed to start (%s):\n%s", pid, p.ExitState(), tail(log, 15))
			for _, s := range bindFailures {
				if strings.Contains(failed, s) {
					return fmt.Errorf("%w: %w", errPortTaken, err)
				}
			}
			return err
		}
		if notReady = j.probe(ctx, client, pid); notReady == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("janus pid %d not ready: %w (last check: %w); log:\n%s", pid, ctx.Err(), notReady, tail(log, 15))
		case <-tick.C:
		}
	}
}

// fatalLines returns the [FATAL] lines of log, joined.
func fatalLines(log string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if strings.Contains(line, "[FATAL]") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// probe checks that every listener answers and belongs to process pid (so a
// port taken by someone else cannot pass for ours).
func (j *Janus) probe(ctx context.Context, client *http.Client, pid int) error {
	if err := getInfo(ctx, client, j.HTTP+"/info"); err != nil {
		return err
	}
	if err := getInfo(ctx, client, j.AdminHTTP+"/info"); err != nil {
		return err
	}
	if err := wsHandshake(ctx, client, j.ports.ws, "janus-protocol"); err != nil {
		return err
	}
	if err := wsHandshake(ctx, client, j.ports.adminWS, "janus-admin-protocol"); err != nil {
		return err
	}
	return listenersOwnedBy(pid, j.ports.list())
}

// getInfo expects a server_info reply from GET url.
func getInfo(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	var msg struct {
		Janus string `json:"janus"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &msg) != nil || msg.Janus != "server_info" {
		return fmt.Errorf("GET %s: %s %.100q, want 200 server_info", url, resp.Status, body)
	}
	return nil
}

// wsHandshake opens a WebSocket with subprotocol proto on port and closes it
// again: enough to know the server is there without a WebSocket library.
func wsHandshake(ctx context.Context, client *http.Client, port int, proto string) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	key := make([]byte, 16)
	rand.Read(key)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	req.Header.Set("Sec-WebSocket-Protocol", proto)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("websocket handshake on port %d: %w", port, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != proto {
		return fmt.Errorf("websocket handshake on port %d: %s with subprotocol %q, want 101 with %q",
			port, resp.Status, resp.Header.Get("Sec-WebSocket-Protocol"), proto)
	}
	return nil
}
