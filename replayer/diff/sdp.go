package diff

import (
	"fmt"
	"slices"
	"strings"
)

// normaliseSDP turns a session description into the small structure that is
// compared, so that a difference is named by path (jsep.sdp.m[1].direction):
//
//	{"version": "0", "origin": "- IN IP4", "name": "-", "timing": "0 0",
//	 "groups": ["BUNDLE 0 1"], "attributes": {"extmap-allow-mixed": true},
//	 "m": [{"media": "audio", "proto": "UDP/TLS/RTP/SAVPF", "formats": ["111"],
//	        "direction": "sendrecv", "mid": "0", "setup": "active",
//	        "codecs": {"111": {"rtpmap": "opus/48000/2", "fmtp": "useinbandfec=1"}},
//	        "attributes": {"rtcp-mux": true}}]}
//
// The o= session id, version and address, c= lines and m= ports are left
// out (a port of 0, a rejected m-line, shows as "rejected": true), and so
// are the attributes the rules ignore. Other attributes are kept by name:
// true for a flag, the value, or a list of values when repeated. Lines that
// are not "x=value" go in "invalid", unknown line types in "other". It never
// fails: any text gives some structure.
func normaliseSDP(s string, c *compiled) map[string]any {
	out := map[string]any{}
	sec := out
	var media []any
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			appendTo(sec, "invalid", line)
			continue
		}
		val := line[2:]
		switch line[0] {
		case 'v':
			sec["version"] = val
		case 'o':
			// username sess-id sess-version nettype addrtype address
			if f := strings.Fields(val); len(f) == 6 {
				sec["origin"] = f[0] + " " + f[3] + " " + f[4]
			} else {
				sec["origin"] = val
			}
		case 's':
			sec["name"] = val
		case 't':
			sec["timing"] = val
		case 'c':
			// the connection address is the host's
		case 'b':
			appendTo(sec, "bandwidth", val)
		case 'm':
			sec = mediaSection(val)
			media = append(media, sec)
		case 'a':
			attribute(sec, val, c)
		default:
			appendTo(sec, "other", line)
		}
	}
	if media != nil {
		out["m"] = media
	}
	// The order of an attribute's lines (extmap, ssrc-group...) means
	// nothing: they compare as sets.
	for _, sec := range append([]any{out}, media...) {
		if attrs, ok := sec.(map[string]any)["attributes"].(map[string]any); ok {
			for _, v := range attrs {
				if l, ok := v.([]any); ok {
					slices.SortStableFunc(l, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
				}
			}
		}
	}
	return out
}

// mediaSection starts an m-section from the value of its m= line:
// media port proto formats...
func mediaSection(val string) map[string]any {
	sec := map[string]any{}
	f := strings.Fields(val)
	if len(f) > 0 {
		sec["media"] = f[0]
	}
	if len(f) > 1 {
		if port, _, _ := strings.Cut(f[1], "/"); port == "0" {
			sec["rejected"] = true
		}
	}
	if len(f) > 2 {
		sec["proto"] = f[2]
	}
	formats := []any{}
	if len(f) > 3 {
		for _, pt := range f[3:] {
			formats = append(formats, pt)
		}
	}
	sec["formats"] = formats
	return sec
}

// attribute adds the a= line with value val to the section sec.
func attribute(sec map[string]any, val string, c *compiled) {
	name, value, hasValue := strings.Cut(val, ":")
	if c.ignoredAttribute(name) {
		return
	}
	switch name {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		sec["direction"] = name
	case "mid", "setup":
		sec[name] = value
	case "group":
		appendTo(sec, "groups", value)
	case "rtpmap", "fmtp", "rtcp-fb":
		pt, rest, _ := strings.Cut(value, " ")
		codecs, _ := sec["codecs"].(map[string]any)
		if codecs == nil {
			codecs = map[string]any{}
			sec["codecs"] = codecs
		}
		codec, _ := codecs[pt].(map[string]any)
		if codec == nil {
			codec = map[string]any{}
			codecs[pt] = codec
		}
		if name == "rtcp-fb" {
			appendTo(codec, name, rest)
		} else {
			codec[name] = rest
		}
	default:
		attrs, _ := sec["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
			sec["attributes"] = attrs
		}
		var v any = true
		if hasValue {
			v = value
		}
		switch prev := attrs[name].(type) {
		case nil:
			attrs[name] = v
		case []any:
			attrs[name] = append(prev, v)
		default:
			attrs[name] = []any{prev, v}
		}
	}
}

// appendTo appends v to the list at key k of m.
func appendTo(m map[string]any, k string, v any) {
	l, _ := m[k].([]any)
	m[k] = append(l, v)
}
