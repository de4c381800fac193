package diff

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
)

// ErrInvalidRules is wrapped by the errors of ParseRules and LoadRules for
// rules that are well-formed JSON but cannot be used.
var ErrInvalidRules = errors.New("invalid rules")

// Rules say what varies between two runs of a flow and so must be normalised
// before they are compared, and how messages are classified. They are data:
// DefaultRules holds the rules for Janus 1.1.2 and its stock plugins, and
// LoadRules reads rules from a JSON file of the same shape (see the package
// documentation; `janustap replay --print-rules` prints DefaultRules in it).
//
// A nil *Rules means DefaultRules wherever rules are taken.
type Rules struct {
	// Extends names rules that these rules add to. The only name known is
	// "default" (DefaultRules). When it is empty these rules are complete
	// and nothing else applies. Extends is resolved by ParseRules, so rules
	// it returns have it empty.
	Extends string `json:"extends,omitempty"`
	// Global applies at any depth of every message.
	Global KeyRules `json:"global"`
	// Plugins apply, keyed by plugin name ("janus.plugin.videoroom"), inside
	// that plugin's payloads: the body of a message request to a handle of
	// the plugin, and plugindata.data of its replies and events. Global
	// applies there too; a plugin's id kind wins over a global one.
	Plugins map[string]KeyRules `json:"plugins,omitempty"`
	// SDP says what of a session description is compared.
	SDP SDPRules `json:"sdp"`
	// Media says which messages depend on real media.
	Media MediaRules `json:"media"`
	// Timing says which messages depend on timers.
	Timing TimingRules `json:"timing"`
}

// KeyRules name JSON object keys by what their values are.
type KeyRules struct {
	// IDs maps a key whose value is an id minted by Janus or a plugin to the
	// kind of that id: the letters of its placeholder ("S" gives $S1, $S2…).
	// Kinds are one or more capital letters; "T" is kept for transactions.
	// Values that are arrays have each element mapped (admin "sessions").
	IDs map[string]string `json:"ids,omitempty"`
	// Ignore lists keys whose values are replaced by "$ignored": the key must
	// be present in both runs, its value is not compared.
	Ignore []string `json:"ignore,omitempty"`
	// Sets lists keys whose array values have no order: lists Janus builds
	// from hash tables (videoroom publishers, textroom participants, list
	// answers). They compare as sets: the elements are sorted, those
	// naming the same id or the same display name or username first, and
	// ids first seen in them are numbered in that order.
	Sets []string `json:"sets,omitempty"`
}

// SDPRules say how session descriptions are normalised.
type SDPRules struct {
	// Keys lists the keys whose string values are session descriptions
	// when they start with "v=" (jsep.sdp; the admin API's sdps.local and
	// sdps.remote).
	Keys []string `json:"keys"`
	// Ignore lists the attributes (a= lines, by name) left out of the
	// comparison. A name ending in "*" is a prefix: "ssrc*" is a=ssrc and
	// a=ssrc-group. The o= session id, version and address, c= lines and
	// m= ports are always left out.
	Ignore []string `json:"ignore"`
}

// MediaRules say which messages only come when media really flows between
// Janus and a peer, which a replay without a browser cannot give.
type MediaRules struct {
	// Events lists the janus types that need media (webrtcup, media,
	// slowlink, ice-failed).
	Events []string `json:"events"`
	// HangupReasons lists the reasons of a hangup that come from ICE or
	// DTLS rather than from a request, or from tearing down a
	// PeerConnection whose state depends on media ("Detach", "Close PC").
	HangupReasons []string `json:"hangup_reasons"`
	// HangupRequests lists the requests after which a hangup of the same
	// handle is expected. A hangup that follows none of them needs media,
	// whatever its reason.
	HangupRequests []string `json:"hangup_requests"`
	// PluginEvents lists, per plugin, the values of the plugin's own key in
	// plugindata.data ("videoroom": "talking") of events caused by media.
	PluginEvents map[string][]string `json:"plugin_events,omitempty"`
	// Once lists the janus types compared only as "at least one for the
	// handle": how many come, and what they count, depend on chance
	// (slowlink, under random loss).
	Once []string `json:"once,omitempty"`
}

// TimingRules say which messages depend on how long the runs took.
type TimingRules struct {
	// Events lists the janus types sent on a timer (timeout).
	Events []string `json:"events"`
	// ErrorCodes lists the error codes that, after one of Events for the
	// same session, come from that event (458: the session is gone).
	ErrorCodes []int `json:"error_codes"`
}

