package main

import (
	"fmt"

	"github.com/janustap/janustap/recorder/janustest"
	"github.com/urfave/cli/v2"
)

// janusCommand starts a private Janus for trying janustap out: the packaged
// config, every listener on loopback, the admin API on.
func janusCommand() *cli.Command {
	return &cli.Command{
		Name:  "janus",
		Usage: "run a private Janus (Debian package) on loopback, for trying janustap",
		Description: "Ports as janus-up.sh: HTTP on --base-port, admin HTTP on base-1000, WebSocket on base+100,\n" +
			"admin WebSocket on base-900. Runs until interrupted.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "base-port", Value: 8088, Usage: "HTTP port; the others follow from it", EnvVars: env("janus-base-port")},
			&cli.StringFlag{Name: "dir", Value: "janustap-data/janus", Usage: "state directory (config copy, log)", EnvVars: env("janus-dir")},
			&cli.StringSliceFlag{Name: "arg", Usage: "extra janus command-line argument (repeat)"},
			&cli.StringSliceFlag{Name: "disable-plugin", Usage: "plugin library to disable, e.g. libjanus_videoroom.so (repeat)"},
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			j, err := janustest.Run(c.Context, c.String("dir"), janustest.Options{
				BasePort:       c.Int("base-port"),
				Args:           c.StringSlice("arg"),
				DisablePlugins: c.StringSlice("disable-plugin"),
				Logger:         log,
			})
			if err != nil {
				return fmt.Errorf("start janus: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "janus up: %s  ws %s  admin %s  admin-ws %s (admin secret %q)\n", j.HTTP, j.WS, j.AdminHTTP, j.AdminWS, j.AdminSecret)
			<-c.Context.Done()
			return j.Stop()
		},
	}
}
