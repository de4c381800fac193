package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/verdict"
)

func whyCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "gateway of the session (needed when several hold its id)"},
		&cli.BoolFlag{Name: "json", Usage: "print the verdict as JSON"},
		&cli.BoolFlag{Name: "rules", Usage: "list the rules and what each looks for, and exit"},
	}
	return &cli.Command{
		Name:  "why",
		Usage: "name the likely cause of a session's failure, with the messages that show it",
		Description: "Runs the verdict rules (--rules lists them) over the session's messages and prints each\n" +
			"finding, likeliest cause first, with its evidence: #N is the message's number in `janustap show`,\n" +
			"then its time and event id. A session no rule finds fault with gets \"no problem found\".",
		ArgsUsage: "SESSION",
		Flags:     append(flags, storeFlags()...),
		Action: func(c *cli.Context) error {
			if c.Bool("rules") {
				tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
				for _, r := range verdict.Rules() {
					fmt.Fprintf(tw, "%s\t%s\n", r.Name, r.Doc)
				}
				return tw.Flush()
			}
			db, gw, id, err := openSession(c)
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := verdict.Why(c.Context, db, gw, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("session %d of %s", id, gw))
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, v)
			}
			return verdict.WriteText(c.App.Writer, v)
		},
	}
}
