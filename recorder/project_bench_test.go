package recorder_test

import (
	"context"
	"flag"
	"fmt"
	"os"
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
	"github.com/janustap/janustap/schema"
)

var projectorEvents = flag.Int("projector-events", 1_000_000, "events in the stream BenchmarkProjector projects")

// flowEvents returns the 14 events of one REST echotest session with an
// offer and its answer, as the tap records them.
func flowEvents(ids *schema.IDGen, n int, t time.Time) []*schema.Event {
	s, h := uint64(1_000_000_000+n), uint64(2_000_000_000+n)
	conn := "bench-" + strconv.Itoa(n)
	var evs []*schema.Event
	add := func(dir schema.Direction, kind schema.Kind, path, body string) {
		t = t.Add(100 * time.Microsecond)
		ev := &schema.Event{V: schema.Version, ID: ids.New(t), Gateway: "bench", Tap: "bench", Conn: conn, Seq: uint64(len(evs) + 1),
			Time: t, Mono: t.UnixNano(), Transport: schema.HTTP, Direction: dir, Kind: kind, Method: "POST", Path: path, Body: []byte(body), BodySize: len(body)}
		if kind != schema.Request {
			ev.Status = 200
			ev.Parent = evs[len(evs)-1].ID
		}
		ev.Janus, _ = schema.ParseJanus(ev.Body)
		_, ps, ph := schema.ParsePath(path)
		if ev.Janus.SessionID == 0 {
			ev.Janus.SessionID = ps
		}
		if ev.Janus.HandleID == 0 && dir == schema.ToGateway {
			ev.Janus.HandleID = ph
		}
		evs = append(evs, ev)
	}
	sp, hp := fmt.Sprintf("/janus/%d", s), fmt.Sprintf("/janus/%d/%d", s, h)
	tx := func(k string) string { return k + strconv.Itoa(n) }
	add(schema.ToGateway, schema.Request, "/janus", `{"janus":"create","transaction":"`+tx("c")+`"}`)
	add(schema.ToClient, schema.Response, "/janus", fmt.Sprintf(`{"janus":"success","transaction":"%s","data":{"id":%d}}`, tx("c"), s))
	add(schema.ToGateway, schema.Request, sp, `{"janus":"attach","plugin":"janus.plugin.echotest","opaque_id":"bench","transaction":"`+tx("a")+`"}`)
	add(schema.ToClient, schema.Response, sp, fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s","data":{"id":%d}}`, s, tx("a"), h))
	offer, _ := jsonString(janus.OfferSDP)
	add(schema.ToGateway, schema.Request, hp, `{"janus":"message","body":{"audio":true,"video":true},"jsep":{"type":"offer","sdp":`+offer+`},"transaction":"`+tx("m")+`"}`)
	add(schema.ToClient, schema.Response, hp, fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s","hint":"I'm taking my time!"}`, s, tx("m")))
	add(schema.ToClient, schema.PollEvent, sp, fmt.Sprintf(`{"janus":"event","session_id":%d,"transaction":"%s","sender":%d,"plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}},"jsep":{"type":"answer","sdp":%s}}`, s, tx("m"), h, offer))
	add(schema.ToGateway, schema.Request, hp, `{"janus":"trickle","candidate":{"completed":true},"transaction":"`+tx("t")+`"}`)
	add(schema.ToClient, schema.Response, hp, fmt.Sprintf(`{"janus":"ack","session_id":%d,"transaction":"%s"}`, s, tx("t")))
	add(schema.ToGateway, schema.Request, hp, `{"janus":"detach","transaction":"`+tx("d")+`"}`)
	add(schema.ToClient, schema.Response, hp, fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s"}`, s, tx("d")))
	add(schema.ToClient, schema.PollEvent, sp, fmt.Sprintf(`{"janus":"detached","session_id":%d,"sender":%d}`, s, h))
	add(schema.ToGateway, schema.Request, sp, `{"janus":"destroy","transaction":"`+tx("x")+`"}`)
	add(schema.ToClient, schema.Response, sp, fmt.Sprintf(`{"janus":"success","session_id":%d,"transaction":"%s"}`, s, tx("x")))
	return evs
}

func jsonString(s string) (string, error) {
	b := []byte(strconv.Quote(s)) // SDP is ASCII: Go and JSON quoting agree on it
	return string(b), nil
}

// BenchmarkProjector projects a pre-filled stream of -projector-events
// events (REST echotest sessions) into a fresh SQLite file, and inserts the
// same rows with a plain prepared INSERT into another, in the same run; it
// reports both rates and their ratio (goal: the projection at 50 % or more
// of the plain rate, and at least 50 000 events/s).
func BenchmarkProjector(b *testing.B) {
	srv := bustest.Start(b)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		b.Fatal(err)
	}
	var ids schema.IDGen
	start := time.Now()
	var items []store.Item
	for n := 0; len(items) < *projectorEvents; n++ {
		for _, ev := range flowEvents(&ids, n, start.Add(time.Duration(n)*time.Millisecond)) {
			raw, err := schema.Encode(ev)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := js.PublishAsync(ev.Subject(bus.DefaultPrefix), raw, jetstream.WithMsgID(ev.ID)); err != nil {
				b.Fatal(err)
			}
			items = append(items, store.Item{StreamSeq: uint64(len(items) + 1), Event: ev, Raw: raw})
		}
		if n%200 == 199 { // 2800 events: under the client's 4000 pending async publishes
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publishing did not complete")
			}
		}
	}
	<-js.PublishAsyncComplete()
	b.Logf("stream filled with %d events in %s", len(items), time.Since(start).Round(time.Millisecond))

	var projected, plain, projectedCPU, plainCPU time.Duration
	runs := 0
	for b.Loop() {
		runs++
		db := store.NewDB(filepath.Join(b.TempDir(), "projected.db"))
		if err := db.Open(ctx); err != nil {
			b.Fatal(err)
		}
		p := &recorder.Projector{JS: js, DB: db, UntilCaughtUp: true}
		t0, c0 := time.Now(), processCPU()
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
		projected += time.Since(t0)
		projectedCPU += processCPU() - c0
		if got := p.Applied(); got != uint64(len(items)) {
			b.Fatalf("projected %d events, the stream has %d", got, len(items))
		}
		db.Close()

		raw := store.NewDB(filepath.Join(b.TempDir(), "plain.db"))
		if err := raw.Open(ctx); err != nil {
			b.Fatal(err)
		}
		t0, c0 = time.Now(), processCPU()
		for i := 0; i < len(items); i += 1000 {
			if err := raw.InsertPlain(ctx, items[i:min(i+1000, len(items))]); err != nil {
				b.Fatal(err)
			}
		}
		plain += time.Since(t0)
		plainCPU += processCPU() - c0
		raw.Close()
	}
	pr := float64(len(items)*runs) / projected.Seconds()
	rr := float64(len(items)*runs) / plain.Seconds()
	b.ReportMetric(pr, "projected-events/s")
	b.ReportMetric(rr, "plain-insert-events/s")
	b.ReportMetric(pr/rr, "ratio")
	if projectedCPU > 0 {
		// CPU time of the whole process, the NATS server's included: on a
		// machine shared with other work it varies less than the rates.
		n := float64(len(items) * runs)
		b.ReportMetric(float64(projectedCPU.Microseconds())/n, "projected-cpu-µs/event")
		b.ReportMetric(float64(plainCPU.Microseconds())/n, "plain-cpu-µs/event")
	}
}

// processCPU returns the CPU time (user and system) the process has used,
// read from /proc/self/stat; 0 where there is no such file.
func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15,
	// in clock ticks of 1/100 s (USER_HZ).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
