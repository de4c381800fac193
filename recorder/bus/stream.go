package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the event stream.
const (
	// DefaultStream is the name of the event stream.
	DefaultStream = "JANUSTAP"
	// DefaultPrefix is the first token of every event subject.
	DefaultPrefix = "janustap"
	// DefaultDuplicates is the stream's duplicate window: a publish whose
	// msg id the stream saw within it is acknowledged but not stored again.
	// It covers a publish retried after a lost acknowledgement and a
	// restart of the tap with records in flight. The server keeps every msg
	// id of the window in memory (about 120 bytes each, measured with
	// nats-server 2.x: 260 MB for 10 minutes at 3 600 events/s), so it is
	// minutes, not hours; a duplicate beyond it is stored twice in the log
	// and skipped by the recorder, which keys events by id.
	DefaultDuplicates = 10 * time.Minute
)

// StreamConfig describes the event stream. The zero value is the default
// stream.
type StreamConfig struct {
	// Name is the stream's name; "" means DefaultStream.
	Name string
	// Prefix is the first token(s) of the subjects: the stream holds
	// Prefix.>. "" means DefaultPrefix.
	Prefix string
	// Replicas is the number of copies in a cluster; 0 means 1.
	Replicas int
	// MaxBytes caps the stream's size; 0 means no limit. A full stream
	// refuses new events (they wait in the spool) and deletes none.
	MaxBytes int64
	// MaxAge is how long events are kept; 0 means forever.
	MaxAge time.Duration
	// Duplicates is the duplicate window; 0 means DefaultDuplicates. It is
	// cut to MaxAge when MaxAge is shorter, as JetStream requires.
	Duplicates time.Duration
}

// StreamName returns the stream's name: Name, or DefaultStream.
func (c StreamConfig) StreamName() string { return orDefault(c.Name, DefaultStream) }

// Subjects returns the subject filter covering every event of the stream.
func (c StreamConfig) Subjects() string { return orDefault(c.Prefix, DefaultPrefix) + ".>" }

// JetStream returns the JetStream configuration of the stream.
func (c StreamConfig) JetStream() jetstream.StreamConfig {
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	dups := c.Duplicates
	if dups == 0 {
		dups = DefaultDuplicates
	}
	if c.MaxAge > 0 && dups > c.MaxAge {
		dups = c.MaxAge
	}
	replicas := c.Replicas
	if replicas == 0 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:        c.StreamName(),
		Description: "janustap events: every Janus signaling message that crossed a tap",
		Subjects:    []string{c.Subjects()},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     -1,
		MaxBytes:    maxBytes,
		MaxAge:      c.MaxAge,
		Duplicates:  dups,
		Replicas:    replicas,
	}
}

// EnsureStream creates the event stream, or updates it to cfg when it
// exists.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if err := checkPrefix(orDefault(cfg.Prefix, DefaultPrefix)); err != nil {
		return nil, fmt.Errorf("ensure stream: %w", err)
	}
	jc := cfg.JetStream()
	s, err := js.CreateOrUpdateStream(ctx, jc)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s on %s: %w", jc.Name, jc.Subjects[0], err)
	}
	return s, nil
}

// checkPrefix refuses a subject prefix with empty tokens, wildcards or
// white space.
func checkPrefix(prefix string) error {
	for tok := range strings.SplitSeq(prefix, ".") {
		if !validToken(tok) {
			return fmt.Errorf("invalid subject prefix %q", prefix)
		}
	}
	return nil
}

// validToken reports whether tok can be one token of a literal subject.
func validToken(tok string) bool {
	if tok == "" || tok == "*" || tok == ">" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c == 0x7f || c == '.' {
			return false
		}
	}
	return true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
