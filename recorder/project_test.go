package recorder_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
	"github.com/janustap/janustap/recorder/store"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/schema"
)

// logOf connects to the embedded NATS of a running serve.
func logOf(t *testing.T, s *served) jetstream.JetStream {
	t.Helper()
	url, err := os.ReadFile(filepath.Join(s.dir, recorder.URLFile))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, err := bus.LoadCredentials(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(t.Context(), strings.TrimSpace(string(url)), bus.ConnectOptions{User: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func streamCount(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	st, err := js.Stream(ctx, bus.DefaultStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db := store.NewDB(path)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRecorderBesideServe drives real flows through serve and checks what
// the recorder it runs made of them: sessions, handles, plugins, every
// transaction with its reply, latencies; then that a database rebuilt from
// the log is the same, row by row.
func TestRecorderBesideServe(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	s := serve(t, j, "")
	sessions := runFlows(t, s.http(), s.ws())
	js := logOf(t, s)
	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	check := func() error {
		n, err := streamCount(t.Context(), js)
		if err != nil {
			return err
		}
		c, err := db.Count(t.Context())
		if err != nil {
			return err
		}
		if uint64(c.Events) != n || n == 0 {
			return fmt.Errorf("database has %d events, stream %d", c.Events, n)
		}
		for _, sess := range sessions {
			d, err := db.Session(t.Context(), "gw1", sess.ID)
			if err != nil {
				return err
			}
			if d.Ended != store.EndDestroyed || d.CreatedAt.IsZero() {
				return fmt.Errorf("session %d: ended %q created %v, want destroyed after a create", sess.ID, d.Ended, d.CreatedAt)
			}
			if len(d.Handles) != 1 || d.Handles[0].Plugin != janus.EchoTest || d.Handles[0].DetachedAt.IsZero() || !strings.HasPrefix(d.Handles[0].OpaqueID, "echotest-") {
				return fmt.Errorf("session %d handles: %+v", sess.ID, d.Handles)
			}
			// Every request the client sent is a transaction with its reply.
			if got, want := len(d.Transactions), len(sess.T.Exchanges); got != want {
				return fmt.Errorf("session %d: %d transactions, the client made %d requests", sess.ID, got, want)
			}
			for _, tx := range d.Transactions {
				if tx.Reply == "" || tx.ReplyLatency <= 0 {
					return fmt.Errorf("session %d: transaction %s (%s) has reply %q latency %v", sess.ID, tx.Transaction, tx.Janus, tx.Reply, tx.ReplyLatency)
				}
			}
		}
		return nil
	}
	janustest.WaitFor(t, 20*time.Second, check)

	// Rebuild from the log into a fresh file: the same rows.
	rebuilt := openDB(t, filepath.Join(t.TempDir(), "rebuilt.db"))
	p := &recorder.Projector{JS: js, DB: rebuilt, UntilCaughtUp: true, Batch: 7}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := store.Equal(t.Context(), db, rebuilt); err != nil {
		t.Fatalf("rebuilt database differs from the live one: %v", err)
	}
}

// TestRecorderKilled kills a recorder process (SIGKILL, no clean stop) while
// it projects, restarts it, and checks every event is in the database once.
func TestRecorderKilled(t *testing.T) {
	if os.Getenv("JANUSTAP_RECORDER_CHILD") != "" {
		t.Skip("child")
	}
	j := janustest.Start(t, janustest.Options{})
	s := serve(t, j, "")
	for range 3 {
		runFlows(t, s.http(), s.ws())
	}
	js := logOf(t, s)
	var total uint64
	janustest.WaitFor(t, 20*time.Second, func() (err error) {
		total, err = streamCount(t.Context(), js)
		if err == nil && total < 100 {
			err = fmt.Errorf("stream has %d events", total)
		}
		return err
	})
	dbPath := filepath.Join(t.TempDir(), "killed.db")
	// The child applies one event per batch and says so, so that the kill
	// falls in the middle of the stream.
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderChild$", "-test.v")
	cmd.Env = append(os.Environ(), "JANUSTAP_RECORDER_CHILD="+s.dir, "JANUSTAP_RECORDER_DB="+dbPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	applied := 0
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "applied "); ok {
			applied, _ = strconv.Atoi(n)
			if applied >= int(total)/3 {
				break
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if applied == 0 || uint64(applied) >= total {
		t.Fatalf("the child applied %d of %d events before the kill; want some, not all", applied, total)
	}
	db := openDB(t, dbPath)
	janustest.WaitFor(t, 20*time.Second, func() error {
		// Catch up (again, if the tap published more meanwhile).
		p := &recorder.Projector{JS: js, DB: db, UntilCaughtUp: true}
		if err := p.Run(t.Context()); err != nil {
			return err
		}
		c, err := db.Count(t.Context())
		if err != nil {
			return err
		}
		last, _ := db.LastSeq(t.Context())
		total, err := streamCount(t.Context(), js)
		if err != nil {
			return err
		}
		if uint64(c.Events) != total || last != total {
			return fmt.Errorf("after the kill and a restart: %d events in the database, last seq %d; the stream has %d", c.Events, last, total)
		}
		return nil
	})
	prog, err := db.Progress(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if prog.Duplicates != 0 {
		t.Fatalf("%d events applied twice", prog.Duplicates)
	}
}

// TestRecorderChild is the recorder process TestRecorderKilled kills.
func TestRecorderChild(t *testing.T) {
	dir := os.Getenv("JANUSTAP_RECORDER_CHILD")
	if dir == "" {
		t.Skip("run by TestRecorderKilled")
	}
	url, _ := os.ReadFile(filepath.Join(dir, recorder.URLFile))
	user, pass, _ := bus.LoadCredentials(dir)
	nc, err := bus.Connect(context.Background(), strings.TrimSpace(string(url)), bus.ConnectOptions{User: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	db := store.NewDB(os.Getenv("JANUSTAP_RECORDER_DB"))
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	applied := 0
	p := &recorder.Projector{JS: js, DB: db, Batch: 1, Progress: func(n int) {
		applied += n
		fmt.Printf("applied %d\n", applied)
	}}
	p.Run(context.Background()) // until killed
}

// TestRecorderPlugins drives videoroom over WebSocket and textroom over REST
// through serve, with an admin API call naming the session, and checks the
// recorder's handles, plugin requests and the admin request's link.
func TestRecorderPlugins(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	s := serve(t, j, "")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	ws, err := janus.DialWS(ctx, s.ws(), janus.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	vr := &janus.Session{C: ws, WS: true}
	if err := vr.Create(ctx); err != nil {
		t.Fatal(err)
	}
	// An admin request naming the live session, before the flow ends it.
	admin := janus.NewHTTP("http://" + s.addr + "/admin")
	defer admin.Close()
	body := fmt.Sprintf(`{"janus":"list_handles","session_id":%d,"admin_secret":%q,"transaction":"adm"}`, vr.ID, j.AdminSecret)
	if r, err := admin.Do(ctx, []byte(body), 0, 0); err != nil || !strings.Contains(string(r.Body), `"success"`) {
		t.Fatalf("admin list_handles: %v %s", err, r.Body)
	}
	if err := janus.RunVideoRoom(ctx, vr); err != nil {
		t.Fatal(err)
	}
	if err := vr.Destroy(ctx); err != nil {
		t.Fatal(err)
	}

	hc := janus.NewHTTP(s.http())
	defer hc.Close()
	tr := &janus.Session{C: hc}
	if err := tr.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := janus.RunTextRoom(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Destroy(ctx); err != nil {
		t.Fatal(err)
	}

	db := openDB(t, filepath.Join(s.dir, recorder.DBFile))
	want := map[uint64]string{vr.ID: janus.VideoRoom, tr.ID: janus.TextRoom}
	janustest.WaitFor(t, 20*time.Second, func() error {
		for id, plugin := range want {
			d, err := db.Session(t.Context(), "gw1", id)
			if err != nil {
				return err
			}
			if d.Ended != store.EndDestroyed {
				return fmt.Errorf("session %d not destroyed yet (%q)", id, d.Ended)
			}
			if len(d.Handles) != 1 || d.Handles[0].Plugin != plugin || d.Handles[0].DetachedAt.IsZero() {
				return fmt.Errorf("session %d handles %+v, want one detached %s handle", id, d.Handles, plugin)
			}
			reqs := map[string]bool{}
			for _, tx := range d.Transactions {
				if tx.Reply == "" {
					return fmt.Errorf("session %d: %s %s has no reply", id, tx.Janus, tx.PluginRequest)
				}
				reqs[tx.PluginRequest] = true
			}
			for _, r := range []string{"create", "destroy"} {
				if !reqs[r] {
					return fmt.Errorf("session %d: no %s plugin request among %v", id, r, reqs)
				}
			}
		}
		return nil
	})
	// The admin request is stored and linked to the session it names.
	n := 0
	for raw, err := range db.Events(t.Context(), store.EventFilter{Gateway: "gw1", SessionID: vr.ID, Transport: "admin-http"}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(string(raw.Raw), j.AdminSecret) {
			t.Errorf("the admin secret is in the database: %s", raw.Raw)
		}
	}
	if n < 1 {
		t.Errorf("no admin event linked to session %d", vr.ID)
	}
}

// TestProjectorChunks projects a stream of several thousand events, which
// the projector's reader hands over in chunks it reuses, in batches of
// several sizes and up to a bound in the middle of a chunk, and checks the
// rows against the same events applied directly.
func TestProjectorChunks(t *testing.T) {
	srv := bustest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	var ids schema.IDGen
	start := time.Now()
	var items []store.Item
	for n := 0; n < 300; n++ {
		for _, ev := range flowEvents(&ids, n, start.Add(time.Duration(n)*time.Millisecond)) {
			raw, err := schema.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(ctx, ev.Subject(bus.DefaultPrefix), raw); err != nil {
				t.Fatal(err)
			}
			items = append(items, store.Item{StreamSeq: uint64(len(items) + 1), Event: ev, Raw: raw})
		}
	}
	const to = 3001 // inside a chunk of 256
	direct := openDB(t, filepath.Join(t.TempDir(), "direct.db"))
	if err := direct.Apply(ctx, items[:to]); err != nil {
		t.Fatal(err)
	}
	directAll := openDB(t, filepath.Join(t.TempDir(), "all.db"))
	if err := directAll.Apply(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		batch     int
		to        uint64
		want      *store.DB
		wantCount uint64
	}{
		{"batch1000", 0, 0, directAll, uint64(len(items))},
		{"batch100", 100, 0, directAll, uint64(len(items))},
		{"batch300to", 300, to, direct, to},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "projected.db"))
			p := &recorder.Projector{JS: js, DB: db, UntilCaughtUp: true, Batch: tc.batch, To: tc.to}
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if got := p.Applied(); got != tc.wantCount {
				t.Errorf("applied %d events, want %d", got, tc.wantCount)
			}
			if err := store.Equal(ctx, tc.want, db); err != nil {
				t.Error(err)
			}
		})
	}
}
