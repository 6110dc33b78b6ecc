package rediscluster_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rediscluster"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/redisconn"
)

// Two gateways share a cluster (two replicas per master), one with
// REDIS_WAIT_REPLICAS=0 and one with 1, each entering users and holding
// seats of a concert whose slot lives on the same master. Its replicas fall
// 600 ms behind (they may no longer sync), then it is SIGKILLed and a
// replica promoted. Without WAIT, tokens and holds answered as made in
// those 600 ms are gone; with WAIT, every token and hold answered as made
// survives (the rest were answered 503).
func TestWaitKeepsWhatAsynchronousReplicationLosesInAFailover(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{NodeTimeout: time.Second, ReplicasPerMaster: 2})
	rdb, err := redisconn.Open(context.Background(), testenv.RedisOptions(config.RedisCluster, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	// Two replicas per master: one to spare for WAIT 1, none for WAIT 2.
	if ws := redisconn.WaitWarnings(context.Background(), rdb, 1); len(ws) != 0 {
		t.Errorf("REDIS_WAIT_REPLICAS=1 on 2 replicas per master: warnings %q", ws)
	}
	if ws := redisconn.WaitWarnings(context.Background(), rdb, 2); len(ws) != 3 {
		t.Errorf("REDIS_WAIT_REPLICAS=2 on 2 replicas per master: warnings %q, want one per master", ws)
	}
	const holdSeats = 5000
	day := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	type side struct {
		name   string
		r      *gatewaytest.Replica
		keys   keyspace.Space
		tokens func() []probe
		holds  func() []holdProbe
	}
	stop := make(chan struct{})
	var sides []*side
	// Both prefixes hash concert 1 to the same slot ({c:1}), so to the
	// same master.
	for _, w := range []struct {
		name   string
		prefix string
		wait   int
	}{{"without WAIT", "rgnowait:", 0}, {"with WAIT 1", "rgwait:", 1}} {
		r := gatewaytest.NewOn(t, rdb, w.prefix, 1, holdSeats, price, func(cfg *config.Config) {
			cfg.AdminToken = adminToken
			cfg.RedisMode, cfg.RedisURL = config.RedisCluster, c.URL()
			cfg.AdmitPerSecond, cfg.MaxActive = 0, 10000 // nobody is admitted: every token stays waiting
			cfg.RedisWaitReplicas = w.wait
		})
		ctx := context.Background()
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(r.Handler)
		t.Cleanup(func() {
			srv.Close()
			r.StopAdmitting()
		})
		sides = append(sides, &side{name: w.name, r: r, keys: keyspace.New(w.prefix)})
		sides[len(sides)-1].tokens = prober(srv.URL, 1, stop)
		sides[len(sides)-1].holds = holdProber(r, 1, day, stop)
	}
	master := c.MasterOf(t, sides[0].keys.Concert(1).Queue())
	slot := c.Slot(t, sides[0].keys.Concert(1).Queue())
	if other := c.MasterOf(t, sides[1].keys.Concert(1).Queue()); other.Addr() != master.Addr() {
		t.Fatalf("the two concerts are on %s and %s, want one master", master.Addr(), other.Addr())
	}

	time.Sleep(1500 * time.Millisecond) // entries and holds under way on both
	cutAt := time.Now()
	cutReplication(t, master, 600*time.Millisecond)
	killedAt := time.Now()
	master.Kill()
	promoted, promotedAt := c.WaitFailover(t, master, slot, 30*time.Second)
	t.Logf("replication cut %v before the kill; %s promoted %v after it", killedAt.Sub(cutAt).Round(time.Millisecond),
		promoted.Addr(), promotedAt.Sub(killedAt).Round(time.Millisecond))
	time.Sleep(time.Until(promotedAt.Add(3 * time.Second)))
	close(stop)

	lost := map[string][2]int{}
	for _, s := range sides {
		var tokensAcked, tokensLost, holdsAcked, holdsLost, unavailable int
		for _, p := range s.tokens() {
			switch {
			case p.status == http.StatusServiceUnavailable && p.retryAfter != "":
				unavailable++
			case p.status != http.StatusCreated:
				t.Errorf("%s: entry at %v after the cut: status %d, want 201 or 503 with Retry-After", s.name, p.sent.Sub(cutAt).Round(time.Millisecond), p.status)
			case !p.sent.Before(cutAt) && p.sent.Before(promotedAt):
				tokensAcked++
				if !inLine(t, rdb, s.keys.Concert(1), p.user) {
					tokensLost++
				}
			}
		}
		for _, h := range s.holds() {
			if h.err != nil {
				if !errors.Is(h.err, booking.ErrUnavailable) {
					t.Errorf("%s: hold of seat %d: %v, want a success or ErrUnavailable", s.name, h.seat, h.err)
				}
				unavailable++
				continue
			}
			if h.sent.Before(cutAt) || !h.sent.Before(promotedAt) {
				continue
			}
			holdsAcked++
			n, err := rdb.Exists(context.Background(), s.keys.Concert(1).Seat(day, h.seat)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				holdsLost++
			}
		}
		t.Logf("%s: answered as made between the cut and the promotion: %d tokens (%d lost), %d holds (%d lost); %d answers unavailable",
			s.name, tokensAcked, tokensLost, holdsAcked, holdsLost, unavailable)
		lost[s.name] = [2]int{tokensLost, holdsLost}
	}
	if l := lost["with WAIT 1"]; l != [2]int{} {
		t.Errorf("with WAIT: %d tokens and %d holds answered as made were lost, want none", l[0], l[1])
	}
	if l := lost["without WAIT"]; l[0] == 0 || l[1] == 0 {
		t.Errorf("without WAIT: %d tokens and %d holds lost; the cut replication should have lost some of each (did the cut work?)", l[0], l[1])
	}
}
