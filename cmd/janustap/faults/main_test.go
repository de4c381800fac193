//go:build linux

package faults_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var (
	natsOutage = flag.Duration("nats-outage", 5*time.Second,
		"how long TestNATSOutage keeps NATS unreachable under load (the issue asks for 30s; the default keeps CI fast)")
	tapBin = flag.String("janustap", "",
		"janustap binary to test (default: built from ./cmd/janustap of this module by TestMain)")
	tapRace = flag.Bool("janustap-race", false,
		"build the janustap binary with -race (slower; the memory bound of TestBadInput is then meaningless)")
	fdHold = flag.Duration("fd-hold", 5*time.Second,
		"how long TestDescriptorsExhausted keeps the tap out of descriptors (150s reproduces JetStream's failed index write)")
	clients = flag.Int("clients", 6, "concurrent clients of the load each test runs")
)

// janustapBin is the binary every test runs as a separate process: it is
// built once per test binary, from the working tree, so that what is killed
// is the real `janustap serve`.
var janustapBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if *tapBin != "" {
		janustapBin = *tapBin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "janustap-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	janustapBin = filepath.Join(dir, "janustap")
	if err := build(janustapBin, *tapRace); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 2
	}
	return m.Run()
}

// build compiles ./cmd/janustap of the module this package is in to out.
func build(out string, race bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/janustap")...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build janustap in %s: %w\n%s", root, err, b)
	}
	return nil
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
