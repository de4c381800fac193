package schema_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/janustap/janustap/schema"
)

// TestRedactHostDetails checks which answers lose their host details and
// that the bodies keep their shape.
func TestRedactHostDetails(t *testing.T) {
	serverInfo := "{\n   \"janus\": \"server_info\",\n   \"transaction\": \"a1B2c3D4e5F\",\n   \"log-to-file\": true,\n" +
		"   \"log-path\": \"/var/log/janus/janus.log\",\n   \"server-name\": \"MyJanusInstance\",\n" +
		"   \"local-ip\": \"192.0.2.10\",\n   \"public-ips\": [ \"203.0.113.5\",\"203.0.113.6\" ],\n   \"ipv6\": false\n}"
	handleInfo := `{"janus":"success","session_id":1,"transaction":"hi","handle_id":2,"info":{"webrtc":{"ice":{"local-candidates":["1 1 udp 2015363327 192.0.2.10 40000 typ host"],` +
		`"remote-candidates":["1 1 udp 2122260223 198.51.100.7 50000 typ host"],"selected-pair":"192.0.2.10:40000 [host,udp] <-> 198.51.100.7:50000 [host,udp]","ready":1}}}}`
	for _, tc := range []struct {
		name string
		ev   schema.Event
		want string // the body after; "" means unchanged
	}{
		{"server-info", schema.Event{Transport: schema.HTTP, Direction: schema.ToClient, Kind: schema.Response, Body: []byte(serverInfo)},
			"{\n   \"janus\": \"server_info\",\n   \"transaction\": \"a1B2c3D4e5F\",\n   \"log-to-file\": true,\n" +
				"   \"log-path\": \"REDACTED\",\n   \"server-name\": \"MyJanusInstance\",\n" +
				"   \"local-ip\": \"REDACTED\",\n   \"public-ips\": [ \"REDACTED\",\"REDACTED\" ],\n   \"ipv6\": false\n}"},
		{"server-info-ws", schema.Event{Transport: schema.WS, Direction: schema.ToClient, Kind: schema.Frame, Body: []byte(serverInfo)},
			"{\n   \"janus\": \"server_info\",\n   \"transaction\": \"a1B2c3D4e5F\",\n   \"log-to-file\": true,\n" +
				"   \"log-path\": \"REDACTED\",\n   \"server-name\": \"MyJanusInstance\",\n" +
				"   \"local-ip\": \"REDACTED\",\n   \"public-ips\": [ \"REDACTED\",\"REDACTED\" ],\n   \"ipv6\": false\n}"},
		{"handle-info", schema.Event{Transport: schema.AdminHTTP, Direction: schema.ToClient, Kind: schema.Response, Body: []byte(handleInfo)},
			`{"janus":"success","session_id":1,"transaction":"hi","handle_id":2,"info":{"webrtc":{"ice":{"local-candidates":["REDACTED"],` +
				`"remote-candidates":["1 1 udp 2122260223 198.51.100.7 50000 typ host"],"selected-pair":"REDACTED","ready":1}}}}`},
		{"cut-short", schema.Event{Transport: schema.AdminWS, Direction: schema.ToClient, Kind: schema.Frame,
			Body: []byte(`{"janus":"server_info","log-path":"/var/log/jan`), Truncated: true},
			`{"janus":"server_info","log-path":"REDACTED"`},
		{"request", schema.Event{Transport: schema.AdminHTTP, Direction: schema.ToGateway, Kind: schema.Request,
			Body: []byte(`{"janus":"resolve_address","local-ip":"192.0.2.10"}`)}, ""},
		{"plugin-event", schema.Event{Transport: schema.WS, Direction: schema.ToClient, Kind: schema.Frame,
			Body: []byte(`{"janus":"event","plugindata":{"data":{"local-ip":"192.0.2.10"}}}`)}, ""},
		{"already", schema.Event{Transport: schema.AdminWS, Direction: schema.ToClient, Kind: schema.Frame,
			Body: []byte(`{"janus":"server_info","log-path":"REDACTED"}`)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.V, ev.ID, ev.Gateway, ev.Time = schema.Version, "01JREDACT", "gw", time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
			if j, err := schema.ParseJanus(ev.Body); err == nil {
				ev.Janus = j
			} else if tc.name == "cut-short" {
				ev.Janus = &schema.Janus{Janus: "server_info"} // as the tap parses a whole body before cutting it
			}
			raw, err := schema.Encode(&ev)
			if err != nil {
				t.Fatal(err)
			}
			got, changed, err := schema.RedactHostDetails(raw)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if changed || !bytes.Equal(got, raw) {
					t.Errorf("changed:\n%s", got)
				}
				return
			}
			out, err := schema.Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !changed || string(out.Body) != tc.want || !out.Redacted || out.Labels["redacted"] != "host-details" {
				t.Errorf("redacted (%v) to\n%s\nwant\n%s\nredacted %v labels %v", changed, out.Body, tc.want, out.Redacted, out.Labels)
			}
			if again, changed, _ := schema.RedactHostDetails(got); changed || !bytes.Equal(again, got) {
				t.Errorf("a second pass changed it again")
			}
		})
	}
}

// FuzzRedactStrings checks that any body redacts without panicking, that a
// second pass changes nothing, and that nothing but the values changes.
func FuzzRedactStrings(f *testing.F) {
	f.Add([]byte(`{"janus":"server_info","log-path":"/var/log/janus.log","local-ip":"192.0.2.1"}`))
	f.Add([]byte(`{"local-candidates":["a","b\"c", 3, "d"],"selected-pair":"x"}`))
	f.Add([]byte(`{"log-path":"/var/lo`))
	f.Add([]byte(`{"log-path":["a",`))
	f.Add([]byte(`"log-path":"\\"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, changed := schema.RedactStrings(body, schema.JanusEventHostKeys)
		if !changed && !bytes.Equal(out, body) {
			t.Fatalf("unchanged, yet %q became %q", body, out)
		}
		again, changed2 := schema.RedactStrings(out, schema.JanusEventHostKeys)
		if changed2 || !bytes.Equal(again, out) {
			t.Fatalf("second pass changed %q to %q", out, again)
		}
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("valid JSON %q became invalid %q", body, out)
		}
	})
}
