package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// traffic makes the events of many clients at once, interleaved as a tap
// sees them: each client runs a script (a whole session) in a coroutine and
// traffic takes one event from each live client in turn, starting a new
// client whenever one ends.
type traffic struct {
	clock   *clock
	gw      string
	scripts []func(*flow)
	live    []func() (*schema.Event, bool)
	stops   []func()
	started int
	seq     uint64
}

// errStopped ends a script whose coroutine was stopped.
var errStopped = errors.New("traffic stopped")

func newTraffic(concurrent int) *traffic {
	g := &traffic{clock: &clock{now: t0, step: 20 * time.Microsecond, seqs: map[string]uint64{}}, gw: "gw1",
		scripts: []func(*flow){videoroomWS, echoHTTP, videoroomWS, textroomWS}}
	for range concurrent {
		g.start()
	}
	return g
}

func (g *traffic) start() {
	script := g.scripts[g.started%len(g.scripts)]
	g.started++
	next, stop := iter.Pull(func(yield func(*schema.Event) bool) {
		defer func() {
			if r := recover(); r != nil && r != errStopped {
				panic(r)
			}
		}()
		f := &flow{gw: g.gw, tap: "tap1", clock: g.clock, emit: func(ev *schema.Event) {
			if !yield(ev) {
				panic(errStopped)
			}
		}}
		script(f)
	})
	g.live = append(g.live, next)
	g.stops = append(g.stops, stop)
}

// next returns the next n items of the stream.
func (g *traffic) next(n int) []Item {
	evs := make([]*schema.Event, 0, n)
	for i := 0; len(evs) < n; i = (i + 1) % len(g.live) {
		ev, ok := g.live[i]()
		if !ok {
			g.stops[i]()
			g.live = append(g.live[:i], g.live[i+1:]...)
			g.stops = append(g.stops[:i], g.stops[i+1:]...)
			g.start()
			i = len(g.live) - 1 // go on with the next client
			continue
		}
		evs = append(evs, ev)
	}
	out := items(g.seq+1, evs)
	g.seq += uint64(n)
	return out
}

func (g *traffic) stop() {
	for _, stop := range g.stops {
		stop()
	}
}

// videoroomWS publishes in a videoroom over WebSocket, as janus.js does.
func videoroomWS(f *flow) {
	c := f.wsClient(schema.WS)
	s, h := f.newID(), f.newID()
	c.open()
	tx := f.newTx()
	c.send(createReq(tx))
	c.recv(successID(tx, 0, s))
	tx = f.newTx()
	c.send(attachReq(tx, videoroom, "videoroomtest-"+tx, s))
	c.recv(successID(tx, s, h))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"join","room":1234,"ptype":"publisher","display":"me"}`, "", s, h))
	c.recv(pluginEvent(tx, s, h, videoroom, `{"videoroom":"joined","room":1234,"description":"Demo Room","id":6713301572521604,"private_id":3060372547,"publishers":[]}`, ""))
	c.recv(ack(tx, s))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"configure","audio":true,"video":true}`, "offer", s, h))
	c.recv(ack(tx, s))
	for i := range 4 {
		t := f.newTx()
		c.send(fmt.Sprintf(`{"janus":"trickle","candidate":{"candidate":"candidate:%d 1 udp 2122260223 192.0.2.1 5%04d typ host","sdpMid":"0","sdpMLineIndex":0},"transaction":"%s"%s}`, i, i, t, ids(s, h)))
		c.recv(ack(t, s))
	}
	c.recv(pluginEvent(tx, s, h, videoroom, `{"videoroom":"event","room":1234,"configured":"ok","audio_codec":"opus","video_codec":"vp8"}`, "answer"))
	c.recv(handleEvent("webrtcup", s, h, ""))
	c.recv(handleEvent("media", s, h, `,"mid":"0","type":"audio","receiving":true`))
	c.recv(handleEvent("media", s, h, `,"mid":"1","type":"video","receiving":true`))
	for range 5 {
		t := f.newTx()
		c.send(`{"janus":"keepalive","transaction":"` + t + `"` + ids(s, 0) + `}`)
		c.recv(ack(t, s))
	}
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"unpublish"}`, "", s, h))
	c.recv(ack(tx, s))
	c.recv(pluginEvent(tx, s, h, videoroom, `{"videoroom":"event","room":1234,"unpublished":"ok"}`, ""))
	c.recv(handleEvent("hangup", s, h, `,"reason":"Close PC"`))
	tx = f.newTx()
	c.send(`{"janus":"detach","transaction":"` + tx + `"` + ids(s, h) + `}`)
	c.recv(success(tx, s))
	c.recv(handleEvent("detached", s, h, ""))
	tx = f.newTx()
	c.send(`{"janus":"destroy","transaction":"` + tx + `"` + ids(s, 0) + `}`)
	c.recv(success(tx, s))
	c.close(schema.ToGateway, 1000)
	c.close(schema.ToClient, 1000)
}

// textroomWS joins a textroom, whose setup the server offers, and leaves by
// closing the WebSocket.
func textroomWS(f *flow) {
	c := f.wsClient(schema.WS)
	s, h := f.newID(), f.newID()
	c.open()
	tx := f.newTx()
	c.send(createReq(tx))
	c.recv(successID(tx, 0, s))
	tx = f.newTx()
	c.send(attachReq(tx, textroom, "textroomtest-"+tx, s))
	c.recv(successID(tx, s, h))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"setup"}`, "", s, h))
	c.recv(ack(tx, s))
	c.recv(pluginEvent(tx, s, h, textroom, `{"textroom":"event","result":"ok"}`, "offer"))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"ack"}`, "answer", s, h))
	c.recv(ack(tx, s))
	c.recv(pluginEvent(tx, s, h, textroom, `{"textroom":"event","result":"ok"}`, ""))
	c.recv(handleEvent("webrtcup", s, h, ""))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"list"}`, "", s, h))
	c.recv(pluginSuccess(tx, s, h, textroom, `{"textroom":"success","list":[{"room":1234,"description":"Demo Room","pin_required":false,"num_participants":3}]}`))
	tx = f.newTx()
	c.send(messageReq(tx, `{"request":"nonsense"}`, "", s, h))
	c.recv(pluginSuccess(tx, s, h, textroom, `{"textroom":"error","error_code":415,"error":"Unknown request 'nonsense'"}`))
	for range 3 {
		t := f.newTx()
		c.send(`{"janus":"keepalive","transaction":"` + t + `"` + ids(s, 0) + `}`)
		c.recv(ack(t, s))
	}
	c.close(schema.ToGateway, 1001)
	c.close(schema.ToClient, 1001)
}

