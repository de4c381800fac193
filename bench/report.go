package bench

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is what the workload measured against one target over one
// transport, all rounds together.
type Row struct {
	Target, Transport string
	Requests          int           // API requests answered as expected
	Errors            int           // requests and events that failed
	FirstErr          string        // the first failure, if any
	Elapsed           time.Duration // load time, all rounds together
	RTT               Summary       // request → reply
	Event             Summary       // message request → its event
	// Added is RTT minus direct's RTT over the same transport; HasAdded
	// is false for direct itself or when direct was not run.
	AddedP50, AddedP99 time.Duration
	HasAdded           bool
	// CPU is the proxy's CPU time during the rounds (including the time
	// janustap's recorder took to catch up after each); PeakRSS its peak
	// resident set, bytes. HasProc is false for direct.
	CPU     time.Duration
	PeakRSS int64
	HasProc bool
	// Rec is set for the janustap targets.
	Rec *RecorderRow

	lat, ev Latencies
}

// RecorderRow is what janustap recorded of one transport's traffic.
type RecorderRow struct {
	Events     int     // events of this transport in the stream
	PublishLag Summary // from the tap's clock to JetStream's store time
	// Projected is the number of this transport's events seen reaching
	// SQLite while the bench watched; -1 when serve keeps no projection.
	Projected  int
	ProjectLag Summary // from the tap's clock to the committed row
	// Dropped is the events the janustap process lost, both transports
	// together (see Report.Notes for how it is counted).
	Dropped int
}

// add merges the result of one round into r.
func (r *Row) add(res *loadResult) {
	r.Requests += res.Requests
	r.Errors += res.Errors
	if r.FirstErr == "" && res.FirstErr != nil {
		r.FirstErr = res.FirstErr.Error()
	}
	r.Elapsed += res.Elapsed
	r.lat = append(r.lat, res.Latencies...)
	r.ev = append(r.ev, res.EventLat...)
	r.RTT = r.lat.Summarize()
	r.Event = r.ev.Summarize()
}

// ReqPerSec returns the rate of API requests.
func (r Row) ReqPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Report is the result of a bench run.
type Report struct {
	Config            Config
	Started, Finished time.Time
	// LoadBefore and LoadAfter are the machine's load averages (1, 5 and
	// 15 minutes, from /proc/loadavg) when the run started and ended: a
	// machine busy with other work makes every number worse.
	LoadBefore, LoadAfter string
	Rows                  []Row        // by target, then transport
	Idle                  []IdleResult // memory per idle WebSocket client
	Notes                 []string     // what the numbers need to be read right
	// Parts is serve's CPU by part, per "<target>-<transport>", when the
	// run took profiles (Config.ProfileDir).
	Parts map[string][]PartCPU
}

// computeAdded fills the added latencies from the direct rows.
func (rep *Report) computeAdded() {
	direct := map[string]Row{}
	for _, r := range rep.Rows {
		if r.Target == Direct {
			direct[r.Transport] = r
		}
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		d, ok := direct[r.Transport]
		if !ok || r.Target == Direct || d.RTT.N == 0 || r.RTT.N == 0 {
			continue
		}
		r.AddedP50, r.AddedP99, r.HasAdded = r.RTT.P50-d.RTT.P50, r.RTT.P99-d.RTT.P99, true
	}
}

func (rep *Report) row(target, transport string) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Target == target && r.Transport == transport {
			return r, true
		}
	}
	return Row{}, false
}

// Ratio is janustap's added latency divided by nginx's, the worst over the
// transports run.
type Ratio struct {
	P50, P99       float64
	HasP50, HasP99 bool
	Dropped        int  // events dropped by every janustap target together
	HasDropped     bool // a janustap target was run
}

// Ratio compares janustap (embedded NATS) with nginx.
func (rep *Report) Ratio() Ratio {
	var q Ratio
	for _, tr := range rep.Config.Transports {
		j, ok1 := rep.row(Janustap, tr)
		n, ok2 := rep.row(Nginx, tr)
		if !ok1 || !ok2 || !j.HasAdded || !n.HasAdded {
			continue
		}
		if v, ok := ratio(j.AddedP50, n.AddedP50); ok && (!q.HasP50 || v > q.P50) {
			q.P50, q.HasP50 = v, true
		}
		if v, ok := ratio(j.AddedP99, n.AddedP99); ok && (!q.HasP99 || v > q.P99) {
			q.P99, q.HasP99 = v, true
		}
	}
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		if r.Rec != nil && !seen[r.Target] {
			seen[r.Target] = true
			q.Dropped += r.Rec.Dropped
			q.HasDropped = true
		}
	}
	return q
}

// Line returns the line a script reads:
// ratio-vs-nginx p50=<x> p99=<y> dropped=<n>.
func (q Ratio) Line() string {
	f := func(v float64, ok bool) string {
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", v)
	}
	d := "n/a"
	if q.HasDropped {
		d = fmt.Sprint(q.Dropped)
	}
	return fmt.Sprintf("ratio-vs-nginx p50=%s p99=%s dropped=%s", f(q.P50, q.HasP50), f(q.P99, q.HasP99), d)
}