// DefaultRules returns the rules for Janus 1.1.2 and its stock plugins.
// Each call returns a new value the caller may change.
func DefaultRules() *Rules {
	return &Rules{
		Global: KeyRules{
			IDs: map[string]string{
				"session_id": "S",
				"handle_id":  "H",
				"sender":     "H",
				"sessions":   "S", // admin list_sessions
				"handles":    "H", // admin list_handles
			},
			Sets: []string{"sessions", "handles"},
			Ignore: []string{
				// admin monotonic timestamps, in µs
				"created", "current_time", "session_last_activity", "agent-created", "gathered", "connected",
				// server_info: per host and build
				"log-path", "local-ip", "compile-time", "commit-hash", "dependencies",
				// admin handle_info: per PeerConnection
				"fingerprint", "remote-fingerprint", "local-candidates", "remote-candidates", "selected-pair", "ssrc",
				// admin handle_info: the moment it is asked at (janode's flow asks
				// while media flows; seen as true → false and 0 → 3 in CI)
				"loop-running", "queued-packets",
			},
		},
		Plugins: map[string]KeyRules{
			"janus.plugin.videoroom": {IDs: map[string]string{
				"id":           "ID", // publisher and attendee ids, random 53-bit unless given
				"feed":         "ID",
				"feed_id":      "ID",
				"publisher_id": "ID",
				"private_id":   "P",  // random 32-bit
				"leaving":      "ID", // a number, or "ok" for the handle itself
				"unpublished":  "ID",
				"kicked":       "ID",
				"joining":      "ID",
			}, Sets: []string{"publishers", "participants", "attendees", "list"}},
			"janus.plugin.textroom": {IDs: map[string]string{
				"room": "R",
			}, Sets: []string{"participants", "list"}},
			"janus.plugin.audiobridge": {IDs: map[string]string{
				"id": "ID", // participant ids, random unless given
			}, Sets: []string{"participants", "list"}},
			"janus.plugin.streaming": {Sets: []string{"list"}},
		},
		SDP: SDPRules{
			Keys: []string{"sdp", "local", "remote"},
			Ignore: []string{
				"ice-ufrag", "ice-pwd", "fingerprint", "candidate", "end-of-candidates",
				"ssrc*", "msid*", "rtcp", "tls-id",
			},
		},
		Media: MediaRules{
			Events:         []string{"webrtcup", "media", "slowlink", "ice-failed"},
			HangupReasons:  []string{"ICE failed", "DTLS alert", "Detach", "Close PC"},
			HangupRequests: []string{"hangup", "detach"},
			PluginEvents: map[string][]string{
				"janus.plugin.videoroom":   {"talking", "stopped-talking"},
				"janus.plugin.audiobridge": {"talking", "stopped-talking"},
			},
			Once: []string{"slowlink"},
		},
		Timing: TimingRules{
			Events:     []string{"timeout"},
			ErrorCodes: []int{458},
		},
	}
}

// LoadRules reads rules from the JSON file at path (see ParseRules).
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("load rules from %s: %w", path, err)
	}
	return r, nil
}

// ParseRules parses rules in the JSON form of Rules. Unknown keys are
// refused, so that a misspelt key is not silently without effect. With
// "extends": "default" the rules are added to DefaultRules: maps are merged
// (the file wins) and lists appended.
func ParseRules(b []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse rules: data after the object")
	}
	switch r.Extends {
	case "":
	case "default":
		base := DefaultRules()
		base.merge(&r)
		r = *base
	default:
		return nil, fmt.Errorf("parse rules: extends %q: %w (only \"default\" is known)", r.Extends, ErrInvalidRules)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	return &r, nil
}

// Validate reports the first problem that makes r unusable: an id kind
// that is not capital letters, or is "T".
func (r *Rules) Validate() error {
	check := func(where string, k KeyRules) error {
		for _, key := range slices.Sorted(maps.Keys(k.IDs)) {
			kind := k.IDs[key]
			if !validKind(kind) {
				return fmt.Errorf("%s: id %q has kind %q, want capital letters other than T: %w", where, key, kind, ErrInvalidRules)
			}
		}
		return nil
	}
	if err := check("global", r.Global); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(r.Plugins)) {
		if err := check("plugin "+name, r.Plugins[name]); err != nil {
			return err
		}
	}
	return nil
}

// MarshalIndent returns r as indented JSON, the form LoadRules reads.
func (r *Rules) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal rules: %w", err)
	}
	return append(b, '\n'), nil
}

func validKind(k string) bool {
	if k == "" || k == "T" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 'A' || k[i] > 'Z' {
			return false
		}
	}
	return true
}

// merge adds o to r: maps are merged with o winning, lists appended without
// repeats.
func (r *Rules) merge(o *Rules) {
	r.Global.merge(o.Global)
	for name, k := range o.Plugins {
		if r.Plugins == nil {
			r.Plugins = map[string]KeyRules{}
		}
		base := r.Plugins[name]
		base.merge(k)
		r.Plugins[name] = base
	}
	r.SDP.Keys = appendNew(r.SDP.Keys, o.SDP.Keys...)
	r.SDP.Ignore = appendNew(r.SDP.Ignore, o.SDP.Ignore...)
	r.Media.Events = appendNew(r.Media.Events, o.Media.Events...)
	r.Media.HangupReasons = appendNew(r.Media.HangupReasons, o.Media.HangupReasons...)
	r.Media.HangupRequests = appendNew(r.Media.HangupRequests, o.Media.HangupRequests...)
	r.Media.Once = appendNew(r.Media.Once, o.Media.Once...)
	for name, evs := range o.Media.PluginEvents {
		if r.Media.PluginEvents == nil {
			r.Media.PluginEvents = map[string][]string{}
		}
		r.Media.PluginEvents[name] = appendNew(r.Media.PluginEvents[name], evs...)
	}
	r.Timing.Events = appendNew(r.Timing.Events, o.Timing.Events...)
	r.Timing.ErrorCodes = appendNew(r.Timing.ErrorCodes, o.Timing.ErrorCodes...)
}

