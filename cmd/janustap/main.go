// Command janustap records, shows and replays Janus signaling. See the
// README for the commands; each lives in its own file here, and this
// package only reads flags and calls the recorder and replayer packages.
//
// It may import any package of the module but test support, and urfave/cli;
// the binary links no testing (TestBinaryDoesNotLinkTesting).
// cmd/janustap/deps_test.go holds every package to the imports its doc
// comment names.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// errDiffers is returned by commands whose run worked and found
// differences: the process exits 1 rather than 2.
var errDiffers = errors.New("runs differ")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	switch {
	case err == nil:
	case errors.Is(err, errDiffers):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "janustap:", err)
		os.Exit(2)
	}
}

// newApp builds the command line; tests run it with their own writers.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "janustap",
		Usage: "record, inspect and replay Janus WebRTC signaling",
		Description: "janustap sits between clients and a Janus WebRTC server, forwards its HTTP, WebSocket\n" +
			"and admin APIs unchanged, and keeps every message as an event in NATS JetStream.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {}, // main decides the exit status, never cli
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"JANUSTAP_LOG_LEVEL"}},
			&cli.BoolFlag{Name: "log-json", Usage: "log JSON lines to stderr", EnvVars: []string{"JANUSTAP_LOG_JSON"}},
		},
		Commands: []*cli.Command{
			serveCommand(),
			tailCommand(),
			janusCommand(),
			replayCommand(),
			diffCommand(),
			recordCommand(),
			rebuildCommand(),
			sessionsCommand(),
			showCommand(),
			txCommand(),
			whyCommand(),
			uiCommand(),
			exportCommand(),
			importCommand(),
			benchCommand(),
		},
	}
}

// logger builds the logger of a command from the global flags; logs go to
// stderr so that stdout stays for output.
func logger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	w := c.App.ErrWriter
	if c.Bool("log-json") {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// env names the environment variable of a flag.
func env(flag string) []string {
	b := []byte("JANUSTAP_" + flag)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return []string{string(b)}
}
