// Package lockfile keeps two processes from using the same data directory or
// SQLite database at once: a lock is an exclusive flock(2) on a file that
// also names its holder (pid and command), so that the one refused can say
// who holds it. The kernel drops the lock when its holder dies, however it
// dies; a lock file left behind by a dead process is taken over.
//
// It imports only the standard library.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DataDirName is the lock file of a data directory (see DataDir).
const DataDirName = "janustap.lock"

// Lock is a held lock. Close releases it.
type Lock struct {
	// Path is the lock file.
	Path string

	f *os.File
}

// HeldError says that another process holds a lock.
type HeldError struct {
	Path   string // the lock file
	PID    int    // the holder's process id; 0 if it has not written it yet
	Holder string // what the holder said it is, e.g. "janustap serve"
}

func (e *HeldError) Error() string {
	who := e.Holder
	if who == "" {
		who = "another process"
	}
	if e.PID != 0 {
		who += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("%s is held by %s", e.Path, who)
}

// Acquire takes the lock at path, creating the file (0600) if needed, and
// writes the process id and holder into it. It does not wait: if another
// process holds the lock it returns a *HeldError naming that process.
func Acquire(path, holder string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		f.Close()
		return nil, readHolder(path)
	}
	if err := writeHolder(f, holder); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return &Lock{Path: path, f: f}, nil
}

// DataDir locks the data directory dir (creating it, 0700) for holder.
func DataDir(dir, holder string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return Acquire(filepath.Join(dir, DataDirName), holder)
}

// DBPath is the lock file of the SQLite database at db: db + ".lock".
func DBPath(db string) string { return db + ".lock" }

// DB locks the SQLite database at db for holder, so that no other recorder
// writes to it and no rebuild swaps it while holder has it open.
func DB(db, holder string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	return Acquire(DBPath(db), holder)
}

// Close releases the lock. The file stays; the next holder overwrites it.
// Close of a nil *Lock does nothing.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Empty the file first so that a reader never takes a stale pid for the
	// holder; the flock, not the contents, is the lock.
	l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.Path, err)
	}
	return nil
}

func writeHolder(f *os.File, holder string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(fmt.Sprintf("pid %d\nholder %s\n", os.Getpid(), holder)), 0)
	return err
}

// readHolder makes the HeldError of a lock held by someone else, with what
// its file says.
func readHolder(path string) error {
	e := &HeldError{Path: path}
	b, err := os.ReadFile(path)
	if err != nil {
		return e
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "holder":
			e.Holder = v
		}
	}
	return e
}

// IsHeld reports whether err says a lock is held by another process.
func IsHeld(err error) bool {
	var he *HeldError
	return errors.As(err, &he)
}
