package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/lockfile"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

// gatewayFilter is the subject filter of --gateway under prefix, "" for
// none; a name no gateway can have (see schema.ValidGateway) is an error,
// lest its escaped subject token match another gateway's.
func gatewayFilter(c *cli.Context, prefix string) (string, error) {
	g := c.String("gateway")
	if g == "" {
		return "", nil
	}
	if err := schema.ValidGateway(g); err != nil {
		return "", fmt.Errorf("--gateway: %w", err)
	}
	return bus.GatewayFilter(prefix, g), nil
}

// dbPath is --db, or the projection in --data.
func dbPath(c *cli.Context) string {
	if p := c.String("db"); p != "" {
		return p
	}
	return filepath.Join(c.String("data"), recorder.DBFile)
}

func recordCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "SQLite projection (default: <data>/janustap.db)", EnvVars: env("db")},
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's events (default: every gateway the log holds)"},
	}
	return &cli.Command{
		Name:      "record",
		Usage:     "project the event log into SQLite, alone (one recorder for the taps of several gateways)",
		ArgsUsage: " ",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			lock, err := lockfile.DB(dbPath(c), "janustap record")
			if err != nil {
				return fmt.Errorf("database %s in use: %w", dbPath(c), err)
			}
			defer lock.Close()
			l, err := openLog(c.Context, c)
			if err != nil {
				return err
			}
			defer l.Close()
			db := store.NewDB(dbPath(c))
			db.Logger = log
			if err := db.Open(c.Context); err != nil {
				return err
			}
			defer db.Close()
			p := &recorder.Projector{JS: l.js, Stream: l.stream, DB: db, Logger: log}
			if p.Filter, err = gatewayFilter(c, l.stream.Prefix); err != nil {
				return err
			}
			log.Info("recorder running", "db", db.Path)
			p.RunForever(c.Context)
			log.Info("recorder stopped", "applied", p.Applied())
			return nil
		},
	}
}
