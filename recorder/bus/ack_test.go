package bus

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		status  string
		dup     bool
		errCode jetstream.ErrorCode // of a *jetstream.APIError
		err     error               // errors.Is
		bad     bool                // some other error
	}{
		{name: "plain", data: `{"stream":"JANUSTAP","seq":42}`},
		{name: "domain", data: `{"stream":"JANUSTAP","domain":"hub","seq":42}`},
		{name: "space", data: `{"stream":"JANUSTAP", "seq": 42}`},
		{name: "duplicate_server_2_15", data: `{"stream":"JANUSTAP","seq":42,"duplicate": true}`, dup: true},
		{name: "duplicate_json", data: `{"stream":"JANUSTAP","seq":42,"duplicate":true}`, dup: true},
		{name: "stream_named_error", data: `{"stream":"error","seq":7}`},
		{name: "store_failed", data: `{"error":{"code":503,"err_code":10077,"description":"error saving message"},"stream":"JANUSTAP"}`, errCode: JSStreamStoreFailed},
		{name: "error_after_stream", data: `{"stream":"JANUSTAP","error":{"code":400,"err_code":10054,"description":"maximum messages exceeded"}}`, errCode: 10054},
		{name: "no_responders", status: "503", err: jetstream.ErrNoStreamResponse},
		{name: "not_json", data: `nope`, bad: true},
		{name: "no_stream", data: `{"seq":1}`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &nats.Msg{Subject: "_INBOX.x.1", Data: []byte(tc.data), Header: nats.Header{}}
			if tc.status != "" {
				m.Header.Set("Status", tc.status)
			}
			dup, err := parseAck(m)
			var api *jetstream.APIError
			switch {
			case tc.errCode != 0:
				if !errors.As(err, &api) || api.ErrorCode != tc.errCode {
					t.Errorf("error %v, want a JetStream API error with code %d", err, tc.errCode)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("error %v, want %v", err, tc.err)
				}
			case tc.bad:
				if err == nil {
					t.Errorf("no error for %q", tc.data)
				}
			case err != nil:
				t.Errorf("error %v", err)
			}
			if dup != tc.dup {
				t.Errorf("duplicate %v, want %v", dup, tc.dup)
			}
		})
	}
}
