package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/store"
)

func txCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "gateway", Usage: "gateway of the transaction (default: look in every gateway with sessions)"},
		&cli.BoolFlag{Name: "full", Usage: "print the body of every message below its line"},
		&cli.BoolFlag{Name: "json", Usage: "print the requests with their replies and events as JSON"},
	}
	return &cli.Command{
		Name:  "tx",
		Usage: "print one transaction: its request, the replies (ack, success, error) and the events that carried it",
		Description: "Clients should make transaction strings unique, but Janus does not check: every request of the\n" +
			"gateway that carried the string is printed, oldest first.",
		ArgsUsage: "TRANSACTION",
		Flags:     append(flags, storeFlags()...),
		Action: func(c *cli.Context) error {
			tx, err := oneArg(c, "transaction")
			if err != nil {
				return err
			}
			db, err := openStore(c)
			if err != nil {
				return err
			}
			defer db.Close()
			gws := []string{c.String("gateway")}
			if gws[0] == "" {
				if gws, err = knownGateways(c.Context, db); err != nil {
					return err
				}
			}
			var found []store.TransactionDetail
			var in []string
			for _, gw := range gws {
				txs, err := db.Transaction(c.Context, gw, tx)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				found, in = append(found, txs...), append(in, gw)
			}
			switch {
			case len(in) == 0:
				where := "gateway " + gws[0]
				switch {
				case len(gws) == 0:
					where = "the store: it has no sessions, pass --gateway"
				case c.String("gateway") == "":
					where = "gateways " + strings.Join(gws, ", ") + " (pass --gateway for one without sessions)"
				}
				return fmt.Errorf("transaction %s in %s: %w", strconv.Quote(tx), where, store.ErrNotFound)
			case len(in) > 1:
				return fmt.Errorf("transaction %s exists in gateways %s: pass --gateway", strconv.Quote(tx), strings.Join(in, ", "))
			}
			if c.Bool("json") {
				type detail struct {
					Transaction txJSON      `json:"transaction"`
					Request     *entryJSON  `json:"request"`
					Replies     []entryJSON `json:"replies"`
					Events      []entryJSON `json:"events"`
				}
				out := make([]detail, len(found))
				for i := range found {
					d := &found[i]
					out[i] = detail{Transaction: txOf(&d.Transaction), Replies: entriesOf(d.Replies, c.Bool("full")),
						Events: entriesOf(d.Events, c.Bool("full"))}
					if d.Request.StreamSeq != 0 {
						r := entryOf(&d.Request, c.Bool("full"))
						out[i].Request = &r
					}
				}
				return writeJSON(c.App.Writer, out)
			}
			return store.WriteTransaction(c.App.Writer, found, c.Bool("full"))
		},
	}
}
