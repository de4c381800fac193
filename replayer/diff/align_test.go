package diff

import (
	"reflect"
	"strings"
	"testing"
)

func TestAlign(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       [][2]int
	}{
		{"same", "abc", "abc", [][2]int{{0, 0}, {1, 1}, {2, 2}}},
		{"one_missing_in_b", "abcd", "abd", [][2]int{{0, 0}, {1, 1}, {3, 2}}},
		{"one_extra_in_b", "abd", "abxd", [][2]int{{0, 0}, {1, 1}, {2, 3}}},
		{"b_stops_early", "abcd", "ab", [][2]int{{0, 0}, {1, 1}}},
		{"one_changed", "abcd", "abxd", [][2]int{{0, 0}, {1, 1}, {3, 3}}},
		{"middle_reordered", "axyb", "ayxb", [][2]int{{0, 0}, {2, 1}, {3, 3}}},
		{"empty", "", "ab", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := align(strings.Split(tc.a, ""), strings.Split(tc.b, ""))
			if tc.a == "" {
				got = align(nil, strings.Split(tc.b, ""))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("align(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestJoinKey(t *testing.T) {
	tests := []struct{ path, key, want string }{
		{"", "janus", "janus"},
		{"plugindata", "data", "plugindata.data"},
		{"info", "log-path", "info.log-path"},
		{"jsep.sdp.m[0].codecs", "111", "jsep.sdp.m[0].codecs.111"},
		{"info", "a.b", `info["a.b"]`},
		{"", "", `[""]`},
		{"x", "with space", `x["with space"]`},
	}
	for _, tc := range tests {
		if got := joinKey(tc.path, tc.key); got != tc.want {
			t.Errorf("joinKey(%q, %q) = %q, want %q", tc.path, tc.key, got, tc.want)
		}
	}
}

func TestIsPlaceholder(t *testing.T) {
	for s, want := range map[string]bool{
		"$S1": true, `"$S1"`: true, "$ignored": true, "$ID12": true, "$addr": true,
		"$": false, "$1": false, "S1": false, `"$S1`: false, "$S1x": false, "": false, `""`: false, "$S-1": false,
	} {
		if got := isPlaceholder(s); got != want {
			t.Errorf("isPlaceholder(%q) = %v, want %v", s, got, want)
		}
	}
}