func (k *KeyRules) merge(o KeyRules) {
	if len(o.IDs) > 0 && k.IDs == nil {
		k.IDs = map[string]string{}
	}
	maps.Copy(k.IDs, o.IDs)
	k.Ignore = appendNew(k.Ignore, o.Ignore...)
	k.Sets = appendNew(k.Sets, o.Sets...)
}

func appendNew[T comparable](s []T, add ...T) []T {
	for _, v := range add {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// scope is what applies inside one part of a message: the global rules, or
// the global rules with those of one plugin.
type scope struct {
	ids    map[string]string
	ignore map[string]bool
	sets   map[string]bool
}

// compiled is Rules made ready for lookups.
type compiled struct {
	global      *scope
	plugins     map[string]*scope
	sessionKind string            // kind of session_id, for paths and data.id
	handleKind  string            // kind of handle_id
	data        map[string]*scope // kind → scope of a top-level data, where id is of that kind
	once        map[string]bool   // janus types compared as "at least one per handle"
	sdpKeys     map[string]bool
	sdpIgnore   []string // exact names, and prefixes ending in '*'
	mediaEvents map[string]bool
	hangupWhy   map[string]bool
	hangupReqs  map[string]bool
	pluginMedia map[string]bool // plugin + "\x00" + event, as pluginEvent gives
	timingEvent map[string]bool
	timingCodes map[int]bool
}

// defaultCompiled is DefaultRules compiled once; compiled rules are never
// changed.
var defaultCompiled = sync.OnceValue(func() *compiled { return compileRules(DefaultRules()) })

// compile makes r ready for lookups; nil means DefaultRules.
func compile(r *Rules) *compiled {
	if r == nil {
		return defaultCompiled()
	}
	return compileRules(r)
}

func compileRules(r *Rules) *compiled {
	c := &compiled{
		global:      newScope(r.Global, KeyRules{}),
		plugins:     make(map[string]*scope, len(r.Plugins)),
		sdpKeys:     set(r.SDP.Keys),
		sdpIgnore:   r.SDP.Ignore,
		mediaEvents: set(r.Media.Events),
		hangupWhy:   set(r.Media.HangupReasons),
		hangupReqs:  set(r.Media.HangupRequests),
		pluginMedia: map[string]bool{},
		once:        set(r.Media.Once),
		timingEvent: set(r.Timing.Events),
		timingCodes: set(r.Timing.ErrorCodes),
	}
	for name, k := range r.Plugins {
		c.plugins[name] = newScope(r.Global, k)
	}
	for name, evs := range r.Media.PluginEvents {
		for _, ev := range evs {
			c.pluginMedia[name+"\x00"+ev] = true
		}
	}
	c.sessionKind = cmp.Or(r.Global.IDs["session_id"], "S")
	c.handleKind = cmp.Or(r.Global.IDs["handle_id"], "H")
	c.data = map[string]*scope{}
	for _, kind := range []string{c.sessionKind, c.handleKind} {
		c.data[kind] = newScope(r.Global, KeyRules{IDs: map[string]string{"id": kind}})
	}
	return c
}

func newScope(global, plugin KeyRules) *scope {
	s := &scope{
		ids:    make(map[string]string, len(global.IDs)+len(plugin.IDs)),
		ignore: make(map[string]bool, len(global.Ignore)+len(plugin.Ignore)),
		sets:   make(map[string]bool, len(global.Sets)+len(plugin.Sets)),
	}
	for _, k := range slices.Concat(global.Sets, plugin.Sets) {
		s.sets[k] = true
	}
	maps.Copy(s.ids, global.IDs)
	maps.Copy(s.ids, plugin.IDs)
	for _, k := range global.Ignore {
		s.ignore[k] = true
	}
	for _, k := range plugin.Ignore {
		s.ignore[k] = true
	}
	return s
}

// plugin returns the scope for payloads of the named plugin.
func (c *compiled) plugin(name string) *scope {
	if s, ok := c.plugins[name]; ok {
		return s
	}
	return c.global
}

// dataScope returns the scope of the top-level data of a create or attach
// success, where id is a session or a handle.
func (c *compiled) dataScope(kind string) *scope { return c.data[kind] }

// ignoredAttribute reports whether the SDP attribute name is left out.
func (c *compiled) ignoredAttribute(name string) bool {
	for _, p := range c.sdpIgnore {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

func set[T comparable](s []T) map[T]bool {
	m := make(map[T]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}
