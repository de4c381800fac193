package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/schema"
	"github.com/janustap/janustap/schema/golden"
)

// logEvents reads every event of the stream at url, with its subject.
func logEvents(t *testing.T, url string) (evs []*schema.Event, subjects []string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r := &bus.Reader{JS: js, UntilCaughtUp: true}
	for d, err := range r.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if d.Err != nil {
			t.Fatalf("stream sequence %d: %v", d.StreamSeq, d.Err)
		}
		evs, subjects = append(evs, d.Event), append(subjects, d.Subject)
	}
	return evs, subjects
}

func TestImport(t *testing.T) {
	s := bustest.Start(t)
	evs := synthEvents()
	file := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(file, encodeAll(t, evs), 0o600); err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(len(evs))

	// The first import creates the stream and stores every event; the
	// second, within the duplicate window, stores none again.
	out, errw, err := runCmd(t, "import", "--nats", s.ClientURL(), "--window", "4", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errw)
	}
	if want := "imported " + n + " events into stream JANUSTAP: " + n + " stored, 0 the stream held already\n"; out != want {
		t.Errorf("first import said %q, want %q", out, want)
	}
	if want := "import: " + n + " events in "; !strings.HasPrefix(errw, want) {
		t.Errorf("first import's summary %q, want %q...", errw, want)
	}
	out = mustRun(t, "import", "--nats", s.ClientURL(), file)
	if want := "imported " + n + " events into stream JANUSTAP: 0 stored, " + n + " the stream held already\n"; out != want {
		t.Errorf("second import said %q, want %q", out, want)
	}

	got, subjects := logEvents(t, s.ClientURL())
	if got, want := encodeAll(t, got), encodeAll(t, evs); !bytes.Equal(got, want) {
		t.Errorf("the log holds other events than the file:\n%s", golden.Diff(want, got))
	}
	for i, ev := range evs {
		if want := ev.Subject(bus.DefaultPrefix); i < len(subjects) && subjects[i] != want {
			t.Errorf("event %s on %s, want %s", ev.ID, subjects[i], want)
		}
	}
}

func TestImportBadLines(t *testing.T) {
	s := bustest.Start(t)
	evs := synthEvents()[:3]
	lines := strings.SplitAfter(string(encodeAll(t, evs)), "\n")
	// Line 3 is not an event; line 5 is empty and skipped as such.
	input := lines[0] + lines[1] + `{"v":1,"gateway":"no id"}` + "\n" + lines[2] + "\n"
	file := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, "import", "--nats", s.ClientURL(), file)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("import of a bad line: %v, want an error naming line 3", err)
	}

	// From stdin, with the flag after the file, as people type it.
	out, errw, err := runCmdInput(t, strings.NewReader(input), "import", "--nats", s.ClientURL(), "-", "--skip-bad")
	if err != nil {
		t.Fatal(err)
	}
	if want := "imported 3 events into stream JANUSTAP: "; !strings.HasPrefix(out, want) {
		t.Errorf("import --skip-bad said %q, want %q...", out, want)
	}
	if !strings.Contains(errw, ", 1 bad lines skipped") || !strings.Contains(errw, "line=3") {
		t.Errorf("import --skip-bad logged:\n%s", errw)
	}
	got, _ := logEvents(t, s.ClientURL())
	if !slices.Equal(ids(got), ids(evs)) {
		t.Errorf("log holds %v, want %v", ids(got), ids(evs))
	}
}

// TestImportKeepsStream checks that import leaves an existing stream's
// configuration as it is.
func TestImportKeepsStream(t *testing.T) {
	s := bustest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Prefix: "site2", MaxBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(file, encodeAll(t, synthEvents()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "import", "--nats", s.ClientURL(), "--subject-prefix", "site2", file)
	st, err := js.Stream(ctx, bus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != 1<<30 || info.State.Msgs != uint64(len(synthEvents())) {
		t.Errorf("stream has MaxBytes %d and %d messages, want 1 GiB and %d", info.Config.MaxBytes, info.State.Msgs, len(synthEvents()))
	}
}

// TestImportRefusesWhatNoTapMakes (issue 14, finding 7): import validates
// every event (kind, direction, transport, id, time, gateway) and names the
// line of the first it refuses; tail refuses a --gateway no gateway can
// have, which used to match the escaped empty gateway.
func TestImportRefusesWhatNoTapMakes(t *testing.T) {
	s := bustest.Start(t)
	good := synthEvents()[0]
	for _, tc := range []struct {
		name string
		edit func(*schema.Event)
		want string
	}{
		{"kind", func(ev *schema.Event) { ev.Kind = "bogus" }, `unknown kind "bogus"`},
		{"dir", func(ev *schema.Event) { ev.Direction = "x" }, `unknown direction "x"`},
		{"id", func(ev *schema.Event) { ev.ID = "no-ulid" }, "not a ULID"},
		{"gateway_star", func(ev *schema.Event) { ev.Gateway = "*" }, "subject token"},
		{"gateway_wildcard", func(ev *schema.Event) { ev.Gateway = "evil.>" }, "subject token"},
		{"gateway_empty", func(ev *schema.Event) { ev.Gateway = "" }, "empty gateway name"},
		{"gateway_newline", func(ev *schema.Event) { ev.Gateway = "a\nb" }, "subject token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := *good
			tc.edit(&bad)
			input := string(encodeAll(t, []*schema.Event{good, &bad}))
			_, _, err := runCmdInput(t, strings.NewReader(input), "import", "--nats", s.ClientURL(), "-")
			if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import: %v, want an error naming line 2 and saying %q", err, tc.want)
			}
		})
	}
	if got, _ := logEvents(t, s.ClientURL()); len(got) != 1 || got[0].ID != good.ID {
		t.Errorf("log holds %v, want only the good event", ids(got))
	}
	for _, g := range []string{"*", "evil.>", "a b"} {
		_, _, err := runCmd(t, "tail", "--nats", s.ClientURL(), "--from-start", "--no-follow", "--gateway", g)
		if err == nil || !strings.Contains(err.Error(), "--gateway") {
			t.Errorf("tail --gateway %q: %v, want it refused", g, err)
		}
	}
}
