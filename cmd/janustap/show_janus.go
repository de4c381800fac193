package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/janustap/janustap/recorder/store"
)

// janusView is what Janus's own events say of a session: its account of the
// session and of each handle, the media statistics summed up, and its
// clock's offset from the tap's.
type janusView struct {
	session *store.JanusSessionRow
	handles []store.JanusHandleRow
	stats   []store.JanusStatsRow
	offset  time.Duration
	samples int
}

func readJanusView(c *cli.Context, db *store.DB, gw string, id uint64) (*janusView, error) {
	v := &janusView{}
	var err error
	if v.session, err = db.JanusSession(c.Context, gw, id); err != nil {
		return nil, err
	}
	if v.handles, err = db.JanusHandles(c.Context, gw, id); err != nil {
		return nil, err
	}
	if v.stats, err = db.JanusStats(c.Context, gw, id); err != nil {
		return nil, err
	}
	if v.offset, v.samples, err = db.JanusClock(c.Context, gw); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *janusView) any() bool { return v.session != nil || len(v.handles) > 0 }

// write prints Janus's account as tables after a blank line; nothing when
// Janus reported nothing of the session.
func (v *janusView) write(w io.Writer) error {
	if !v.any() {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Janus's events (its clock %s the tap's by %s, from %d samples; times below on the tap's clock)\n",
		aheadBehind(v.offset), abs(v.offset), v.samples)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if s := v.session; s != nil {
		fmt.Fprintf(tw, "session %d\tcreated %s\tdestroyed %s\ttimeout %s\t%s\n", s.ID, textTime(s.CreatedAt),
			textTime(s.DestroyedAt), textTime(s.TimeoutAt), dash(s.Transport))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write janus session: %w", err)
	}
	if len(v.handles) > 0 {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tICE\tPAIR\tDTLS\tWEBRTCUP\tHANGUP\tRECEIVING\tSLOWLINKS\tSTATS")
		for _, h := range v.handles {
			pair := "-"
			if h.LocalType != "" || h.RemoteType != "" {
				pair = h.LocalType + "<->" + h.RemoteType
			}
			hangup := "-"
			if !h.HangupAt.IsZero() {
				hangup = textTime(h.HangupAt) + " " + fmt.Sprintf("%q", h.HangupReason)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", h.ID, dash(strings.Join(h.ICEStates, ">")), pair,
				dash(strings.Join(h.DTLSStates, ">")), textTime(h.WebRTCUpAt), hangup, dash(strings.Join(h.Receiving, ",")),
				h.Slowlinks, h.Stats)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write janus handles: %w", err)
		}
	}
	if len(v.stats) > 0 {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tMID\tMEDIA\tCODEC\tSAMPLES\tRTT_MAX\tLOST\tLOST_REMOTE\tJITTER_MAX\tPKTS_IN\tPKTS_OUT\tBYTES_IN\tBYTES_OUT\tNACKS_IN\tNACKS_OUT")
		for _, s := range v.stats {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.HandleID, dash(s.Mid), dash(s.Media),
				dash(s.Codec), s.Samples, s.MaxRTT, s.Lost, s.LostByRemote, s.MaxJitter, s.PacketsReceived, s.PacketsSent,
				s.BytesReceived, s.BytesSent, s.NACKsReceived, s.NACKsSent)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write janus stats: %w", err)
		}
	}
	return nil
}

func aheadBehind(d time.Duration) string {
	if d < 0 {
		return "is ahead of"
	}
	return "is behind"
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// janusJSON is the JSON form of a janusView.
type janusJSON struct {
	ClockOffsetUS int64                  `json:"clock_offset_us"`
	ClockSamples  int                    `json:"clock_samples"`
	Session       *store.JanusSessionRow `json:"session"`
	Handles       []store.JanusHandleRow `json:"handles"`
	Stats         []store.JanusStatsRow  `json:"stats"`
}

func (v *janusView) json() *janusJSON {
	if !v.any() {
		return nil
	}
	return &janusJSON{ClockOffsetUS: v.offset.Microseconds(), ClockSamples: v.samples, Session: v.session,
		Handles: v.handles, Stats: v.stats}
}
