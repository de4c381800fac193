package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/janustap/janustap/schema"
)

// notice is what a page is told of a new event.
type notice struct {
	Gateway string `json:"gateway"`
	Session uint64 `json:"session,omitempty"`
	Handle  uint64 `json:"handle,omitempty"`
	ID      string `json:"id"`
	Janus   string `json:"janus,omitempty"`
}

// hub hands new events to the pages that watch them. A page that does not
// keep up misses notices (they only tell it to fetch again).
type hub struct {
	mu   sync.Mutex
	subs map[chan notice]struct{}
}

func (h *hub) subscribe() (chan notice, func()) {
	c := make(chan notice, 64)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan notice]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *hub) publish(ev *schema.Event) {
	n := notice{Gateway: ev.Gateway, Session: ev.SessionID(), Handle: ev.HandleID(), ID: ev.ID}
	if ev.Janus != nil {
		n.Janus = ev.Janus.Janus
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- n:
		default:
		}
	}
}

// live streams notices as server-sent events: all of them, or those of
// one session (?gateway=&session=) and its handles (&handles=1,2).
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	gw := q.Get("gateway")
	session, _ := strconv.ParseUint(q.Get("session"), 10, 64)
	handles := map[uint64]bool{}
	for _, h := range strings.Split(q.Get("handles"), ",") {
		if id, err := strconv.ParseUint(h, 10, 64); err == nil {
			handles[id] = true
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// Subscribed before hello: what follows hello is not missed.
	c, stop := s.hub.subscribe()
	defer stop()
	fmt.Fprintf(w, "event: hello\ndata: {\"live\":%t}\n\n", s.Follow != nil)
	fl.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case n := <-c:
			if gw != "" && n.Gateway != gw {
				continue
			}
			if session != 0 && n.Session != session && !handles[n.Handle] {
				continue
			}
			b, _ := json.Marshal(n)
			fmt.Fprintf(w, "event: event\ndata: %s\n\n", b)
			fl.Flush()
		}
	}
}
