//go:build linux

package faults_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/janustap/janustap/recorder"
	"github.com/janustap/janustap/recorder/bus"
	"github.com/janustap/janustap/replayer/janus/janustest"
)

// TestClusterNodeKilled runs serve against a three-node NATS cluster (see
// the package documentation) with the event stream replicated three ways,
// and kills the node leading the stream under load, then starts it again:
// signaling is not disturbed, and the log and the database end with every
// event once.
func TestClusterNodeKilled(t *testing.T) {
	j := janustest.Start(t, janustest.Options{})
	c := startCluster(t)
	js := connectLog(t, c.url())
	// serve has no flag for the stream's replicas: the operator creates
	// the stream, R3, before serve runs.
	janustest.WaitFor(t, 30*time.Second, func() error {
		// Short tries: until the cluster has elected its meta leader, a
		// request waits out its whole timeout.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Replicas: 3})
		return err
	})
	if got := streamInfo(t, js).Config.Replicas; got != 3 {
		t.Fatalf("the stream was created with %d replicas, want 3", got)
	}
	args := append(tapArgs(j), "--nats", c.url())
	if serveHasFlag(t, "stream-replicas") {
		args = append(args, "--stream-replicas", "3")
	}
	data := t.TempDir()
	tp := startTap(t, data, args...)
	l := startLoad(t, tp.httpURL(), tp.wsURL(), *clients)
	l.waitOK(t, 20, 30*time.Second)

	info := streamInfo(t, js)
	replicated := info.Config.Replicas == 3
	if !replicated {
		// serve's bus.EnsureStream updates the stream to its own
		// configuration, whose Replicas is 0 (one copy).
		t.Errorf("the stream has %d replicas once serve runs, want the 3 it was created with: serve scaled it down", info.Config.Replicas)
	}
	leader := slices.IndexFunc(c.nodes, func(n *child) bool { return n.name == "nats-server "+info.Cluster.Leader })
	if leader < 0 {
		t.Fatalf("stream leader %q is none of the nodes", info.Cluster.Leader)
	}
	killed := c.nodes[leader]
	t.Logf("killing %s, the stream's leader", killed.name)
	killed.kill()
	l.waitOK(t, 20, 30*time.Second) // two nodes of three: the stream goes on
	killed.start()
	l.waitOK(t, 20, 30*time.Second)
	l.stop()

	counts := l.report(t)
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d flows failed: a NATS node's fate must not touch signaling", n)
	}
	evs := settled(t, js, expect{sessions: l.sessions(), db: filepath.Join(data, recorder.DBFile)})
	t.Logf("%d events in the log and the database; clients: %v", len(evs), counts)
	// The node that came back catches up with the others.
	if !replicated {
		return
	}
	janustest.WaitFor(t, 30*time.Second, func() error {
		info := streamInfo(t, js)
		if len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("stream led by %s has replicas %+v, want 2 besides the leader", info.Cluster.Leader, info.Cluster.Replicas)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s is not current (lag %d, offline %v)", r.Name, r.Lag, r.Offline)
			}
		}
		return nil
	})
}

// serveHasFlag reports whether `janustap serve` has the flag --name.
func serveHasFlag(t testing.TB, name string) bool {
	t.Helper()
	out, err := exec.Command(janustapBin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("janustap serve --help: %v\n%s", err, out)
	}
	return strings.Contains(string(out), "--"+name+" ")
}

func streamInfo(t testing.TB, js jetstream.JetStream) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, bus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil {
		t.Fatal("stream info has no cluster")
	}
	return info
}
