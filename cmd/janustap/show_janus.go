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

// janusJSON is the JSON form of a janusView. Field names are those of the
// SQLite columns (recorder/store/doc.go); times are on the tap's clock
// (Janus's corrected by clock_offset_us), null when Janus did not report
// them.
type janusJSON struct {
	ClockOffsetUS int64             `json:"clock_offset_us"`
	ClockSamples  int               `json:"clock_samples"`
	Session       *janusSessionJSON `json:"session"`
	Handles       []janusHandleJSON `json:"handles"`
	Stats         []janusStatsJSON  `json:"stats"`
}

type janusSessionJSON struct {
	SessionID   uint64   `json:"session_id"`
	Transport   string   `json:"transport"`
	CreatedAt   jsonTime `json:"created_at"`
	DestroyedAt jsonTime `json:"destroyed_at"`
	TimeoutAt   jsonTime `json:"timeout_at"`
}

type janusHandleJSON struct {
	HandleID         uint64   `json:"handle_id"`
	SessionID        uint64   `json:"session_id"`
	Plugin           string   `json:"plugin"`
	OpaqueID         string   `json:"opaque_id"`
	AttachedAt       jsonTime `json:"attached_at"`
	DetachedAt       jsonTime `json:"detached_at"`
	ICEState         string   `json:"ice_state"`
	ICEStates        []string `json:"ice_states"`
	ICEConnectedAt   jsonTime `json:"ice_connected_at"`
	ICEFailedAt      jsonTime `json:"ice_failed_at"`
	LocalCandidates  int      `json:"local_candidates"`
	RemoteCandidates int      `json:"remote_candidates"`
	SelectedPair     string   `json:"selected_pair"`
	LocalType        string   `json:"local_type"`
	RemoteType       string   `json:"remote_type"`
	DTLSState        string   `json:"dtls_state"`
	DTLSStates       []string `json:"dtls_states"`
	DTLSConnectedAt  jsonTime `json:"dtls_connected_at"`
	WebRTCUpAt       jsonTime `json:"webrtcup_at"`
	HangupAt         jsonTime `json:"hangup_at"`
	HangupReason     string   `json:"hangup_reason"`
	Receiving        []string `json:"receiving"`
	ReceivingAt      jsonTime `json:"receiving_at"`
	MediaEvents      int      `json:"media_events"`
	Slowlinks        int      `json:"slowlinks"`
	Stats            int      `json:"stats"`
	LocalSDP         string   `json:"local_sdp"`
	RemoteSDP        string   `json:"remote_sdp"`
	FirstTime        jsonTime `json:"first_time"`
	LastTime         jsonTime `json:"last_time"`
}

type janusStatsJSON struct {
	HandleID        uint64 `json:"handle_id"`
	Mid             string `json:"mid"`
	Media           string `json:"media"`
	Codec           string `json:"codec"`
	Samples         int    `json:"samples"`
	MaxRTT          int64  `json:"rtt_max"`
	Lost            int64  `json:"lost"`
	LostByRemote    int64  `json:"lost_by_remote"`
	MaxJitter       int64  `json:"jitter_local_max"`
	PacketsReceived int64  `json:"packets_received"`
	PacketsSent     int64  `json:"packets_sent"`
	BytesReceived   int64  `json:"bytes_received"`
	BytesSent       int64  `json:"bytes_sent"`
	NACKsReceived   int64  `json:"nacks_received"`
	NACKsSent       int64  `json:"nacks_sent"`
}

func (v *janusView) json() *janusJSON {
	if !v.any() {
		return nil
	}
	out := &janusJSON{ClockOffsetUS: v.offset.Microseconds(), ClockSamples: v.samples,
		Handles: []janusHandleJSON{}, Stats: []janusStatsJSON{}}
	if s := v.session; s != nil {
		out.Session = &janusSessionJSON{SessionID: s.ID, Transport: s.Transport, CreatedAt: jsonTime(s.CreatedAt),
			DestroyedAt: jsonTime(s.DestroyedAt), TimeoutAt: jsonTime(s.TimeoutAt)}
	}
	for _, h := range v.handles {
		out.Handles = append(out.Handles, janusHandleJSON{HandleID: h.ID, SessionID: h.SessionID, Plugin: h.Plugin,
			OpaqueID: h.OpaqueID, AttachedAt: jsonTime(h.AttachedAt), DetachedAt: jsonTime(h.DetachedAt),
			ICEState: h.ICEState, ICEStates: nonNil(h.ICEStates), ICEConnectedAt: jsonTime(h.ICEConnectedAt),
			ICEFailedAt: jsonTime(h.ICEFailedAt), LocalCandidates: h.LocalCandidates, RemoteCandidates: h.RemoteCandidates,
			SelectedPair: h.SelectedPair, LocalType: h.LocalType, RemoteType: h.RemoteType, DTLSState: h.DTLSState,
			DTLSStates: nonNil(h.DTLSStates), DTLSConnectedAt: jsonTime(h.DTLSConnectedAt), WebRTCUpAt: jsonTime(h.WebRTCUpAt),
			HangupAt: jsonTime(h.HangupAt), HangupReason: h.HangupReason, Receiving: nonNil(h.Receiving),
			ReceivingAt: jsonTime(h.ReceivingAt), MediaEvents: h.MediaEvents, Slowlinks: h.Slowlinks, Stats: h.Stats,
			LocalSDP: h.LocalSDP, RemoteSDP: h.RemoteSDP, FirstTime: jsonTime(h.FirstTime), LastTime: jsonTime(h.LastTime)})
	}
	for _, st := range v.stats {
		out.Stats = append(out.Stats, janusStatsJSON{HandleID: st.HandleID, Mid: st.Mid, Media: st.Media, Codec: st.Codec,
			Samples: st.Samples, MaxRTT: st.MaxRTT, Lost: st.Lost, LostByRemote: st.LostByRemote, MaxJitter: st.MaxJitter,
			PacketsReceived: st.PacketsReceived, PacketsSent: st.PacketsSent, BytesReceived: st.BytesReceived,
			BytesSent: st.BytesSent, NACKsReceived: st.NACKsReceived, NACKsSent: st.NACKsSent})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
