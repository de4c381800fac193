package drive

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/media"
	"github.com/janustap/janustap/schema"
)

// chromiumOffer is Chromium's simulcast offer in a
// capture of the videoroom demo (?simulcast=true), cut to what matters.
const chromiumOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n" +
	"a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\na=simulcast:send h;m;l\r\n"

// TestSimulcastPlans reads how captured clients sent their simulcast
// layers from the events of a capture: the publisher's offer, Janus's
// media events of its handle, and the substream and temporal events of its
// subscribers.
func TestSimulcastPlans(t *testing.T) {
	const (
		pub, sub = 11, 22 // captured handles
		feed     = 777
	)
	t0 := time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	offer := func(sdp string, ridOrder string) *schema.Event {
		jsep := map[string]any{"type": "offer", "sdp": sdp}
		if ridOrder != "" {
			jsep["rid_order"] = ridOrder
		}
		b, _ := json.Marshal(map[string]any{"janus": "message", "handle_id": pub, "transaction": "t1",
			"body": map[string]any{"request": "configure"}, "jsep": jsep})
		return event(t, schema.ToGateway, b, t0)
	}
	joined := event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"event","sender":%d,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","room":1234,"id":%d}}}`, pub, feed), t0)
	attached := event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"event","sender":%d,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"attached","room":1234,"streams":[{"mid":"0","feed_id":%d,"feed_mid":"0"},{"mid":"1","feed_id":%d,"feed_mid":"1"}]}}}`, sub, feed, feed), t0)
	mediaEv := func(ms, substream int, receiving bool) *schema.Event {
		return event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"media","sender":%d,"mid":"1","type":"video","substream":%d,"receiving":%v}`, pub, substream, receiving), at(ms))
	}
	told := func(key string, v int) *schema.Event {
		return event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"event","sender":%d,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"mid":"1","%s":%d}}}`, sub, key, v), t0)
	}
	audio := event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"media","sender":%d,"mid":"0","type":"audio","receiving":true}`, pub), t0)
	tests := []struct {
		name string
		evs  []*schema.Event
		want map[int]media.Simulcast // of the offer's m-lines
	}{{
		// Chromium at 640×480: m and l, m paused by the bandwidth
		// estimate 2 440 ms after it started; the subscriber is told 0.
		name: "chromium",
		evs: []*schema.Event{offer(chromiumOffer, ""), joined, audio, mediaEv(0, 1, true), mediaEv(20, 0, true),
			attached, told("substream", 0), told("temporal", 2), mediaEv(2440, 1, false)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{
			{RID: "m", Key: media.KeyNever, For: 1440 * time.Millisecond},
			{RID: "l", Key: media.KeyAlways},
		}, Temporal: true}},
	}, {
		name: "subscriber_on_middle",
		evs: []*schema.Event{offer(chromiumOffer, ""), joined, mediaEv(0, 1, true), mediaEv(20, 0, true),
			attached, told("substream", 1), told("substream", 0)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{
			{RID: "m", Key: media.KeyAlways},
			{RID: "l", Key: media.KeyOnRequest},
		}}},
	}, {
		name: "no_subscriber",
		evs:  []*schema.Event{offer(chromiumOffer, ""), joined, mediaEv(0, 2, true), mediaEv(1, 1, true), mediaEv(2, 0, true)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{
			{RID: "h", Key: media.KeyAlways},
			{RID: "m", Key: media.KeyOnRequest},
			{RID: "l", Key: media.KeyOnRequest},
		}}},
	}, {
		name: "paused_and_back",
		evs:  []*schema.Event{offer(chromiumOffer, ""), mediaEv(0, 1, true), mediaEv(20, 0, true), mediaEv(2000, 1, false), mediaEv(3000, 1, true)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{
			{RID: "m", Key: media.KeyAlways},
			{RID: "l", Key: media.KeyOnRequest},
		}}},
	}, {
		// With "rid_order": "lmh" Janus numbers the first a=rid 0.
		name: "rid_order_lmh",
		evs:  []*schema.Event{offer(chromiumOffer, "lmh"), mediaEv(0, 1, true), mediaEv(20, 0, true)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{
			{RID: "m", Key: media.KeyAlways},
			{RID: "h", Key: media.KeyOnRequest},
		}}},
	}, {
		// Two rids: Janus numbers them 1 and 0.
		name: "two_rids",
		evs: []*schema.Event{offer(chromiumOffer[:len(chromiumOffer)-len("a=rid:l send\r\na=simulcast:send h;m;l\r\n")]+"a=simulcast:send h;m\r\n", ""),
			mediaEv(0, 0, true)},
		want: map[int]media.Simulcast{1: {Layers: []media.Layer{{RID: "m", Key: media.KeyAlways}}}},
	}, {
		// Media of a substream the offer has no rid for (two rids: 1 and
		// 0): not planned, the peer sends every rid.
		name: "unknown_substream",
		evs: []*schema.Event{offer(chromiumOffer[:len(chromiumOffer)-len("a=rid:l send\r\na=simulcast:send h;m;l\r\n")]+"a=simulcast:send h;m\r\n", ""),
			mediaEv(0, 2, true)},
	}, {
		name: "no_media_events",
		evs:  []*schema.Event{offer(chromiumOffer, ""), joined, audio},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plans := simulcastPlans(tt.evs)
			sdp := ""
			for _, ev := range tt.evs {
				if ev.Direction == schema.ToGateway {
					sdp, _ = jsepSDP(ev.Body)
				}
			}
			if got := plans[sdp]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan %+v, want %+v", got, tt.want)
			}
			if len(plans) > 1 {
				t.Errorf("%d plans, want at most the offer's", len(plans))
			}
		})
	}
}

// event is a captured message of the flow.
func event(t *testing.T, dir schema.Direction, body []byte, at time.Time) *schema.Event {
	t.Helper()
	j, err := schema.ParseJanus(body)
	if err != nil {
		t.Fatal(err)
	}
	return &schema.Event{Direction: dir, Kind: schema.Frame, Transport: schema.WS, Body: body, Janus: j, Time: at}
}

// jsepSDP returns the SDP of a message's jsep.
func jsepSDP(body []byte) (string, bool) {
	_, sdp := jsepOf(body)
	return sdp, sdp != ""
}

// TestLayeredAnswers picks the answers of the captured subscribers that
// Janus told a substream or temporal layer, and no other.
func TestLayeredAnswers(t *testing.T) {
	answer := func(h int, sdp string) *schema.Event {
		b, _ := json.Marshal(map[string]any{"janus": "message", "handle_id": h, "transaction": "t",
			"body": map[string]any{"request": "start"}, "jsep": map[string]any{"type": "answer", "sdp": sdp}})
		return event(t, schema.ToGateway, b, time.Time{})
	}
	told := func(h int, key string) *schema.Event {
		return event(t, schema.ToClient, fmt.Appendf(nil, `{"janus":"event","sender":%d,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"mid":"1","%s":0}}}`, h, key), time.Time{})
	}
	got := layeredAnswers([]*schema.Event{
		answer(1, "sdp of 1"), answer(2, "sdp of 2"), answer(3, "sdp of 3"), answer(1, "second of 1"),
		told(1, "substream"), told(2, "temporal"), told(3, "configured"),
	})
	if want := map[string]bool{"sdp of 1": true, "sdp of 2": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("layered answers %v, want %v", got, want)
	}
}
