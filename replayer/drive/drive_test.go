package drive_test

import (
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

func TestReplayOnAnotherJanus(t *testing.T) {
	a := janustest.Start(t, janustest.Options{})
	b := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, a, "a")
	flows := map[string]taptest.Flow{
		"echotest":  janus.RunEchoTest,
		"videoroom": janus.RunVideoRoom,
		"textroom":  janus.RunTextRoom,
	}
	for _, from := range []string{"http", "ws"} {
		for name, flow := range flows {
			_, evs := taptest.Run(t, tp, from, flow)
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
