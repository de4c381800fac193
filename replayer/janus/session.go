package janus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/janustap/janustap/schema"
)

// Exchange is one request and its reply, as a Transcript keeps them.
type Exchange struct {
	Request []byte
	Reply   Reply
	Err     error
}

// Transcript keeps everything a Session sent and received, in order: the
// record a test compares between two runs.
type Transcript struct {
	mu        sync.Mutex
	Exchanges []Exchange
	// Events holds every message received outside a reply, in arrival order.
	Events [][]byte
	// Matched holds the events a WaitEvent returned, in the order the flow
	// asked for them: unlike Events, it does not depend on timing.
	Matched [][]byte
}

func (t *Transcript) addExchange(x Exchange) {
	t.mu.Lock()
	t.Exchanges = append(t.Exchanges, x)
	t.mu.Unlock()
}

func (t *Transcript) addEvent(b []byte) {
	t.mu.Lock()
	t.Events = append(t.Events, b)
	t.mu.Unlock()
}

// Session drives one Janus session the way a client application does, and
// keeps a transcript of it.
type Session struct {
	C  Client
	ID uint64
	// WS says the client is a WebSocket: ids then go into the body.
	WS bool
	T  Transcript
	// Secret, when set, is sent as apisecret in every request.
	Secret string

	backlog [][]byte // events read while waiting for another
}

// NewTx returns a transaction string of 12 random letters, as janus.js makes.
func NewTx() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

// Request sends fields as a Janus request with a new transaction, adding
// session_id and handle_id to the body over WebSocket, and returns the reply
// parsed.
func (s *Session) Request(ctx context.Context, verb string, handle uint64, fields map[string]any) (*schema.Janus, Reply, error) {
	msg := map[string]any{"janus": verb, "transaction": NewTx()}
	for k, v := range fields {
		msg[k] = v
	}
	if s.Secret != "" {
		msg["apisecret"] = s.Secret
	}
	if s.WS && s.ID != 0 {
		msg["session_id"] = s.ID
		if handle != 0 {
			msg["handle_id"] = handle
		}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, Reply{}, fmt.Errorf("encode %s request: %w", verb, err)
	}
	return s.Raw(ctx, body, handle)
}

// Raw sends body as it is (it may be malformed on purpose) and returns the
// reply, parsed when it parses.
func (s *Session) Raw(ctx context.Context, body []byte, handle uint64) (*schema.Janus, Reply, error) {
	sess := s.ID
	if handle != 0 && sess == 0 {
		return nil, Reply{}, fmt.Errorf("request on handle %d without a session", handle)
	}
	r, err := s.C.Do(ctx, body, sess, handle)
	s.T.addExchange(Exchange{Request: body, Reply: r, Err: err})
	if err != nil {
		return nil, r, err
	}
	j, perr := schema.ParseJanus(r.Body)
	if perr != nil {
		return nil, r, nil
	}
	return j, r, nil
}

// Create creates the session; over HTTP it starts the long-poll loop.
func (s *Session) Create(ctx context.Context) error {
	j, r, err := s.Request(ctx, "create", 0, nil)
	if err != nil {
		return err
	}
	if j == nil || j.Janus != "success" || j.DataID == 0 {
		return fmt.Errorf("create session: unexpected answer %s", r.Body)
	}
	s.ID = j.DataID
	if hc, ok := s.C.(*HTTPClient); ok {
		hc.Poll(s.ID)
	}
	return nil
}

// Attach attaches a handle to plugin and returns its id.
func (s *Session) Attach(ctx context.Context, plugin string, fields map[string]any) (uint64, error) {
	f := map[string]any{"plugin": plugin}
	for k, v := range fields {
		f[k] = v
	}
	j, r, err := s.Request(ctx, "attach", 0, f)
	if err != nil {
		return 0, err
	}
	if j == nil || j.Janus != "success" || j.DataID == 0 {
		return 0, fmt.Errorf("attach %s: unexpected answer %s", plugin, r.Body)
	}
	return j.DataID, nil
}

// Message sends a plugin message with an optional jsep.
func (s *Session) Message(ctx context.Context, handle uint64, body map[string]any, jsep map[string]any) (*schema.Janus, Reply, error) {
	f := map[string]any{"body": body}
	if jsep != nil {
		f["jsep"] = jsep
	}
	return s.Request(ctx, "message", handle, f)
}

// WaitEvent returns the first event (in arrival order, including ones read
// earlier while waiting for another) for which match is true.
func (s *Session) WaitEvent(ctx context.Context, match func(*schema.Janus) bool) ([]byte, *schema.Janus, error) {
	for i, b := range s.backlog {
		if j, err := schema.ParseJanus(b); err == nil && match(j) {
			s.backlog = append(s.backlog[:i], s.backlog[i+1:]...)
			s.T.Matched = append(s.T.Matched, b)
			return b, j, nil
		}
	}
	for {
		select {
		case b, ok := <-s.C.Events():
			if !ok {
				return nil, nil, fmt.Errorf("wait for event: %w", ErrClosed)
			}
			s.T.addEvent(b)
			j, err := schema.ParseJanus(b)
			if err == nil && match(j) {
				s.T.Matched = append(s.T.Matched, b)
				return b, j, nil
			}
			s.backlog = append(s.backlog, b)
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("wait for event: %w", ctx.Err())
		}
	}
}

// ForTx matches the event of a transaction.
func ForTx(tx string) func(*schema.Janus) bool {
	return func(j *schema.Janus) bool { return j.Transaction == tx }
}

// ForType matches events whose janus field is typ.
func ForType(typ string) func(*schema.Janus) bool {
	return func(j *schema.Janus) bool { return j.Janus == typ }
}
