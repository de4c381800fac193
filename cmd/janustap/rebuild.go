package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/lockfile"
	"github.com/janustap/janustap/recorder/store"
)

func rebuildCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "SQLite projection to replace (default: <data>/janustap.db)", EnvVars: env("db")},
		&cli.StringFlag{Name: "out", Usage: "write the rebuilt database here instead of replacing --db"},
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's events"},
		&cli.Uint64Flag{Name: "from-seq", Usage: "first stream sequence to apply"},
		&cli.Uint64Flag{Name: "to-seq", Usage: "last stream sequence to apply"},
	}
	return &cli.Command{
		Name:  "rebuild",
		Usage: "build the SQLite projection afresh from the log and swap it in atomically",
		Description: "The new database is built next to the old one and renamed over it once complete, so a\n" +
			"reader sees the old or the new one, never a mix. A serve or record writing to the database\n" +
			"holds its lock (<db>.lock): rebuild refuses, naming it, until it is stopped (or use --out).",
		ArgsUsage: " ",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			target := c.String("out")
			if target == "" {
				target = dbPath(c)
			}
			// Refuse while a serve or record has the database open: it
			// would go on writing to the file this one replaces. The lock
			// is held until the swap, so neither starts in between.
			lock, err := lockfile.DB(target, "janustap rebuild")
			if err != nil {
				return fmt.Errorf("rebuild %s: stop the recorder using it first, or rebuild elsewhere with --out: %w", target, err)
			}
			defer lock.Close()
			tmp := fmt.Sprintf("%s.rebuild-%d", target, os.Getpid())
			defer removeDB(tmp)
			l, err := openLog(c.Context, c)
			if err != nil {
				return err
			}
			defer l.Close()
			info, err := l.js.Stream(c.Context, l.stream.StreamName())
			if err != nil {
				return fmt.Errorf("find the event stream: %w", err)
			}
			si, err := info.Info(c.Context)
			if err != nil {
				return fmt.Errorf("read the event stream: %w", err)
			}
			total := int64(si.State.Msgs)
			db := store.NewDB(tmp)
			db.Logger = log
			if err := db.Open(c.Context); err != nil {
				return err
			}
			prog := newProgress(c.App.ErrWriter, "rebuild", total)
			p := &recorder.Projector{JS: l.js, Stream: l.stream, DB: db, Logger: log, UntilCaughtUp: true,
				From: c.Uint64("from-seq"), To: c.Uint64("to-seq"), Batch: 5000, Linger: time.Millisecond,
				Progress: func(n int) { prog.Add(int64(n)) }}
			if p.Filter, err = gatewayFilter(c, l.stream.Prefix); err != nil {
				return err
			}
			runErr := p.Run(c.Context)
			if err := db.Close(); err != nil && runErr == nil {
				runErr = err
			}
			if runErr != nil {
				return runErr
			}
			// The WAL was checkpointed and removed by Close: one file to move.
			removeSidecars(target)
			if err := os.Rename(tmp, target); err != nil {
				return fmt.Errorf("swap in the rebuilt database: %w", err)
			}
			fmt.Fprintln(c.App.ErrWriter, prog.Done())
			fmt.Fprintf(c.App.Writer, "rebuilt %s: %d events\n", target, p.Applied())
			return nil
		},
	}
}

// removeDB removes a database file and its WAL and shared-memory files.
func removeDB(path string) {
	os.Remove(path)
	removeSidecars(path)
}

func removeSidecars(path string) {
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
}
