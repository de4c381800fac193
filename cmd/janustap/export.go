package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/har"
)

func exportCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "jsonl", Usage: "output `FORMAT`: jsonl (events, as replay --from-file and import read them) or har (for browsers' developer tools)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write to `FILE` (-: stdout)"},
		&cli.StringSliceFlag{Name: "session", Usage: "export this session, with its handles and WebSockets (repeat for several)"},
		&cli.StringFlag{Name: "gateway", Usage: "only this gateway's events"},
		&cli.BoolFlag{Name: "keep-host-details", Usage: "keep the gateway's log path, IP addresses and ICE candidates in server_info and admin answers instead of redacting them"},
	}
	flags = append(flags, timeFlags()...)
	return &cli.Command{
		Name:  "export",
		Usage: "write recorded events, of some sessions, a time range or everything, as JSON Lines or a HAR file",
		Description: "By default the host details that server_info and admin answers carry (log-path, local-ip,\n" +
			"public-ip, local ICE candidates, selected pair) are replaced by REDACTED in the exported bodies, which\n" +
			"keep their shape; such events are marked redacted with the label redacted=host-details.\n\n" +
			"JSON Lines are written as the events are read; a HAR is built in memory, so export a session or a\n" +
			"time range of a large log rather than all of it. A session brings its handles' events, admin API\n" +
			"events naming it, and the open and close of its WebSockets (found within an hour of its events).",
		ArgsUsage: " ",
		Flags:     append(flags, storeFlags()...),
		Action: func(c *cli.Context) (err error) {
			format := c.String("format")
			if format != "jsonl" && format != "har" {
				return fmt.Errorf("--format %q: want jsonl or har", format)
			}
			from, to, err := timeRange(c)
			if err != nil {
				return err
			}
			var sessions []uint64
			for _, s := range c.StringSlice("session") {
				id, err := parseID("--session", s)
				if err != nil {
					return err
				}
				sessions = append(sessions, id)
			}
			db, err := openStore(c)
			if err != nil {
				return err
			}
			defer db.Close()

			f := store.EventFilter{Gateway: c.String("gateway"), From: from, To: to}
			var events iter.Seq2[store.RawEvent, error]
			var total int64
			if len(sessions) > 0 {
				evs, err := sessionsEvents(c.Context, db, f, sessions)
				if err != nil {
					return err
				}
				events = func(yield func(store.RawEvent, error) bool) {
					for _, e := range evs {
						if !yield(e, nil) {
							return
						}
					}
				}
				total = int64(len(evs))
			} else {
				n, err := db.CountEvents(c.Context, f)
				if err != nil {
					return err
				}
				events, total = db.Events(c.Context, f), int64(n)
			}

			out, err := createOutput(c.App.Writer, c.String("output"))
			if err != nil {
				return err
			}
			defer func() {
				if cerr := out.finish(err == nil); err == nil {
					err = cerr
				}
			}()
			prog := newProgress(c.App.ErrWriter, "export", total)
			keep := c.Bool("keep-host-details")
			var evs []*schema.Event // for a HAR
			var redacted int
			for e, err := range events {
				if err != nil {
					return err
				}
				raw := e.Raw
				if !keep {
					var changed bool
					if raw, changed, err = schema.RedactHostDetails(raw); err != nil {
						return fmt.Errorf("export event %s (stream sequence %d): %w", e.ID, e.StreamSeq, err)
					}
					if changed {
						redacted++
					}
				}
				if format == "jsonl" {
					out.w.Write(raw)
					if err := out.w.WriteByte('\n'); err != nil {
						return fmt.Errorf("export: %w", err)
					}
				} else {
					ev, err := schema.Decode(raw)
					if err != nil {
						return fmt.Errorf("export event %s (stream sequence %d): %w", e.ID, e.StreamSeq, err)
					}
					evs = append(evs, ev)
				}
				prog.Add(1)
			}
			if format == "har" {
				if err := har.Build(evs, har.Options{CreatorVersion: buildVersion()}).Write(out.w); err != nil {
					return err
				}
			}
			if err := out.finish(true); err != nil {
				return err
			}
			summary := prog.Done()
			if redacted > 0 {
				summary += fmt.Sprintf(", host details redacted in %d", redacted)
			}
			fmt.Fprintln(c.App.ErrWriter, summary)
			return nil
		},
	}
}

// buildVersion is the module version janustap was built at.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return ""
}

// output is where an export goes: stdout, or a file written under a
// temporary name and renamed into place once complete, so that a failed
// export leaves no half file.
type output struct {
	w    *bufio.Writer
	file *os.File // nil for stdout
	path string
	done bool
}

func createOutput(stdout io.Writer, path string) (*output, error) {
	if path == "-" || path == "" {
		return &output{w: bufio.NewWriterSize(stdout, 64<<10)}, nil
	}
	// Captures hold what users said to the gateway: 0600, as the store.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &output{w: bufio.NewWriterSize(f, 64<<10), file: f, path: path}, nil
}

// finish flushes the output and, for a file, renames it into place when ok
// or removes it. Calls after the first do nothing.
func (o *output) finish(ok bool) error {
	if o.done {
		return nil
	}
	o.done = true
	err := o.w.Flush()
	if o.file == nil {
		if err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	if cerr := o.file.Close(); err == nil {
		err = cerr
	}
	if ok && err == nil {
		if err = os.Rename(o.file.Name(), o.path); err == nil {
			return nil
		}
	}
	os.Remove(o.file.Name())
	if err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// sessionsEvents returns the events of sessions (store.DB.SessionEvents), in
// stream order, each event once. f's gateway (or else the one gateway
// holding each id) and time range apply.
func sessionsEvents(ctx context.Context, db *store.DB, f store.EventFilter, sessions []uint64) ([]store.RawEvent, error) {
	seen := map[uint64]bool{}
	var out []store.RawEvent
	add := func(e store.RawEvent) {
		if !seen[e.StreamSeq] {
			seen[e.StreamSeq] = true
			out = append(out, e)
		}
	}
	for _, id := range sessions {
		gw, err := sessionGateway(ctx, db, f.Gateway, id)
		if err != nil {
			return nil, notFound(err, fmt.Sprintf("session %d", id))
		}
		evs, err := db.SessionEvents(ctx, gw, id)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			add(e)
		}
	}
	slices.SortFunc(out, func(a, b store.RawEvent) int { return cmp.Compare(a.StreamSeq, b.StreamSeq) })
	if f.From.IsZero() && f.To.IsZero() {
		return out, nil
	}
	kept := out[:0]
	for _, e := range out {
		ev, err := schema.Decode(e.Raw)
		if err != nil {
			return nil, fmt.Errorf("read event %s: %w", e.ID, err)
		}
		if (f.From.IsZero() || !ev.Time.Before(f.From)) && (f.To.IsZero() || ev.Time.Before(f.To)) {
			kept = append(kept, e)
		}
	}
	return kept, nil
}
