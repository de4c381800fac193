package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/plan"
	"github.com/janustap/janustap/schema"
)

// roomPlugins are the plugins whose rooms a run can have of its own, with
// the settings of their list answer that their create request takes (the
// videoroom's max_publishers is create's publishers).
var roomPlugins = map[string]map[string]string{
	"janus.plugin.videoroom": {
		"description": "description", "is_private": "is_private", "max_publishers": "publishers",
		"bitrate": "bitrate", "bitrate_cap": "bitrate_cap", "fir_freq": "fir_freq", "require_pvtid": "require_pvtid",
		"require_e2ee": "require_e2ee", "dummy_publisher": "dummy_publisher", "notify_joining": "notify_joining",
		"audiocodec": "audiocodec", "videocodec": "videocodec", "opus_fec": "opus_fec", "opus_dtx": "opus_dtx",
		"video_svc": "video_svc", "audiolevel_ext": "audiolevel_ext", "audiolevel_event": "audiolevel_event",
		"audio_active_packets": "audio_active_packets", "audio_level_average": "audio_level_average",
		"videoorient_ext": "videoorient_ext", "playoutdelay_ext": "playoutdelay_ext",
		"transport_wide_cc_ext": "transport_wide_cc_ext", "lock_record": "lock_record",
	},
	"janus.plugin.textroom": {"description": "description", "history": "history"},
}

// fixedRooms returns, by plugin, the rooms the flow's requests name that
// it did not create itself: the rooms of the gateway's configuration.
// textrooms are the rooms its clients joined over their data channels.
func fixedRooms(p *plan.Plan, textrooms []uint64) map[string][]uint64 {
	pluginOf := map[uint64]string{} // captured handle → plugin
	attach := map[string]string{}   // attach transaction → plugin
	created := map[uint64]bool{}
	var named []struct {
		plugin string
		room   uint64
	}
	for _, ev := range p.Events {
		if ev.Janus == nil {
			continue
		}
		j := ev.Janus
		if ev.Direction == schema.ToGateway && j.Janus == "attach" && j.Plugin != "" {
			attach[ev.Conn+"\x00"+j.Transaction] = j.Plugin
		}
		if ev.Direction == schema.ToClient && j.Janus == "success" && j.DataID != 0 {
			if pl, ok := attach[ev.Conn+"\x00"+j.Transaction]; ok {
				pluginOf[j.DataID] = pl
			}
		}
		if ev.Direction != schema.ToGateway || j.Janus != "message" {
			continue
		}
		var m struct {
			Body struct {
				Request string      `json:"request"`
				Room    json.Number `json:"room"`
			} `json:"body"`
		}
		if json.Unmarshal(ev.Body, &m) != nil || m.Body.Room == "" {
			continue
		}
		room, err := strconv.ParseUint(string(m.Body.Room), 10, 64)
		if err != nil {
			continue
		}
		if m.Body.Request == "create" {
			created[room] = true
			continue
		}
		named = append(named, struct {
			plugin string
			room   uint64
		}{pluginOf[ev.HandleID()], room})
	}
	for _, room := range textrooms {
		named = append(named, struct {
			plugin string
			room   uint64
		}{"janus.plugin.textroom", room})
	}
	out := map[string][]uint64{}
	for _, n := range named {
		if _, ok := roomPlugins[n.plugin]; ok && !created[n.room] && !slices.Contains(out[n.plugin], n.room) {
			out[n.plugin] = append(out[n.plugin], n.room)
		}
	}
	return out
}

// ownRooms gives the run rooms of its own: each room of the gateway's
// configuration that the flow names is copied on the target (its
// settings, as the plugin lists them) under a new number, which the run
// uses in its place. It returns a function that destroys them.
func (r *runner) ownRooms(ctx context.Context, p *plan.Plan) (func(), error) {
	rooms := fixedRooms(p, r.dataChannelRooms())
	if len(rooms) == 0 {
		return func() {}, nil
	}
	var c janus.Client
	ws := r.opts.Target.HTTP == ""
	if ws {
		wc, err := janus.DialWS(ctx, r.opts.Target.WS, janus.Protocol)
		if err != nil {
			return nil, fmt.Errorf("own rooms: %w", err)
		}
		c = wc
	} else {
		c = janus.NewHTTP(r.opts.Target.HTTP)
	}
	s := &janus.Session{C: c, WS: ws, Secret: r.opts.Secrets.APISecret}
	j, reply, err := s.Request(ctx, "create", 0, nil)
	if err != nil || j == nil || j.DataID == 0 {
		c.Close()
		return nil, fmt.Errorf("own rooms: create a session: %v %s", err, reply.Body)
	}
	s.ID = j.DataID
	type made struct {
		handle uint64
		room   uint64
	}
	var all []made
	cleanup := func() {
		ctx := context.WithoutCancel(ctx)
		for _, m := range all {
			s.Message(ctx, m.handle, map[string]any{"request": "destroy", "room": m.room}, nil)
		}
		s.Request(ctx, "destroy", 0, nil)
		c.Close()
	}
	r.res.Rooms = map[uint64]uint64{}
	for plugin, ids := range rooms {
		h, err := s.Attach(ctx, plugin, nil)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("own rooms: %w", err)
		}
		listed, err := pluginData(ctx, s, h, map[string]any{"request": "list"})
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("own rooms: list the rooms of %s: %w", plugin, err)
		}
		var list []map[string]any
		if m, err := decodeObject(listed); err == nil {
			l, _ := m["list"].([]any)
			for _, x := range l {
				if e, ok := x.(map[string]any); ok {
					list = append(list, e)
				}
			}
		}
		for _, room := range ids {
			i := slices.IndexFunc(list, func(m map[string]any) bool {
				n, _ := m["room"].(json.Number)
				return string(n) == strconv.FormatUint(room, 10)
			})
			if i < 0 {
				continue // not on the target: the run shows it, as without own rooms
			}
			create := map[string]any{"request": "create", "permanent": false}
			for from, to := range roomPlugins[plugin] {
				if v, ok := list[i][from]; ok {
					create[to] = v
				}
			}
			fresh := uint64(rand.Uint32()>>1) + 1<<31 // far from the numbers people give rooms
			create["room"] = fresh
			if _, err := pluginData(ctx, s, h, create); err != nil {
				cleanup()
				return nil, fmt.Errorf("own rooms: copy room %d of %s: %w", room, plugin, err)
			}
			all = append(all, made{h, fresh})
			r.ids.Set(room, fresh)
			r.res.Rooms[fresh] = room
		}
	}
	return cleanup, nil
}

// pluginData sends a synchronous plugin request and returns its answer's
// plugindata.data, or the plugin's error.
func pluginData(ctx context.Context, s *janus.Session, h uint64, body map[string]any) (json.RawMessage, error) {
	_, reply, err := s.Message(ctx, h, body, nil)
	if err != nil {
		return nil, err
	}
	var m struct {
		Janus      string `json:"janus"`
		PluginData struct {
			Data json.RawMessage `json:"data"`
		} `json:"plugindata"`
	}
	dec := json.NewDecoder(bytes.NewReader(reply.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m.Janus != "success" {
		return nil, fmt.Errorf("unexpected answer %s", reply.Body)
	}
	var e struct {
		ErrorCode int    `json:"error_code"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(m.PluginData.Data, &e) == nil && e.ErrorCode != 0 {
		return nil, errors.New(e.Error)
	}
	return m.PluginData.Data, nil
}
