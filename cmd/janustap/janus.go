package main

import (
	"fmt"

	"github.com/janustap/janustap/replayer/janus/janusrun"
	"github.com/urfave/cli/v2"
)

// janusCommand starts a private Janus for trying janustap out: the packaged
// config, every listener on loopback, the admin API on.
func janusCommand() *cli.Command {
	return &cli.Command{
		Name:  "janus",
		Usage: "run a private Janus (Debian package) on loopback, for trying janustap",
		Description: "Ports: HTTP on --base-port, admin HTTP on base-1000, WebSocket on base+100,\n" +
			"admin WebSocket on base-900. Its event handler posts every event to --evh-url, where janustap serve\n" +
			"listens by default (a serve that found 127.0.0.1:8090 taken says where it listens in <data>/evh-url).\n" +
			"Runs until interrupted.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "base-port", Value: 8088, Usage: "HTTP port; the others follow from it", EnvVars: env("janus-base-port")},
			&cli.StringFlag{Name: "dir", Value: "janustap-data/janus", Usage: "state directory (config copy, log)", EnvVars: env("janus-dir")},
			&cli.StringSliceFlag{Name: "arg", Usage: "extra janus command-line argument (repeat)"},
			&cli.StringSliceFlag{Name: "disable-plugin", Usage: "plugin library to disable, e.g. libjanus_videoroom.so (repeat)"},
			&cli.StringFlag{Name: "evh-url", Value: "http://127.0.0.1:8090/", Usage: "post Janus's events (sampleevh, grouped) to this URL, janustap serve's --evh-listen; off: no event handler", EnvVars: env("janus-evh-url")},
			&cli.IntFlag{Name: "evh-stats-period", Value: 5, Usage: "seconds between two media statistics events of a PeerConnection (janus.jcfg stats_period)", EnvVars: env("janus-evh-stats-period")},
			&cli.BoolFlag{Name: "evh-compress", Usage: "gzip each POST of events", EnvVars: env("janus-evh-compress")},
			&cli.StringFlag{Name: "evh-user", Usage: "basic authentication user of the POSTs (serve's --evh-user)", EnvVars: env("janus-evh-user")},
			&cli.StringFlag{Name: "evh-password", Usage: "basic authentication password of the POSTs", EnvVars: env("janus-evh-password")},
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			opts := janusrun.Options{
				BasePort:       c.Int("base-port"),
				Args:           c.StringSlice("arg"),
				DisablePlugins: c.StringSlice("disable-plugin"),
				Logger:         log,
			}
			if u := c.String("evh-url"); u != "" && u != "off" {
				opts.Events = &janusrun.EventHandler{URL: u, StatsPeriod: c.Int("evh-stats-period"),
					Compress: c.Bool("evh-compress"), User: c.String("evh-user"), Password: c.String("evh-password")}
			}
			j, err := janusrun.Run(c.Context, c.String("dir"), opts)
			if err != nil {
				return fmt.Errorf("start janus: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "janus up: %s  ws %s  admin %s  admin-ws %s (admin secret %q)\n", j.HTTP, j.WS, j.AdminHTTP, j.AdminWS, j.AdminSecret)
			<-c.Context.Done()
			return j.Stop()
		},
	}
}
