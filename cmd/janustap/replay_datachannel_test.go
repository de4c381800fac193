package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/janustap/janustap/replayer/janus/janustest"
)

// textroomCapture is a textroom client's capture with Janus's own events
// (replayer's TestReplayTextroomDataChannel writes it): over its data
// channel the client joined room 1234, left it and joined a room it made;
// then it listed that room's participants over the Janus API.
var textroomCapture = filepath.Join("..", "..", "replayer", "testdata", "flows", "textroom_datachannel_ws.jsonl")

// TestReplayDataChannelCommand: `janustap replay` of a capture holding
// Janus's events sends again the textroom requests they show over the
// replay's data channel and says how many; with --media off nothing is
// sent on a data channel and the participants list differs.
func TestReplayDataChannelCommand(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	out := mustRun(t, "replay", "--from-file", textroomCapture, "--target-ws", j.WS, "--target", j.HTTP)
	if !strings.HasPrefix(out, "runs match") {
		t.Fatalf("replay:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  data channel: handle \d+ open; messages sent 3 \(what Janus's events in the capture show the client sent: textroom join, leave\), received \d+;`).MatchString(out) {
		t.Errorf("no data channel line with 3 messages sent:\n%s", out)
	}
	t.Logf("replay:\n%s", out)

	out = mustRun(t, "replay", "--from-file", textroomCapture, "--target-ws", j.WS, "--transport", "http", "--target", j.HTTP, "--json")
	var rep struct {
		Same bool `json:"same"`
		Runs []struct {
			Media []struct {
				DataSent   int      `json:"data_sent"`
				DataErrors []string `json:"data_errors"`
			} `json:"media"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("replay --json: %v\n%s", err, out)
	}
	if !rep.Same || len(rep.Runs) != 1 || len(rep.Runs[0].Media) != 1 || rep.Runs[0].Media[0].DataSent != 3 || len(rep.Runs[0].Media[0].DataErrors) > 0 {
		t.Errorf("replay --json over http: %+v, want the same, one peer that sent 3 messages without error\n%s", rep, out)
	}

	out, _, err := runCmd(t, "replay", "--from-file", textroomCapture, "--target-ws", j.WS, "--media", "off", "--wait", "2s")
	if !errors.Is(err, errDiffers) || !strings.Contains(out, "participants") {
		t.Errorf("replay --media off: err %v, want errDiffers at the participants list\n%s", err, out)
	}
	t.Logf("replay --media off:\n%s", out)
}