// columns are the main table's header.
var columns = []string{"target", "transport", "req/s", "p50", "p99", "p99.9", "added p50", "added p99",
	"CPU s", "peak RSS MiB", "published ev/s", "projected ev/s", "lag p50", "lag p99", "dropped", "errors"}

// cells returns the main table's cells of r.
func (r Row) cells() []string {
	na := "-"
	c := []string{r.Target, r.Transport, fmt.Sprintf("%.0f", r.ReqPerSec()),
		fmtDur(r.RTT.P50), fmtDur(r.RTT.P99), fmtDur(r.RTT.P999)}
	if r.HasAdded {
		c = append(c, fmtSigned(r.AddedP50), fmtSigned(r.AddedP99))
	} else {
		c = append(c, na, na)
	}
	if r.HasProc {
		c = append(c, fmt.Sprintf("%.2f", r.CPU.Seconds()), fmt.Sprintf("%.1f", float64(r.PeakRSS)/(1<<20)))
	} else {
		c = append(c, na, na)
	}
	if rec := r.Rec; rec != nil {
		c = append(c, fmt.Sprintf("%.0f", perSec(rec.Events, r.Elapsed)))
		if rec.Projected >= 0 {
			c = append(c, fmt.Sprintf("%.0f", perSec(rec.Projected, r.Elapsed)), fmtDur(rec.ProjectLag.P50), fmtDur(rec.ProjectLag.P99))
		} else {
			c = append(c, "n/a", "n/a", "n/a")
		}
		c = append(c, fmt.Sprint(rec.Dropped))
	} else {
		c = append(c, na, na, na, na, na)
	}
	return append(c, fmt.Sprint(r.Errors))
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// fmtDur prints a latency in µs below 1 ms and in ms above.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch a := max(d, -d); {
	case d == 0:
		return "-"
	case a < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case a < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", ms)
	default:
		return fmt.Sprintf("%.1fms", ms)
	}
}

// fmtSigned prints an added latency with its sign.
func fmtSigned(d time.Duration) string {
	switch {
	case d == 0:
		return "0µs"
	case d > 0:
		return "+" + fmtDur(d)
	default:
		return fmtDur(d)
	}
}

// detailColumns are the second table's header.
var detailColumns = []string{"target", "transport", "requests", "event p50", "event p99", "events", "publish lag p50", "publish lag p99", "first error"}

func (r Row) detailCells() []string {
	c := []string{r.Target, r.Transport, fmt.Sprint(r.Requests), fmtDur(r.Event.P50), fmtDur(r.Event.P99)}
	if r.Rec != nil {
		c = append(c, fmt.Sprint(r.Rec.Events), fmtDur(r.Rec.PublishLag.P50), fmtDur(r.Rec.PublishLag.P99))
	} else {
		c = append(c, "-", "-", "-")
	}
	e := r.FirstErr
	if e == "" {
		e = "-"
	}
	if len(e) > 80 {
		e = e[:80] + "…"
	}
	return append(c, e)
}

var idleColumns = []string{"target", "clients held", "RSS before MiB", "RSS after MiB", "KiB per client", "note"}

func (r IdleResult) cells() []string {
	per := "n/a"
	if v, ok := r.PerClient(); ok {
		per = fmt.Sprintf("%.1f", v/1024)
	}
	note := ""
	if r.Held < r.Wanted {
		note = fmt.Sprintf("held %d of %d", r.Held, r.Wanted)
		if r.FirstErr != nil {
			note += ": " + r.FirstErr.Error()
		}
	}
	if r.Processes > 1 {
		note = strings.TrimPrefix(note+fmt.Sprintf("; %d processes summed", r.Processes), "; ")
	}
	if r.Target == Direct {
		note = strings.TrimPrefix(note+"; Janus itself", "; ")
	}
	return []string{r.Target, fmt.Sprint(r.Held), fmt.Sprintf("%.1f", float64(r.Before)/(1<<20)),
		fmt.Sprintf("%.1f", float64(r.After)/(1<<20)), per, note}
}

// WriteText prints the report as aligned tables, then the ratios and
// notes, and ends with the line of Ratio.Line.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table := func(header []string, rows [][]string) {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s\n\n", rep.describe())
	main, detail := rep.rowCells()
	table(columns, main)
	table(detailColumns, detail)
	if len(rep.Idle) > 0 {
		table(idleColumns, rep.idleCells())
	}
	if rows := rep.partRows(); len(rows) > 0 {
		table(partColumns, rows)
	}
	for _, l := range rep.ratioLines() {
		fmt.Fprintln(w, l)
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range rep.Notes {
			fmt.Fprintln(w, "note:", n)
		}
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintln(w, rep.Ratio().Line())
	return err
}

