package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/schema"
)

func showCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "gateway of the session (needed when several hold its id)"},
		&cli.BoolFlag{Name: "full", Usage: "print the body of every message below its line"},
		&cli.BoolFlag{Name: "json", Usage: "print the session, its handles, transactions and timeline as JSON"},
		&cli.BoolFlag{Name: "stats", Usage: "list every media statistics event of Janus in the timeline (default: summed up per handle and mid)"},
	}
	return &cli.Command{
		Name:  "show",
		Usage: "print a session's timeline: every request, reply and event, with direction, handle, transaction and timing",
		Description: "Each line is one message: its offset from the first, direction (c2g: client to gateway), transport,\n" +
			"kind, Janus type, handle, transaction, plugin data in short form (plugin/first value), the jsep\n" +
			"type it carries, and notes: after= the time since the request of its transaction, errors, status.",
		ArgsUsage: "SESSION",
		Flags:     append(flags, storeFlags()...),
		Action: func(c *cli.Context) error {
			db, gw, id, err := openSession(c)
			if err != nil {
				return err
			}
			defer db.Close()
			// Admin traffic names sessions without making their rows: a
			// session may have a timeline and no row.
			d, err := db.Session(c.Context, gw, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			timeline, err := db.Timeline(c.Context, gw, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("session %d of %s", id, gw))
			}
			full := c.Bool("full")
			jv, err := readJanusView(c, db, gw, id)
			if err != nil {
				return err
			}
			if !c.Bool("stats") {
				timeline = slices.DeleteFunc(timeline, func(e store.TimelineEntry) bool {
					return e.Transport == schema.EVH && e.Direction == "media-stats"
				})
			}
			if c.Bool("json") {
				out := struct {
					Session      *sessionJSON `json:"session"`
					Handles      []handleJSON `json:"handles"`
					Transactions []txJSON     `json:"transactions"`
					Timeline     []entryJSON  `json:"timeline"`
					Janus        *janusJSON   `json:"janus,omitempty"`
				}{Handles: []handleJSON{}, Transactions: []txJSON{}, Timeline: entriesOf(timeline, full), Janus: jv.json()}
				if d != nil {
					s := sessionOf(&d.SessionRow)
					out.Session = &s
					for i := range d.Handles {
						out.Handles = append(out.Handles, handleOf(&d.Handles[i]))
					}
					for i := range d.Transactions {
						out.Transactions = append(out.Transactions, txOf(&d.Transactions[i]))
					}
				}
				return writeJSON(c.App.Writer, out)
			}
			w := c.App.Writer
			if d != nil {
				if err := store.WriteSessions(w, []store.SessionRow{d.SessionRow}); err != nil {
					return err
				}
				if err := writeHandles(w, d.Handles); err != nil {
					return err
				}
			}
			if err := jv.write(w); err != nil {
				return err
			}
			if d != nil || jv.any() {
				fmt.Fprintln(w)
			}
			return store.WriteTimeline(w, timeline, full)
		},
	}
}

// writeHandles writes a session's handles as a table, after a blank line;
// nothing when there are none.
func writeHandles(w io.Writer, hs []store.HandleRow) error {
	if len(hs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tPLUGIN\tOPAQUE_ID\tATTACHED\tDETACHED\tWEBRTCUP\tHANGUP\tEVENTS\tERRORS")
	for _, h := range hs {
		hangup := "-"
		if !h.HangupAt.IsZero() {
			hangup = textTime(h.HangupAt)
			if h.HangupReason != "" {
				hangup += " " + fmt.Sprintf("%q", h.HangupReason)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", h.ID, dash(strings.TrimPrefix(h.Plugin, "janus.plugin.")),
			dash(h.OpaqueID), textTime(h.AttachedAt), textTime(h.DetachedAt), textTime(h.WebRTCUpAt), hangup, h.Events, h.Errors)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write handles: %w", err)
	}
	return nil
}

// textTime writes a time as the store's tables do: UTC, to the millisecond.
func textTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
