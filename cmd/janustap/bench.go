package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/bench"
)

// benchDefaults are the settings of a full run and of --quick.
var benchDefaults = map[bool]struct {
	clients, messages, rounds, idle int
	duration, warmup                time.Duration
}{
	false: {clients: 32, messages: 5, rounds: 6, idle: 10000, duration: 60 * time.Second, warmup: 5 * time.Second},
	true:  {clients: 16, messages: 3, rounds: 3, idle: 2000, duration: 6 * time.Second, warmup: 500 * time.Millisecond},
}

func benchCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "quick", Usage: "a short run (under two minutes) of the same comparison", EnvVars: env("bench-quick")},
		&cli.IntFlag{Name: "clients", Usage: "concurrent clients", DefaultText: "32, --quick: 16", EnvVars: env("bench-clients")},
		&cli.IntFlag{Name: "messages", Usage: "echotest messages per session", DefaultText: "5, --quick: 3", EnvVars: env("bench-messages")},
		&cli.DurationFlag{Name: "duration", Usage: "measured load per target and transport", DefaultText: "60s, --quick: 6s", EnvVars: env("bench-duration")},
		&cli.IntFlag{Name: "rounds", Usage: "round-robin rounds the duration is split into", DefaultText: "6, --quick: 3", EnvVars: env("bench-rounds")},
		&cli.DurationFlag{Name: "warmup", Usage: "unmeasured load per target and transport first", DefaultText: "5s, --quick: 500ms", EnvVars: env("bench-warmup")},
		&cli.Float64Flag{Name: "rate", Value: 1000, Usage: "API requests per second, all clients together; 0: closed loop, as fast as each target answers", EnvVars: env("bench-rate")},
		&cli.StringFlag{Name: "transports", Value: strings.Join(bench.Transports, ","), Usage: "comma-separated: http, ws", EnvVars: env("bench-transports")},
		&cli.StringFlag{Name: "targets", Value: strings.Join(bench.Targets, ","), Usage: "comma-separated: " + strings.Join(bench.Targets, ", "), EnvVars: env("bench-targets")},
		&cli.IntFlag{Name: "idle-ws", Usage: "idle WebSocket clients held to measure memory per client; 0 skips it", DefaultText: "10000, --quick: 2000", EnvVars: env("bench-idle-ws")},
		&cli.StringFlag{Name: "janus-http", Usage: "Janus API over HTTP of an existing Janus (empty: start a private one)", EnvVars: env("bench-janus-http")},
		&cli.StringFlag{Name: "janus-ws", Usage: "Janus API over WebSocket of the existing Janus", EnvVars: env("bench-janus-ws")},
		&cli.StringFlag{Name: "janus-admin-http", Usage: "admin API over HTTP of the existing Janus", EnvVars: env("bench-janus-admin-http")},
		&cli.StringFlag{Name: "janus-admin-ws", Usage: "admin API over WebSocket of the existing Janus", EnvVars: env("bench-janus-admin-ws")},
		&cli.StringFlag{Name: "nginx", Usage: "nginx binary (default: from PATH or /usr/sbin)", EnvVars: env("bench-nginx")},
		&cli.StringFlag{Name: "nats-server", Usage: "nats-server binary (default: from PATH or /usr/sbin)", EnvVars: env("bench-nats-server")},
		&cli.StringFlag{Name: "profile", Usage: "take CPU profiles of serve during the measured slices, write them to this directory (<target>-<transport>.pprof) and report serve's CPU by part", EnvVars: env("bench-profile")},
		&cli.StringFlag{Name: "results", Value: "bench/results", Usage: "directory the Markdown report is saved in", EnvVars: env("bench-results")},
		&cli.BoolFlag{Name: "no-save", Usage: "print the report only", EnvVars: env("bench-no-save")},
	}
	return &cli.Command{
		Name:  "bench",
		Usage: "measure the latency, CPU and memory janustap adds, against Janus directly and nginx",
		Description: "Runs the same workload (create, attach echotest, messages, detach, destroy; over REST\n" +
			"and WebSocket) against Janus directly, nginx, janustap with its embedded NATS and janustap\n" +
			"with a nats-server process, prints a table and saves it in --results. The last line is\n" +
			"  ratio-vs-nginx p50=<x> p99=<y> dropped=<n>\n" +
			"where x and y are janustap's added latency divided by nginx's (the worse transport).",
		ArgsUsage: " ",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			def := benchDefaults[c.Bool("quick")]
			intOr := func(name string, d int) int {
				if c.IsSet(name) {
					return c.Int(name)
				}
				return d
			}
			durOr := func(name string, d time.Duration) time.Duration {
				if c.IsSet(name) {
					return c.Duration(name)
				}
				return d
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the janustap binary to run as serve: %w", err)
			}
			cfg := bench.Config{
				Workload: bench.Workload{
					Clients:  intOr("clients", def.clients),
					Messages: intOr("messages", def.messages),
					Rate:     c.Float64("rate"),
				},
				Duration:   durOr("duration", def.duration),
				Warmup:     durOr("warmup", def.warmup),
				Rounds:     intOr("rounds", def.rounds),
				Transports: splitList(c.String("transports")),
				Targets:    splitList(c.String("targets")),
				IdleWS:     def.idle,
				Janus: bench.JanusURLs{
					HTTP: c.String("janus-http"), WS: c.String("janus-ws"),
					AdminHTTP: c.String("janus-admin-http"), AdminWS: c.String("janus-admin-ws"),
				},
				Janustap:   self,
				Nginx:      c.String("nginx"),
				NATSServer: c.String("nats-server"),
				ProfileDir: c.String("profile"),
				Logger:     log,
			}
			if c.IsSet("idle-ws") {
				cfg.IdleWS = c.Int("idle-ws")
			}
			rep, err := bench.Run(c.Context, cfg)
			if err != nil {
				return err
			}
			if !c.Bool("no-save") {
				path, err := bench.SaveMarkdown(rep, c.String("results"), bench.ThisMachine(), bench.Commit("."), commandLine(os.Args))
				if err != nil {
					return err
				}
				log.Info("results saved", "path", path)
			}
			return rep.WriteText(c.App.Writer)
		},
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// commandLine returns args as a shell would need them, with the program
// named janustap whatever its path (go run builds it in a temporary
// directory).
func commandLine(args []string) string {
	out := []string{"janustap"}
	for _, a := range args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\|&;<>()*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}
