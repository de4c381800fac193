package bench

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
)

// TestIdleFitsTheFileLimit: a process whose open file limit leaves room for
// fewer idle clients than wanted gets as many as fit, and the result says
// why. The process is this one, holding both ends of every WebSocket, as a
// proxy holds two descriptors a client; its soft limit is lowered for the
// test.
func TestIdleFitsTheFileLimit(t *testing.T) {
	up := websocket.Upgrader{Subprotocols: []string{"janus-protocol"}}
	held := make(chan *websocket.Conn, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r, nil); err == nil {
			held <- c
		}
	}))
	defer srv.Close()
	defer func() {
		for len(held) > 0 {
			(<-held).Close()
		}
	}()

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	const room = 10
	lowered := lim
	lowered.Cur = uint64(len(fds) + idleFileSpare + 2*room + 1)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("restore the open file limit: %v", err)
		}
	})

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	res := measureIdle(t.Context(), Janustap, url, func() []int { return []int{os.Getpid()} }, 50)
	if res.Wanted != 50 || res.Held != room {
		t.Errorf("held %d of %d, want %d of 50", res.Held, res.Wanted, room)
	}
	if res.FirstErr == nil || !strings.Contains(res.FirstErr.Error(), "open file limit") {
		t.Errorf("first error %v, want one naming the open file limit", res.FirstErr)
	}
}

func TestDescriptorsPerClient(t *testing.T) {
	for target, want := range map[string]int{Direct: 1, Nginx: 2, Janustap: 2, JanustapExternal: 2} {
		if got := descriptorsPerClient(target); got != want {
			t.Errorf("%s: %d descriptors a client, want %d", target, got, want)
		}
	}
}
