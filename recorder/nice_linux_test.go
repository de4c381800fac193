package recorder

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// threadNice reads the nice value of thread tid of this process from
// /proc (field 19 of its stat line, counted after the command name).
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var nice int
	if _, err := fmt.Sscan(fields[16], &nice); err != nil {
		t.Fatalf("stat %q: %v", s, err)
	}
	return nice
}

func TestLowerThreadPriority(t *testing.T) {
	done := make(chan int)
	release := make(chan struct{})
	go func() {
		if err := lowerThreadPriority(RecorderNice); err != nil {
			t.Error(err)
		}
		done <- syscall.Gettid()
		<-release // the thread ends with this goroutine
	}()
	tid := <-done
	if got := threadNice(t, tid); got != RecorderNice {
		t.Errorf("recorder thread nice = %d, want %d", got, RecorderNice)
	}
	if got := threadNice(t, syscall.Gettid()); got == RecorderNice {
		t.Errorf("the test's own thread is at nice %d too", got)
	}
	close(release)
}
