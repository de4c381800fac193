package main

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/schema"
)

func tailCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's events"},
		&cli.StringFlag{Name: "session", Usage: "only events of this session id"},
		&cli.StringFlag{Name: "tx", Usage: "only events of this transaction"},
		&cli.BoolFlag{Name: "json", Usage: "print each event as its JSON line"},
		&cli.BoolFlag{Name: "from-start", Usage: "print what the log already holds first"},
		&cli.BoolFlag{Name: "no-follow", Usage: "stop once caught up with the log"},
	}
	return &cli.Command{
		Name:      "tail",
		Usage:     "follow the event log, one line per message (tcpdump for Janus signaling)",
		ArgsUsage: " ",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			var session uint64
			if s := c.String("session"); s != "" {
				var err error
				if session, err = strconv.ParseUint(s, 10, 64); err != nil {
					return fmt.Errorf("--session %q: not a Janus id", s)
				}
			}
			l, err := openLog(c.Context, c)
			if err != nil {
				return err
			}
			defer l.Close()
			r := &bus.Reader{JS: l.js, Stream: l.stream.Name, Prefix: l.stream.Prefix, Start: bus.StartNew, UntilCaughtUp: c.Bool("no-follow")}
			if c.Bool("from-start") {
				r.Start = bus.StartAll
			}
			if r.Filter, err = gatewayFilter(c, l.stream.Prefix); err != nil {
				return err
			}
			w := bufio.NewWriter(c.App.Writer)
			defer w.Flush()
			tx := c.String("tx")
			for d, err := range r.Events(c.Context) {
				if err != nil {
					if c.Context.Err() != nil {
						return nil
					}
					return err
				}
				if d.Err != nil {
					fmt.Fprintf(w, "#%d %s: %v\n", d.StreamSeq, d.Subject, d.Err)
					continue
				}
				ev := d.Event
				if session != 0 && ev.SessionID() != session || tx != "" && ev.Transaction() != tx {
					continue
				}
				if c.Bool("json") {
					w.Write(d.Data)
					w.WriteByte('\n')
				} else {
					fmt.Fprintf(w, "%s %s\n", ev.Time.Local().Format("15:04:05.000000"), schema.Summary(ev))
				}
				if d.Pending == 0 {
					w.Flush() // a person is watching: show each burst as it ends
				}
			}
			return nil
		},
	}
}
