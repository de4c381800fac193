package bus_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/recorder/bus/bustest"
)

func TestEnsureStream(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})

	s := ensureStream(t, js)
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if got, want := c.Name, bus.DefaultStream; got != want {
		t.Errorf("name %q, want %q", got, want)
	}
	if got, want := c.Subjects, []string{"janustap.>"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("subjects %q, want %q", got, want)
	}
	if got, want := c.Storage, jetstream.FileStorage; got != want {
		t.Errorf("storage %v, want %v", got, want)
	}
	if got, want := c.Discard, jetstream.DiscardNew; got != want {
		t.Errorf("discard %v, want %v", got, want)
	}
	if got, want := c.Duplicates, bus.DefaultDuplicates; got != want {
		t.Errorf("duplicate window %v, want %v", got, want)
	}
	if got, want := c.MaxBytes, int64(-1); got != want {
		t.Errorf("max bytes %d, want %d", got, want)
	}
	if got, want := c.MaxAge, time.Duration(0); got != want {
		t.Errorf("max age %v, want %v", got, want)
	}

	t.Run("idempotent", func(t *testing.T) {
		again := ensureStream(t, js)
		info2, err := again.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !info2.Created.Equal(info.Created) {
			t.Errorf("stream created again at %v, first at %v", info2.Created, info.Created)
		}
	})

	t.Run("update", func(t *testing.T) {
		cfg := bus.StreamConfig{MaxAge: 5 * time.Minute, MaxBytes: 1 << 30}
		s, err := bus.EnsureStream(t.Context(), js, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		if got, want := c.MaxAge, 5*time.Minute; got != want {
			t.Errorf("max age %v, want %v", got, want)
		}
		if got, want := c.MaxBytes, int64(1<<30); got != want {
			t.Errorf("max bytes %d, want %d", got, want)
		}
		if got, want := c.Duplicates, 5*time.Minute; got != want {
			t.Errorf("duplicate window %v, want %v (cut to max age)", got, want)
		}
	})

	t.Run("prefix", func(t *testing.T) {
		s, err := bus.EnsureStream(t.Context(), js, bus.StreamConfig{Name: "LAB", Prefix: "lab.janus"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.CachedInfo().Config.Subjects, "lab.janus.>"; len(got) != 1 || got[0] != want {
			t.Errorf("subjects %q, want %q", got, want)
		}
	})
}

func TestEnsureStreamRefusesBadPrefix(t *testing.T) {
	_, js := connect(t, bustest.Start(t).ClientURL(), bus.ConnectOptions{})
	for _, prefix := range []string{"a..b", "a.*", "a.>", "a b", ".a", "a."} {
		if _, err := bus.EnsureStream(t.Context(), js, bus.StreamConfig{Prefix: prefix}); err == nil {
			t.Errorf("stream made with prefix %q", prefix)
		}
	}
}
