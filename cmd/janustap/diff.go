package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/schema"
)

func diffCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "compare-media", Usage: "compare media-dependent events like others"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&cli.StringFlag{Name: "gateway", Usage: "gateway of sessions named by id"},
	}
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two captured flows (JSON Lines files or session ids in the log): exit 0 same, 1 differ",
		ArgsUsage: "A B",
		Flags:     append(append(flags, rulesFlags()...), natsFlags()...),
		Action: func(c *cli.Context) error {
			if done, err := printRules(c); done {
				return err
			}
			if c.NArg() != 2 {
				return fmt.Errorf("diff takes two flows, got %d", c.NArg())
			}
			rules, err := rulesOf(c)
			if err != nil {
				return err
			}
			var flows [2][]*schema.Event
			for i := range 2 {
				arg := c.Args().Get(i)
				sel := replayer.Selection{Gateway: c.String("gateway")}
				file := arg
				if id, err := strconv.ParseUint(arg, 10, 64); err == nil {
					if _, serr := os.Stat(arg); serr != nil {
						sel.Sessions, file = []uint64{id}, ""
					}
				}
				if flows[i], err = loadFlow(c, file, sel); err != nil {
					return fmt.Errorf("flow %s: %w", arg, err)
				}
			}
			rep := diff.Compare(flows[0], flows[1], rules, diff.Options{CompareMedia: c.Bool("compare-media")})
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := diff.WriteText(c.App.Writer, rep); err != nil {
				return err
			}
			if !rep.Same {
				return errDiffers
			}
			return nil
		},
	}
}
