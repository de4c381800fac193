package replayer_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/recorder/tap/taptest"
	"github.com/janustap/janustap/replayer"
	"github.com/janustap/janustap/replayer/diff"
	"github.com/janustap/janustap/replayer/drive"
	"github.com/janustap/janustap/replayer/janus"
	"github.com/janustap/janustap/replayer/janus/janustest"
	"github.com/janustap/janustap/replayer/rewrite"
	"github.com/janustap/janustap/schema"
)

// authClient adds an apisecret or a token to every request body, as a
// client of a Janus that requires one does.
type authClient struct {
	janus.Client
	key, value string
}

func (a authClient) Do(ctx context.Context, body []byte, session, handle uint64) (janus.Reply, error) {
	b := append([]byte(`{"`+a.key+`":"`+a.value+`",`), bytes.TrimPrefix(bytes.TrimSpace(body), []byte("{"))...)
	return a.Client.Do(ctx, b, session, handle)
}

// queryAuth adds key=value to the query of GETs (the long-polls).
type queryAuth struct{ key, value string }

func (q queryAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		r := req.Clone(req.Context())
		v := r.URL.Query()
		v.Set(q.key, q.value)
		r.URL.RawQuery = v.Encode()
		req = r
	}
	return http.DefaultTransport.RoundTrip(req)
}

// addToken adds a stored token to a Janus started with token auth (-A).
func addToken(t *testing.T, j *janustest.Janus, token string) {
	t.Helper()
	body := `{"janus":"add_token","token":"` + token + `","transaction":"t","admin_secret":"` + j.AdminSecret + `"}`
	resp, err := http.Post(j.AdminHTTP, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if j, err := schema.ParseJanus(b.Bytes()); err != nil || j.Janus != "success" {
		t.Fatalf("add_token: %s", b.String())
	}
}

// captureAuth runs the echotest flow through tp over transport with the
// secret or token, and returns its events.
func captureAuth(t *testing.T, tp *taptest.Tap, transport, key, value string) []*schema.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	before := len(tp.Mem.Events())
	var c janus.Client
	var hc *janus.HTTPClient
	if transport == "http" {
		hc = janus.NewHTTP(tp.HTTP())
		hc.HTTP = &http.Client{Transport: queryAuth{key, value}}
		c = hc
	} else {
		ws, err := janus.DialWS(ctx, tp.WS(), janus.Protocol)
		if err != nil {
			t.Fatal(err)
		}
		c = ws
	}
	defer c.Close()
	s := &janus.Session{C: authClient{c, key, value}, WS: transport == "ws"}
	if err := s.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if hc != nil {
		hc.Poll(s.ID)
	}
	if err := janus.RunEchoTest(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	return tp.Mem.Events()[before:]
}

// TestReplayWithSecrets captures a flow on a Janus that requires an API
// secret, and on one that requires a token, over REST and WebSocket (the
// tap redacts the secret), and replays it on a second Janus configured the
// same, with the secret given to the replay: it matches. Over REST the
// long-polls must carry the secret too, or no event comes back.
func TestReplayWithSecrets(t *testing.T) {
	const secret = "s3cret-for-test"
	cases := []struct {
		name, key string
		args      []string
		secrets   rewrite.Secrets
	}{
		{"apisecret", "apisecret", []string{"-a", secret}, rewrite.Secrets{APISecret: secret}},
		{"token", "token", []string{"-A"}, rewrite.Secrets{Token: secret}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := janustest.Start(t, janustest.Options{Args: tc.args})
			b := janustest.Start(t, janustest.Options{Args: tc.args})
			if tc.key == "token" {
				addToken(t, a, secret)
				addToken(t, b, secret)
			}
			tp := taptest.New(t, a, "a")
			for _, from := range []string{"http", "ws"} {
				evs := captureAuth(t, tp, from, tc.key, secret)
				for _, ev := range evs {
					if bytes.Contains(ev.Body, []byte(secret)) || strings.Contains(ev.Path, secret) {
						t.Fatalf("the capture holds the secret: %s %s", ev.Path, ev.Body)
					}
				}
				for _, to := range []schema.Transport{schema.HTTP, schema.WS} {
					t.Run(from+"_over_"+string(to), func(t *testing.T) {
						opts := replayer.Options{Options: drive.Options{
							Target: drive.Target{HTTP: b.HTTP, WS: b.WS}, Transport: to,
							Secrets: tc.secrets, Wait: 3 * time.Second,
						}}
						if err := replayer.Check(t.Context(), evs, opts); err != nil {
							t.Fatal(err)
						}
						res, err := replayer.Replay(t.Context(), evs, opts)
						if err != nil {
							t.Fatal(err)
						}
						run := res.Runs[0]
						if len(run.Waits)+len(run.Errors) > 0 || !res.Same() {
							var buf bytes.Buffer
							diff.WriteText(&buf, res.Reports[0])
							t.Fatalf("replay with the secret: waits %q errors %q\n%s", run.Waits, run.Errors, buf.String())
						}
					})
				}
			}
		})
	}
}
