package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/recorder/webui"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/clienttest"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// TestComparePage captures a videoroom session through a tap, replays it
// on a Janus without the videoroom plugin with the new run recorded as
// replay --record does, and opens the compare page: in Go, then in
// Chromium, where a difference clicked points both ladders at it.
func TestComparePage(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	tp := taptest.New(t, j, "janus")
	s, capture := taptest.Run(t, tp, "http", janus.RunVideoRoom)
	other := janustest.Start(t, janustest.Options{DisablePlugins: []string{"libjanus_videoroom.so"}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex // Emit is called from the replay's clients
	var replayed []*schema.Event
	res, err := replayer.Replay(ctx, capture, replayer.Options{Options: drive.Options{
		Target: drive.Target{HTTP: other.HTTP}, Wait: 2 * time.Second,
		Labels: map[string]string{"replay_of": fmt.Sprintf("session:%d", s.ID)},
		Emit: func(ev *schema.Event) {
			mu.Lock()
			replayed = append(replayed, ev)
			mu.Unlock()
		},
	}})
	if res == nil {
		t.Fatalf("replay: %v", err)
	}
	if res.Same() {
		t.Fatal("a replay without the videoroom plugin matched its capture")
	}
	var replaySession uint64
	for _, ev := range replayed {
		if j := ev.Janus; j != nil && j.Janus == "success" && j.DataID != 0 && j.SessionID == 0 {
			replaySession = j.DataID
			break
		}
	}
	path := projectEvents(t, append(append([]*schema.Event{}, capture...), replayed...))
	db := store.NewDB(path)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uctx, ucancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&webui.Server{DB: db, Compare: compareRuns}).Serve(uctx, ln) }()
	defer func() { ucancel(); <-done }()
	base := "http://" + ln.Addr().String()

	url := fmt.Sprintf("%s/compare/replay/%d", base, replaySession)
	page := waitPage(t, url)
	for _, want := range []string{"runs differ: first divergence at message", fmt.Sprintf("/s/janus/%d?embed=1", s.ID), `class="first"`, "460"} {
		if !strings.Contains(page, want) {
			t.Errorf("compare page lacks %q:\n%s", want, page)
		}
	}
	if page := waitPage(t, fmt.Sprintf("%s/s/replay/%d", base, replaySession)); !strings.Contains(page, "compare with its capture") {
		t.Error("the replay's session page has no link to the compare page")
	}

	clienttest.Require(t)
	shot := filepath.Join(t.ArtifactDir(), "compare.png")
	t.Logf("screenshot %s", shot)
	frameReady := func(id string) string {
		return fmt.Sprintf("(() => { const d = document.getElementById('%s').contentDocument; return !!(d && d.querySelector('#ladder[data-ready]')); })()", id)
	}
	sel := func(id string) string {
		return fmt.Sprintf("(() => { const e = document.getElementById('%s').contentDocument.querySelector('.lrow.sel'); return e ? e.id : ''; })()", id)
	}
	bctx, bcancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer bcancel()
	out, err := clienttest.RunSteps(bctx, 1600, 1000, []clienttest.BrowserStep{
		{Do: "goto", URL: url},
		{Do: "waitFn", JS: frameReady("capture")},
		{Do: "waitFn", JS: frameReady("replay")},
		{Do: "eval", Name: "marked", JS: "document.getElementById('replay').contentDocument.querySelectorAll('.lrow.diff').length"},
		{Do: "click", Selector: "#diffs tbody tr:last-child"},
		{Do: "eval", Name: "want", JS: "(() => { const tr = document.querySelector('#diffs tbody tr:last-child'); return [tr.dataset.a, tr.dataset.b]; })()"},
		// Both ladders start with their first row selected: wait until the
		// click has moved each to the difference's message.
		{Do: "waitFn", JS: "(() => { const tr = document.querySelector('#diffs tbody tr:last-child');" +
			" const at = id => { const e = document.getElementById(id).contentDocument.querySelector('.lrow.sel'); return e ? e.id : ''; };" +
			" return (tr.dataset.b === '0' || at('replay') === 'm' + tr.dataset.b) && (tr.dataset.a === '0' || at('capture') === 'm' + tr.dataset.a); })()"},
		{Do: "eval", Name: "selA", JS: sel("capture")},
		{Do: "eval", Name: "selB", JS: sel("replay")},
		{Do: "screenshot", Path: shot},
	})
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, out.Stderr)
	}
	if len(out.Console) > 0 {
		t.Errorf("console errors: %q", out.Console)
	}
	var want [2]string
	json.Unmarshal(out.Values["want"], &want)
	var selA, selB, marked string
	json.Unmarshal(out.Values["selA"], &selA)
	json.Unmarshal(out.Values["selB"], &selB)
	marked = string(out.Values["marked"])
	if marked == "0" {
		t.Error("no difference marked in the replay's ladder")
	}
	if want[1] != "0" && selB != "m"+want[1] {
		t.Errorf("replay ladder selected %q, want m%s", selB, want[1])
	}
	if want[0] != "0" && selA != "m"+want[0] {
		t.Errorf("capture ladder selected %q, want m%s", selA, want[0])
	}
}
