package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/webui"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/schema"
)

// defaultUIListen is where `janustap ui` serves the web view: loopback,
// next to serve's 8089-8091.
const defaultUIListen = "127.0.0.1:8092"

func uiCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: defaultUIListen, Usage: "address of the web view (it has no authentication: keep it on loopback or behind a proxy that has)", EnvVars: env("ui-listen")},
		&cli.StringFlag{Name: "db", Usage: "SQLite projection to read (default: <data>/janustap.db)", EnvVars: env("db")},
		&cli.BoolFlag{Name: "no-live", Usage: "do not follow the event log for live updates", EnvVars: env("no-live")},
	}
	return &cli.Command{
		Name:  "ui",
		Usage: "serve the web view: sessions, each call's ladder of messages, and why it failed",
		Description: "Serves the sessions page (the filters of `janustap sessions`, a search box) and per session a\n" +
			"ladder of every message with the verdict of `janustap why`. New events appear live, from the\n" +
			"event log of --data (or --nats); without it the pages still work, without live updates.",
		ArgsUsage: " ",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", c.String("listen"))
			if err != nil {
				return fmt.Errorf("web view: %w", err)
			}
			db, err := openStore(c)
			if err != nil {
				ln.Close()
				return err
			}
			defer db.Close()
			s := &webui.Server{DB: db, Compare: compareRuns, Logger: log.With("part", "ui")}
			if !c.Bool("no-live") {
				s.Follow = followLog(c)
			}
			log.Info("web view", "url", "http://"+ln.Addr().String())
			fmt.Fprintf(c.App.Writer, "web view on http://%s\n", ln.Addr())
			return s.Serve(c.Context, ln)
		},
	}
}

// followLog returns a webui.Server.Follow that reads new events from the
// log of the command's --data or --nats.
func followLog(c *cli.Context) func(context.Context, func(*schema.Event)) error {
	return func(ctx context.Context, yield func(*schema.Event)) error {
		l, err := openLog(ctx, c)
		if err != nil {
			return err
		}
		defer l.Close()
		r := &bus.Reader{JS: l.js, Stream: l.stream.Name, Prefix: l.stream.Prefix, Start: bus.StartNew}
		for d, err := range r.Events(ctx) {
			if err != nil {
				return err
			}
			if d.Err == nil && d.Event != nil {
				yield(d.Event)
			}
		}
		return ctx.Err()
	}
}

// serveUI serves the web view beside serve until ctx is done: the store at
// the path serve records to, opened once it exists, and the same log.
func serveUI(ctx context.Context, c *cli.Context, addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ui-listen: %w", err)
	}
	s := &webui.Server{DBPath: dbPath(c), Follow: followLog(c), Compare: compareRuns, Logger: log.With("part", "ui")}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(ctx, ln); err != nil {
			log.Error("web view", "err", err)
		}
	}()
	log.Info("web view", "url", "http://"+ln.Addr().String())
	return func() { cancel(); <-done }, nil
}

// compareRuns compares a capture with a replay of it as `janustap diff`
// does (the default rules), for the web view's compare page.
func compareRuns(capture, replay []*schema.Event) *webui.Comparison {
	rep := diff.Compare(capture, replay, diff.DefaultRules(), diff.Options{})
	var text strings.Builder
	diff.WriteText(&text, rep)
	summary, _, _ := strings.Cut(text.String(), "\n")
	c := &webui.Comparison{Same: rep.Same, Summary: summary, Text: text.String()}
	for _, d := range rep.Differences {
		wd := webui.Difference{A: d.Index, B: d.IndexB, Kind: string(d.Kind), Path: d.Path, ValueA: d.A, ValueB: d.B, Janus: d.Janus}
		if d.Kind == diff.Extra {
			wd.A = 0
			wd.B = d.Index
			if d.IndexB != 0 {
				wd.B = d.IndexB
			}
		}
		c.Differences = append(c.Differences, wd)
	}
	return c
}