// describe says in one paragraph what was run.
func (rep *Report) describe() string {
	c := rep.Config
	rate := "closed loop (each client sends its next request as soon as it has its answer)"
	if c.Rate > 0 {
		rate = fmt.Sprintf("paced at %.0f API requests/s in all", c.Rate)
	}
	return fmt.Sprintf("workload: %d clients, each repeating create → attach echotest → %d messages (ack, then event) → detach (detached event) → destroy; %s;\n"+
		"%v per target and transport in %d round-robin rounds of %v (targets rotated each round, the recorder left to catch up after each janustap slice), after %v of warm-up.\n"+
		"latency: request → reply as the client sees it (the ack for a message); added = target − direct at the same percentile; req/s counts API requests, not long-polls.\n"+
		"machine load average (1, 5, 15 min): %s at the start, %s at the end.",
		c.Clients, c.Messages, rate, c.Duration, c.Rounds, c.Duration/time.Duration(max(c.Rounds, 1)), c.Warmup,
		cmp.Or(rep.LoadBefore, "unknown"), cmp.Or(rep.LoadAfter, "unknown"))
}

// ratioLines compares each proxy with nginx per transport.
func (rep *Report) ratioLines() []string {
	var out []string
	for _, tr := range rep.Config.Transports {
		n, ok := rep.row(Nginx, tr)
		if !ok || !n.HasAdded {
			continue
		}
		for _, name := range []string{Janustap, JanustapExternal} {
			j, ok := rep.row(name, tr)
			if !ok || !j.HasAdded {
				continue
			}
			p50, ok50 := ratio(j.AddedP50, n.AddedP50)
			p99, ok99 := ratio(j.AddedP99, n.AddedP99)
			f := func(v float64, ok bool) string {
				if !ok {
					return "n/a (nginx added nothing measurable)"
				}
				return fmt.Sprintf("%.2f", v)
			}
			out = append(out, fmt.Sprintf("%s vs nginx over %s: added latency ×%s at p50, ×%s at p99", name, tr, f(p50, ok50), f(p99, ok99)))
		}
	}
	return out
}

// Machine describes the computer a report was measured on.
type Machine struct {
	CPUs   int
	Model  string
	Memory string
	Kernel string
}

// rowCells returns the cells of the main table and of the detail table:
// a row of each for every row of rep.
func (rep *Report) rowCells() (main, detail [][]string) {
	for _, r := range rep.Rows {
		main = append(main, r.cells())
		detail = append(detail, r.detailCells())
	}
	return main, detail
}

// idleCells returns the cells of the idle-client table.
func (rep *Report) idleCells() [][]string {
	var idle [][]string
	for _, r := range rep.Idle {
		idle = append(idle, r.cells())
	}
	return idle
}

// WriteMarkdown writes the report as a Markdown document: the machine, the
// commit and the command, then the tables.
func (rep *Report) WriteMarkdown(w io.Writer, m Machine, commit, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# janustap bench, %s\n\n", rep.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %d CPUs, %s, %s memory, Linux %s\n", m.CPUs, m.Model, m.Memory, m.Kernel)
	fmt.Fprintf(&b, "- commit: %s\n", commit)
	fmt.Fprintf(&b, "- command: `%s`\n", command)
	fmt.Fprintf(&b, "- duration: %v\n\n", rep.Finished.Sub(rep.Started).Round(time.Second))
	fmt.Fprintf(&b, "%s\n\n", strings.ReplaceAll(rep.describe(), "\n", " "))
	table := func(header []string, rows [][]string) {
		b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
		for range header {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		for _, r := range rows {
			for i, c := range r {
				r[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	main, detail := rep.rowCells()
	table(columns, main)
	table(detailColumns, detail)
	if len(rep.Idle) > 0 {
		b.WriteString("Memory per idle WebSocket client (fresh processes, resident set before and after opening them):\n\n")
		table(idleColumns, rep.idleCells())
	}
	if rows := rep.partRows(); len(rows) > 0 {
		b.WriteString("serve's CPU by part, from CPU profiles of the measured slices (`--profile DIR`; shares applied to the CPU s above):\n\n")
		table(partColumns, rows)
	}
	for _, l := range rep.ratioLines() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	fmt.Fprintf(&b, "\n```\n%s\n```\n", rep.Ratio().Line())
	_, err := io.WriteString(w, b.String())
	return err
}

var partColumns = []string{"target", "transport", "part", "share", "CPU µs per API request"}

// partRows lists serve's CPU by part for each profiled target and
// transport: the part's share of the profile, and that share of the row's
// CPU s divided by its API requests.
func (rep *Report) partRows() [][]string {
	var out [][]string
	for _, r := range rep.Rows {
		ps, ok := rep.Parts[r.Target+"-"+r.Transport]
		if !ok {
			continue
		}
		for _, p := range ps {
			perReq := "-"
			if r.Requests > 0 && r.HasProc {
				perReq = fmt.Sprintf("%.0f", p.Share*float64(r.CPU.Microseconds())/float64(r.Requests))
			}
			out = append(out, []string{r.Target, r.Transport, p.Part, fmt.Sprintf("%.1f%%", 100*p.Share), perReq})
		}
	}
	return out
}
