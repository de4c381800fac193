package schema

import (
	"strconv"
	"strings"
)

// Summary returns one readable line for ev, without its time: gateway,
// transport, direction, kind, then what the message was. It is what
// `janustap tail` prints.
func Summary(ev *Event) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString(ev.Gateway)
	b.WriteByte(' ')
	b.WriteString(string(ev.Transport))
	b.WriteByte(' ')
	b.WriteString(string(ev.Direction))
	b.WriteByte(' ')
	b.WriteString(string(ev.Kind))
	if ev.Method != "" && (ev.Kind == Request || ev.Kind == Open) {
		b.WriteString(" " + ev.Method + " " + ev.Path)
	}
	if ev.Status != 0 {
		b.WriteString(" " + strconv.Itoa(ev.Status))
	}
	if ev.Parts > 1 {
		b.WriteString(" [" + strconv.Itoa(ev.Part+1) + "/" + strconv.Itoa(ev.Parts) + "]")
	}
	if j := ev.Janus; j != nil {
		if j.Janus != "" {
			b.WriteString(" " + j.Janus)
		}
		if j.SessionID != 0 {
			b.WriteString(" s=" + strconv.FormatUint(j.SessionID, 10))
		}
		if h := ev.HandleID(); h != 0 {
			b.WriteString(" h=" + strconv.FormatUint(h, 10))
		}
		if j.DataID != 0 {
			b.WriteString(" id=" + strconv.FormatUint(j.DataID, 10))
		}
		if j.Transaction != "" {
			b.WriteString(" tx=" + j.Transaction)
		}
		if j.Plugin != "" {
			b.WriteString(" " + strings.TrimPrefix(j.Plugin, "janus.plugin."))
		}
		if j.PluginKey != "" {
			b.WriteString(" " + j.PluginKey)
			if j.PluginValue != "" {
				b.WriteString("=" + j.PluginValue)
			}
		}
		if j.PluginError != 0 {
			b.WriteString(" plugin_error=" + strconv.Itoa(j.PluginError))
		}
		if j.HasJSEP {
			b.WriteString(" jsep=" + j.JSEP)
		}
		if j.ErrorCode != 0 {
			b.WriteString(" error=" + strconv.Itoa(j.ErrorCode) + " " + strconv.Quote(j.ErrorReason))
		}
		if j.Reason != "" {
			b.WriteString(" reason=" + strconv.Quote(j.Reason))
		}
	} else if ev.ParseError != "" && len(ev.Body) > 0 {
		b.WriteString(" unparsed (" + strconv.Itoa(ev.BodySize) + " bytes)")
	}
	if ev.Kind == JanusEvent && !ev.Truncated {
		if env, err := ParseEvhEnvelope(ev.Body); err == nil {
			name, detail := EvhDescribe(env)
			if name != "" {
				b.WriteString(" " + name)
			}
			if detail != "" {
				b.WriteString(" " + strconv.Quote(detail))
			}
		}
	}
	if ev.Kind == Close {
		b.WriteString(" code=" + strconv.Itoa(ev.CloseCode))
		if ev.CloseText != "" {
			b.WriteString(" " + strconv.Quote(ev.CloseText))
		}
	}
	if ev.Error != "" {
		b.WriteString(" error=" + strconv.Quote(ev.Error))
	}
	if ev.Truncated {
		b.WriteString(" truncated")
	}
	return b.String()
}