// echoHTTP runs the echotest over REST and long polls, as janus.js does.
func echoHTTP(f *flow) {
	a := f.httpClient(schema.HTTP)
	s, h := f.newID(), f.newID()
	tx := f.newTx()
	req := a.post("/janus", createReq(tx))
	a.respond(req, 200, successID(tx, 0, s))
	poll := a.get(s)
	tx = f.newTx()
	req = a.post(fmt.Sprintf("/janus/%d", s), attachReq(tx, echotest, "echotest-"+tx, 0))
	a.respond(req, 200, successID(tx, s, h))
	hpath := fmt.Sprintf("/janus/%d/%d", s, h)
	tx = f.newTx()
	req = a.post(hpath, messageReq(tx, `{"audio":true,"video":true}`, "offer", 0, 0))
	a.respond(req, 200, `{"janus":"ack","session_id":`+fmt.Sprint(s)+`,"transaction":"`+tx+`","hint":"I'm taking my time!"}`)
	a.deliver(poll, pluginEvent(tx, s, h, echotest, `{"echotest":"event","result":"ok"}`, "answer"))
	poll = a.get(s)
	for range 3 {
		t := f.newTx()
		req = a.post(hpath, `{"janus":"trickle","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0},"transaction":"`+t+`"}`)
		a.respond(req, 200, ack(t, s))
	}
	a.deliver(poll,
		handleEvent("webrtcup", s, h, ""),
		handleEvent("media", s, h, `,"mid":"0","type":"audio","receiving":true`),
		handleEvent("media", s, h, `,"mid":"1","type":"video","receiving":true`))
	for range 3 {
		poll = a.get(s)
		a.deliver(poll, `{"janus":"keepalive"}`)
	}
	poll = a.get(s)
	tx = f.newTx()
	req = a.post(hpath, `{"janus":"hangup","transaction":"`+tx+`"}`)
	a.respond(req, 200, success(tx, s))
	a.deliver(poll,
		pluginEvent("", s, h, echotest, `{"echotest":"event","result":"done"}`, ""),
		handleEvent("hangup", s, h, `,"reason":"Janus API"`))
	poll = a.get(s)
	tx = f.newTx()
	req = a.post(hpath, `{"janus":"detach","transaction":"`+tx+`"}`)
	a.respond(req, 200, success(tx, s))
	a.deliver(poll, handleEvent("detached", s, h, ""))
	tx = f.newTx()
	req = a.post(fmt.Sprintf("/janus/%d", s), `{"janus":"destroy","transaction":"`+tx+`"}`)
	a.respond(req, 200, success(tx, s))
}

