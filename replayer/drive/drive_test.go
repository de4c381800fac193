package drive_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/janusapi"
	"github.com/janustap/janustap/recorder/janustest"
	"github.com/janustap/janustap/recorder/tap"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

type memory struct {
	mu  sync.Mutex
	evs []*schema.Event
}

func (m *memory) Emit(ev *schema.Event) error {
	m.mu.Lock()
	m.evs = append(m.evs, ev)
	m.mu.Unlock()
	return nil
}

// capture runs flow through a tap in front of j and returns its events.
func capture(t *testing.T, j *janustest.Janus, transport string, flow func(context.Context, *janusapi.Session) error) []*schema.Event {
	t.Helper()
	mem := &memory{}
	tp, err := tap.New(tap.Config{Gateway: "a", JanusHTTP: j.HTTP, JanusWS: j.WS, Emitter: mem})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(tp.Handler())
	srv.Config.ConnContext = tp.ConnContext
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var c janusapi.Client
	if transport == "http" {
		hc := janusapi.NewHTTP(srv.URL + "/janus")
		defer hc.Close()
		c = hc
	} else {
		wc, err := janusapi.DialWS(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), janusapi.Protocol)
		if err != nil {
			t.Fatal(err)
		}
		defer wc.Close()
		c = wc
	}
	s := &janusapi.Session{C: c, WS: transport == "ws"}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := flow(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	mem.mu.Lock()
	defer mem.mu.Unlock()
	return append([]*schema.Event(nil), mem.evs...)
}

func TestReplayOnAnotherJanus(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	flows := map[string]func(context.Context, *janusapi.Session) error{
		"echotest":  janusapi.RunEchoTest,
		"videoroom": janusapi.RunVideoRoom,
		"textroom":  janusapi.RunTextRoom,
	}
	for _, from := range []string{"http", "ws"} {
		for name, flow := range flows {
			evs := capture(t, a, from, flow)
			for _, to := range []schema.Transport{"", schema.HTTP, schema.WS} {
				t.Run(from+"_"+name+"_to_"+string(to), func(t *testing.T) {
					p, err := plan.Build(evs)
					if err != nil {
						t.Fatal(err)
					}
					res, err := drive.Replay(t.Context(), p, drive.Options{
						Target:    drive.Target{HTTP: b.HTTP, WS: b.WS},
						Transport: to,
						Wait:      5 * time.Second,
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Waits) > 0 || len(res.Errors) > 0 {
						t.Fatalf("replay waits %q errors %q", res.Waits, res.Errors)
					}
					var sent, got int
					for _, ev := range res.Events {
						if ev.Direction == schema.ToGateway && ev.Kind != schema.Open {
							sent++
						} else if ev.Janus != nil && ev.Janus.Janus == "error" {
							t.Errorf("replay got an error: %s", ev.Body)
						} else {
							got++
						}
					}
					if sent == 0 || got == 0 {
						t.Fatalf("replay sent %d and received %d messages", sent, got)
					}
				})
			}
		}
	}
}
