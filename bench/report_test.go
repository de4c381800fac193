package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/schema/golden"
)

// testReport is a report with made-up numbers: direct, nginx and janustap
// over both transports.
func testReport() *Report {
	us := time.Microsecond
	row := func(target, tr string, p50, p99 time.Duration) Row {
		r := Row{Target: target, Transport: tr, Requests: 5000, Elapsed: 5 * time.Second,
			RTT:   Summary{N: 5000, P50: p50, P99: p99, P999: 2 * p99, Max: 3 * p99},
			Event: Summary{N: 3000, P50: 2 * p50, P99: 2 * p99}}
		if target != Direct {
			r.HasProc, r.CPU, r.PeakRSS = true, 1500*time.Millisecond, 24<<20
		}
		return r
	}
	rep := &Report{
		Config: Config{Workload: Workload{Clients: 8, Messages: 3, Rate: 1000}, Duration: 6 * time.Second,
			Warmup: time.Second, Rounds: 3, Transports: Transports, Targets: []string{Direct, Nginx, Janustap}},
		Started:    time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC),
		Finished:   time.Date(2026, 11, 24, 15, 1, 30, 0, time.UTC),
		LoadBefore: "0.52 0.61 0.70", LoadAfter: "2.10 1.20 0.85",
		Rows: []Row{
			row(Direct, HTTP, 500*us, 2000*us),
			row(Direct, WS, 300*us, 1000*us),
			row(Nginx, HTTP, 600*us, 2400*us),
			row(Nginx, WS, 350*us, 1500*us),
			row(Janustap, HTTP, 650*us, 2300*us),
			row(Janustap, WS, 420*us, 1400*us),
		},
		Idle: []IdleResult{
			{Target: Direct, Wanted: 2000, Held: 2000, Before: 20 << 20, After: 30 << 20, Processes: 1},
			{Target: Nginx, Wanted: 2000, Held: 1500, Before: 40 << 20, After: 52 << 20, Processes: 3, FirstErr: errors.New("dial: connection refused")},
		},
		Notes: []string{"janustap: serve made no SQLite projection."},
	}
	rep.Rows[4].Rec = &RecorderRow{Events: 15000, PublishLag: Summary{P50: 400 * us, P99: 3 * time.Millisecond}, Projected: -1}
	rep.Rows[5].Rec = &RecorderRow{Events: 12000, PublishLag: Summary{P50: 300 * us, P99: 2 * time.Millisecond}, Projected: 12000,
		ProjectLag: Summary{P50: 8 * time.Millisecond, P99: 40 * time.Millisecond}}
	rep.Rows[2].Errors, rep.Rows[2].FirstErr = 1, "message 2: wait for reply: context deadline exceeded"
	rep.computeAdded()
	return rep
}

func TestReportAddedLatency(t *testing.T) {
	rep := testReport()
	tests := []struct {
		target, transport string
		p50, p99          time.Duration
		has               bool
	}{
		{Direct, HTTP, 0, 0, false},
		{Nginx, HTTP, 100 * time.Microsecond, 400 * time.Microsecond, true},
		{Janustap, HTTP, 150 * time.Microsecond, 300 * time.Microsecond, true},
		{Janustap, WS, 120 * time.Microsecond, 400 * time.Microsecond, true},
	}
	for _, tt := range tests {
		r, _ := rep.row(tt.target, tt.transport)
		if r.HasAdded != tt.has || r.AddedP50 != tt.p50 || r.AddedP99 != tt.p99 {
			t.Errorf("%s %s: added %v/%v (%v), want %v/%v (%v)", tt.target, tt.transport, r.AddedP50, r.AddedP99, r.HasAdded, tt.p50, tt.p99, tt.has)
		}
	}
}

func TestReportRatio(t *testing.T) {
	rep := testReport()
	q := rep.Ratio()
	// http: 150/100 at p50 and 300/400 at p99; ws: 120/50 and 400/500. The
	// worse transport counts.
	if !q.HasP50 || q.P50 != 2.4 || !q.HasP99 || q.P99 != 0.8 {
		t.Errorf("Ratio = %+v, want p50 2.4 (ws) and p99 0.8 (ws)", q)
	}
	if got, want := q.Line(), "ratio-vs-nginx p50=2.40 p99=0.80 dropped=0"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}

	rep.Rows[5].Rec.Dropped, rep.Rows[4].Rec.Dropped = 3, 3 // one process: counted once
	if got := rep.Ratio().Dropped; got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}

	none := &Report{Config: Config{Transports: Transports}, Rows: rep.Rows[:2]}
	if got, want := none.Ratio().Line(), "ratio-vs-nginx p50=n/a p99=n/a dropped=n/a"; got != want {
		t.Errorf("Line() without nginx and janustap = %q, want %q", got, want)
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.txt.golden", b.Bytes())
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "ratio-vs-nginx ") {
		t.Errorf("last line is %q, want the ratio-vs-nginx line", last)
	}
}

func TestReportMarkdown(t *testing.T) {
	var b bytes.Buffer
	m := Machine{CPUs: 2, Model: "AMD EPYC", Memory: "23.5 GiB", Kernel: "6.18.44"}
	if err := testReport().WriteMarkdown(&b, m, "79e9578", "janustap bench --quick"); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.md.golden", b.Bytes())
}

func TestCommandLineIsSaved(t *testing.T) {
	dir := t.TempDir()
	rep := testReport()
	m := Machine{CPUs: 2}
	first, err := SaveMarkdown(rep, dir, m, "79e9578+dirty", "janustap bench")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first, dir+"/2026-11-24-79e9578-dirty.md"; got != want {
		t.Errorf("saved as %s, want %s", got, want)
	}
	second, err := SaveMarkdown(rep, dir, m, "79e9578+dirty", "janustap bench")
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Errorf("a second run on the same day and commit overwrote %s", first)
	}
}
