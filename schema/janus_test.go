package schema_test

import (
	"testing"

	"github.com/janustap/janustap/schema"
)

func TestFillPathIDs(t *testing.T) {
	for _, tc := range []struct {
		name            string
		path            string
		dir             schema.Direction
		janus           *schema.Janus
		session, handle uint64
	}{
		{"request", "/janus/11/22", schema.ToGateway, nil, 11, 22},
		{"answer", "/janus/11/22", schema.ToClient, nil, 11, 0},
		{"body-first", "/janus/11/22", schema.ToGateway, &schema.Janus{SessionID: 33, HandleID: 44}, 33, 44},
		{"session-only", "/admin/11", schema.ToGateway, &schema.Janus{Janus: "list_handles"}, 11, 0},
		{"no-ids", "/janus", schema.ToGateway, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &schema.Event{Path: tc.path, Direction: tc.dir, Janus: tc.janus}
			ev.FillPathIDs()
			if tc.session == 0 && tc.handle == 0 && tc.janus == nil {
				if ev.Janus != nil {
					t.Errorf("Janus = %+v, want none for a path without ids", ev.Janus)
				}
				return
			}
			if ev.Janus == nil || ev.Janus.SessionID != tc.session || ev.Janus.HandleID != tc.handle {
				t.Errorf("Janus = %+v, want session %d handle %d", ev.Janus, tc.session, tc.handle)
			}
		})
	}
}
