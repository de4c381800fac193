package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/schema"
)

// importAckWait bounds the wait for the log to acknowledge one event.
const importAckWait = 30 * time.Second

func importCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "skip-bad", Usage: "skip lines that are not events (counted), instead of stopping at the first"},
		&cli.IntFlag{Name: "window", Value: 256, Usage: "events published and not yet acknowledged, at most"},
	}
	return &cli.Command{
		Name:  "import",
		Usage: "publish the events of a JSON Lines file (janustap export) to the log, as they were captured",
		Description: "Each event goes to its subject with its id as the Nats-Msg-Id, so that importing a file twice\n" +
			"within the stream's duplicate window (10 minutes by default) stores its events once. Beyond the window\n" +
			"JetStream stores them again; the recorder then skips the events it holds already and counts\n" +
			"them as duplicates. The stream is created when it does not exist; an existing one is left as it is.",
		ArgsUsage: "FILE (- for stdin)",
		Flags:     append(flags, natsFlags()...),
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "file (- for stdin)")
			if err != nil {
				return err
			}
			window := c.Int("window")
			if window < 1 {
				return fmt.Errorf("--window %d: want at least 1", window)
			}
			log, err := logger(c)
			if err != nil {
				return err
			}
			in, total, err := openInput(c.App.Reader, name)
			if err != nil {
				return err
			}
			defer in.Close()
			l, err := openLog(c.Context, c)
			if err != nil {
				return err
			}
			defer l.Close()
			stream := l.stream.StreamName()
			if err := ensureStreamExists(c.Context, l); err != nil {
				return err
			}
			prefix := l.stream.Prefix
			if prefix == "" {
				prefix = bus.DefaultPrefix
			}

			prog := newProgress(c.App.ErrWriter, "import", total)
			imp := &importer{js: l.js, stream: stream, prefix: prefix, window: window, prog: prog}
			sc := bufio.NewScanner(in)
			sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
			var bad int
			for n := 1; sc.Scan(); n++ {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				ev, err := schema.Decode(line)
				if err == nil {
					// Only what a tap could have made: the log's readers
					// and its subjects rely on it.
					err = ev.Validate()
				}
				if err != nil {
					if !c.Bool("skip-bad") {
						return fmt.Errorf("import %s: line %d: %w", name, n, err)
					}
					bad++
					log.Warn("line skipped", "file", name, "line", n, "err", err)
					continue
				}
				// Published as the tap publishes: encoded by schema.Encode,
				// which an exported line already is.
				data, err := schema.Encode(ev)
				if err != nil {
					return fmt.Errorf("import %s: line %d: %w", name, n, err)
				}
				if err := imp.publish(c.Context, ev, data, n); err != nil {
					return err
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("import %s: %w", name, err)
			}
			if err := imp.drain(c.Context); err != nil {
				return err
			}
			summary := prog.Done()
			if bad > 0 {
				summary += fmt.Sprintf(", %d bad lines skipped", bad)
			}
			fmt.Fprintln(c.App.ErrWriter, summary)
			fmt.Fprintf(c.App.Writer, "imported %d events into stream %s: %d stored, %d the stream held already\n",
				imp.acked, stream, imp.acked-imp.duplicates, imp.duplicates)
			return nil
		},
	}
}

// openInput opens the file to import, or stdin for "-", and returns the
// number of lines of a regular file (0 when unknown), for the progress.
func openInput(stdin io.Reader, name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return io.NopCloser(stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("import: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return f, 0, nil
	}
	lines, err := countLines(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("import %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("import %s: %w", name, err)
	}
	return f, lines, nil
}

// countLines counts the lines of r, the last one with or without its
// newline.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// ensureStreamExists creates the event stream when the log has none. An
// existing stream is not updated: its limits are those `serve` gave it.
func ensureStreamExists(ctx context.Context, l *eventLog) error {
	_, err := l.js.Stream(ctx, l.stream.StreamName())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		_, err = bus.EnsureStream(ctx, l.js, l.stream)
		return err
	}
	return fmt.Errorf("find stream %s: %w", l.stream.StreamName(), err)
}

// importer publishes events asynchronously, with at most window of them
// waiting for their ack, and checks every ack.
type importer struct {
	js      jetstream.JetStream
	stream  string
	prefix  string
	window  int
	prog    *progress
	pending []pendingEvent

	acked, duplicates int64
}

type pendingEvent struct {
	fut  jetstream.PubAckFuture
	id   string
	line int
}

// publish sends data, the encoded ev read from line, to its subject.
func (imp *importer) publish(ctx context.Context, ev *schema.Event, data []byte, line int) error {
	fut, err := imp.js.PublishAsync(ev.Subject(imp.prefix), data, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(imp.stream))
	if err != nil {
		return fmt.Errorf("publish event %s (line %d): %w", ev.ID, line, err)
	}
	imp.pending = append(imp.pending, pendingEvent{fut: fut, id: ev.ID, line: line})
	for len(imp.pending) >= imp.window {
		if err := imp.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// drain waits for the acks of every event published.
func (imp *importer) drain(ctx context.Context) error {
	for len(imp.pending) > 0 {
		if err := imp.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for the ack of the oldest pending event.
func (imp *importer) wait(ctx context.Context) error {
	p := imp.pending[0]
	imp.pending = imp.pending[1:]
	timer := time.NewTimer(importAckWait)
	defer timer.Stop()
	select {
	case ack := <-p.fut.Ok():
		imp.acked++
		if ack.Duplicate {
			imp.duplicates++
		}
		imp.prog.Add(1)
		return nil
	case err := <-p.fut.Err():
		return fmt.Errorf("publish event %s (line %d): %w", p.id, p.line, err)
	case <-timer.C:
		return fmt.Errorf("publish event %s (line %d): no ack from the log after %s", p.id, p.line, importAckWait)
	case <-ctx.Done():
		return fmt.Errorf("publish event %s (line %d): %w", p.id, p.line, ctx.Err())
	}
}
