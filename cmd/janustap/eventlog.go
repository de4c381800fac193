package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
)

// eventLog is a connection to the event log, for the commands that read or
// write it from outside `serve`.
type eventLog struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream bus.StreamConfig
}

func (l *eventLog) Close() { l.nc.Close() }

// openLog connects to the log that --nats names, or else to the embedded
// server of the `serve` running on --data, with the credentials it keeps
// there.
func openLog(ctx context.Context, c *cli.Context) (*eventLog, error) {
	log, err := logger(c)
	if err != nil {
		return nil, err
	}
	url, opts := c.String("nats"), natsOptions(c)
	if url == "" {
		dir := c.String("data")
		b, err := os.ReadFile(filepath.Join(dir, recorder.URLFile))
		if err != nil {
			return nil, fmt.Errorf("find the embedded nats of %s (is `janustap serve --data %s` running? else pass --nats): %w", dir, dir, err)
		}
		url = strings.TrimSpace(string(b))
		if opts.User, opts.Password, err = bus.LoadCredentials(dir); err != nil {
			return nil, err
		}
	}
	opts.Logger = log
	opts.Name = "janustap " + c.Command.Name
	nc, err := bus.Connect(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &eventLog{nc: nc, js: js, stream: bus.StreamConfig{Name: c.String("stream"), Prefix: c.String("subject-prefix")}}, nil
}

// jetstreamMsgID sets an event's id as its Nats-Msg-Id.
func jetstreamMsgID(id string) jetstream.PublishOpt { return jetstream.WithMsgID(id) }