// TestTraffic applies interleaved traffic of many clients, in batches of
// two sizes, and checks the two projections agree with each other and with
// the events.
func TestTraffic(t *testing.T) {
	ctx := t.Context()
	g := newTraffic(20)
	defer g.stop()
	all := g.next(3000)
	a, b := openDB(t), openDB(t)
	for start := 0; start < len(all); start += 1000 {
		apply(t, a, all[start:start+1000])
	}
	for start := 0; start < len(all); start += 77 {
		apply(t, b, all[start:min(start+77, len(all))])
	}
	if err := Equal(ctx, a, b); err != nil {
		t.Error(err)
	}
	checkCounts(t, a)
	var unlinked int
	if err := a.r.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE janus IS NOT NULL AND janus NOT IN "+
		"('webrtcup', 'media', 'hangup', 'detached', 'keepalive') AND tx IS NOT NULL AND request_seq IS NULL").Scan(&unlinked); err != nil {
		t.Fatal(err)
	}
	if unlinked != 0 {
		t.Errorf("%d messages with a transaction are linked to no request", unlinked)
	}
	c, err := a.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != 3000 || c.Sessions < 60 || c.Handles != c.Sessions || c.Transactions < 1000 {
		t.Errorf("counts %+v", c)
	}
	open, err := a.Sessions(ctx, SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	for _, s := range open {
		if s.Ended != "" {
			ended++
		}
	}
	if ended < len(open)-20 {
		t.Errorf("%d of %d sessions ended; at most 20 clients are running", ended, len(open))
	}
}

const benchBatch = 1000

// BenchmarkApply applies realistic traffic (50 clients at once, over HTTP
// and WebSocket) to a growing database, in batches of 1000 events (a
// projector catching up) and of 60 (one keeping up with 3000 events/s: it
// applies what came in 20 ms).
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{benchBatch, 60} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			db := openDB(b)
			g := newTraffic(50)
			defer g.stop()
			apply(b, db, g.next(benchBatch)) // warm up: schema in the cache
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				batch := g.next(size)
				b.StartTimer()
				c := cpuTime()
				if err := db.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c
			}
			reportRate(b, size, cpu)
		})
	}
}

// reportRate reports events per second of wall time, and the CPU time per
// event, which other processes on the machine disturb less.
func reportRate(b *testing.B, batch int, cpu time.Duration) {
	events := float64(b.N * batch)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/events, "cpu-µs/event")
}

// BenchmarkRawInsert inserts the same events into the events table with a
// prepared INSERT, a batch per transaction and no correlation: the floor
// Apply is measured against. "sql" is a plain database/sql statement;
// "driver" runs the statement as Apply does, on the driver connection.
func BenchmarkRawInsert(b *testing.B) {
	b.Run("sql", func(b *testing.B) {
		benchRawInsert(b, func(ctx context.Context, db *DB, batch []Item) error {
			tx, err := db.w.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			st, err := tx.PrepareContext(ctx, insertEventSQL)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, it := range batch {
				if _, err := st.ExecContext(ctx, rawArgs(it)...); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
	})
	b.Run("driver", func(b *testing.B) {
		benchRawInsert(b, func(ctx context.Context, db *DB, batch []Item) error {
			conn, err := db.w.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			return conn.Raw(func(dc any) error {
				tx, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
				if err != nil {
					return err
				}
				st, err := prepareRaw(ctx, dc.(driver.Conn), insertEventSQL)
				if err != nil {
					tx.Rollback()
					return err
				}
				defer st.close()
				for _, it := range batch {
					if err := st.exec(ctx, rawArgs(it)...); err != nil {
						tx.Rollback()
						return err
					}
				}
				return tx.Commit()
			})
		})
	})
}

func benchRawInsert(b *testing.B, insert func(context.Context, *DB, []Item) error) {
	ctx := context.Background()
	db := openDB(b)
	g := newTraffic(50)
	defer g.stop()
	if err := insert(ctx, db, g.next(benchBatch)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		batch := g.next(benchBatch)
		b.StartTimer()
		c := cpuTime()
		if err := insert(ctx, db, batch); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
	}
	reportRate(b, benchBatch, cpu)
}

// BenchmarkPrepare prepares items that hold no row yet, as the projector's
// reader does for each event it reads into a new chunk.
func BenchmarkPrepare(b *testing.B) {
	g := newTraffic(50)
	defer g.stop()
	items := g.next(benchBatch)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		it := Item{StreamSeq: items[i].StreamSeq, Event: items[i].Event, Raw: items[i].Raw}
		it.Prepare()
		i = (i + 1) % len(items)
	}
}
