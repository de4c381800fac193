package webui

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/janustap/janustap/recorder/verdict"
)

// SVG layout of the ladder, in pixels.
const (
	svgLaneWidth = 170
	svgLeft      = 150 // the message number and time column
	svgRight     = 260 // the latency and note column
	svgTop       = 90  // title, verdict and lane heads
	svgRowHeight = 22
)

// writeLadderSVG draws the ladder as one SVG document: the lanes, an arrow
// per message with its label, time since the first message and latency,
// errors in red, folded keepalives and long-polls left out (as the page
// shows them by default) and counted at the foot. It is what the page's
// "SVG" export downloads, and what its "PNG" export rasterises.
func writeLadderSVG(w io.Writer, l *ladder) error {
	var rows []row
	folded := 0
	for _, r := range l.Rows {
		if r.Fold != "" {
			folded++
			continue
		}
		rows = append(rows, r)
	}
	width := max(svgLeft+len(l.Lanes)*svgLaneWidth+svgRight, 900)
	height := svgTop + len(rows)*svgRowHeight + 40
	laneX := func(i int) int { return svgLeft + i*svgLaneWidth + svgLaneWidth/2 }
	esc := html.EscapeString

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>` + "\n")
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/>` + "\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">janustap · session %d of %s</text>`+"\n", l.Session, esc(l.Gateway))
	if v := l.Verdict; v != nil && len(v.Findings) > 0 {
		fmt.Fprintf(&b, `<text x="10" y="42" fill="#b00">%s</text>`+"\n", esc(verdictLine(v)))
	}
	var t0 int64
	if len(rows) > 0 {
		t0 = rows[0].T
	}
	for i, ln := range l.Lanes {
		x := laneX(i)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x, svgTop-20, esc(ln.Label))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#99a" stroke-width="1"/>`+"\n", x, svgTop-12, x, height-30)
	}
	for i, r := range rows {
		y := svgTop + i*svgRowHeight + 14
		color := "#1f5fbf"
		switch {
		case r.Err:
			color = "#c00"
		case r.Tr == "evh":
			color = "#7a3fbf"
		case r.Dir == "g2c":
			color = "#334"
		}
		fmt.Fprintf(&b, `<text x="8" y="%d" fill="#556">%d</text><text x="40" y="%d" fill="#556">+%s</text>`+"\n",
			y, r.N, y, fmtDur(time.Duration(r.T-t0)*time.Microsecond))
		x1, x2 := laneX(r.From), laneX(r.To)
		if x1 == x2 {
			x2 = x1 + svgLaneWidth/3
		}
		dash := ""
		if r.Tr == "evh" {
			dash = ` stroke-dasharray="3,3"`
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.4" marker-end="url(#a)"%s/>`+"\n", x1, y+4, x2, y+4, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", (x1+x2)/2, y, color, esc(clip(r.Label, 40)))
		var note []string
		if r.Since > 0 && r.RQ != r.Seq {
			note = append(note, "+"+fmtDur(time.Duration(r.Since)*time.Microsecond))
		}
		if r.Note != "" {
			note = append(note, r.Note)
		}
		if len(note) > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", svgLeft+len(l.Lanes)*svgLaneWidth+10, y, color, esc(clip(strings.Join(note, " · "), 40)))
		}
	}
	if folded > 0 {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#556" font-style="italic">%d keepalive and long-poll messages not drawn</text>`+"\n", height-12, folded)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictLine(v *verdict.Verdict) string {
	f := v.Findings[0]
	return f.Rule + ": " + clip(f.Cause, 120)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// ladderSVG answers GET /s/{gateway}/{id}/ladder.svg.
func (s *Server) ladderSVG(w http.ResponseWriter, r *http.Request) {
	gw, id, l, ok := s.sessionLadder(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="janustap-%s-%d.svg"`, gw, id))
	}
	if err := writeLadderSVG(w, l); err != nil {
		s.Logger.Warn("write ladder svg", "session", id, "err", err)
	}
}
