package lockfile_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/janustap/janustap/recorder/lockfile"
)

func TestAcquireRefusesASecondHolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock(2) on this platform")
	}
	dir := t.TempDir()
	l, err := lockfile.DataDir(dir, "janustap serve")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockfile.DataDir(dir, "janustap serve")
	var he *lockfile.HeldError
	if !lockfile.IsHeld(err) || !errors.As(err, &he) {
		t.Fatalf("second DataDir: %v, want a HeldError", err)
	}
	if he.PID != os.Getpid() || he.Holder != "janustap serve" {
		t.Errorf("HeldError = %+v, want pid %d holder %q", he, os.Getpid(), "janustap serve")
	}
	want := filepath.Join(dir, lockfile.DataDirName) + " is held by janustap serve (pid " + strconv.Itoa(os.Getpid()) + ")"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := lockfile.DataDir(dir, "janustap record")
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	l2.Close()
}

// TestLockOfAKilledProcessIsTakenOver runs a child that takes the lock of a
// database, checks that the parent is refused with the child's pid, kills
// the child with SIGKILL and takes the lock.
func TestLockOfAKilledProcessIsTakenOver(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock(2) on this platform")
	}
	db := filepath.Join(t.TempDir(), "janustap.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HELPER_DB="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = lockfile.DB(db, "janustap rebuild")
	var he *lockfile.HeldError
	if !errors.As(err, &he) || he.PID != cmd.Process.Pid || he.Holder != "helper" {
		t.Fatalf("DB while the child holds it: %v (%+v), want held by helper pid %d", err, he, cmd.Process.Pid)
	}

	cmd.Process.Kill()
	cmd.Wait()
	l, err := lockfile.DB(db, "janustap rebuild")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	defer l.Close()
	b, _ := os.ReadFile(lockfile.DBPath(db))
	if !strings.Contains(string(b), "pid "+strconv.Itoa(os.Getpid())+"\n") {
		t.Errorf("lock file says %q, want this process's pid", b)
	}
}

// TestHelperHoldLock is the child of TestLockOfAKilledProcessIsTakenOver.
func TestHelperHoldLock(t *testing.T) {
	db := os.Getenv("LOCKFILE_HELPER_DB")
	if db == "" {
		t.Skip("helper process only")
	}
	if _, err := lockfile.DB(db, "helper"); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	select {} // hold the lock until the parent kills this process
}
