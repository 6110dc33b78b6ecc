package rediscluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rediscluster"
	"github.com/rushgate/rushgate/internal/rush"
	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/keyspace"
)

// probe is one token request of the prober.
type probe struct {
	sent       time.Time
	user       string
	status     int
	retryAfter string
	token      string
	code       string // the error code of a 4xx answer
}

// prober enters a new user in concert's line every 20ms until stop, and
// records every answer.
func prober(baseURL string, concert int64, stop <-chan struct{}) func() []probe {
	var (
		mu     sync.Mutex
		probes []probe
		done   = make(chan struct{})
	)
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			user := fmt.Sprintf("probe-%d", i)
			body, _ := json.Marshal(map[string]any{"user_id": user, "concert_id": concert})
			p := probe{sent: time.Now(), user: user}
			resp, err := client.Post(baseURL+"/api/tokens", "application/json", bytes.NewReader(body))
			if err == nil {
				var out struct {
					Token string `json:"token"`
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				p.status, p.retryAfter, p.token, p.code = resp.StatusCode, resp.Header.Get("Retry-After"), out.Token, out.Error.Code
			}
			mu.Lock()
			probes = append(probes, p)
			mu.Unlock()
		}
	}()
	return func() []probe {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return probes
	}
}

// holdProbe is one hold of the hold prober.
type holdProbe struct {
	sent, done time.Time
	seat       int
	err        error
}

// holdProber holds seat after seat of concert (one date of at least 5,000
// seats) every 10ms until stop, four per user, straight through the
// gateway's booking service (the client it was given: with WAIT when the
// gateway has it), and records every answer.
func holdProber(r *gatewaytest.Replica, concert int64, day string, stop <-chan struct{}) func() []holdProbe {
	var (
		mu    sync.Mutex
		holds []holdProbe
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			h := holdProbe{sent: time.Now(), seat: i + 1}
			_, h.err = r.Booking.Hold(ctx, concert, fmt.Sprintf("hold-probe-%d", i/4), day, h.seat)
			h.done = time.Now()
			cancel()
			mu.Lock()
			holds = append(holds, h)
			mu.Unlock()
		}
	}()
	return func() []holdProbe {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return holds
	}
}

// SIGKILL of the master holding a concert's line while a rush runs through
// the real HTTP gateway: a replica takes over, the gateway answers 503 with
// Retry-After meanwhile and recovers by itself within 5 s of the promotion;
// no seat is sold twice, money is conserved, and the users who got through
// were admitted in order. The tokens and holds that asynchronous replication
// lost are counted and logged.
func TestAFailoverMidRushLosesNoSeatAndNoMoney(t *testing.T) {
	lost := failoverMidRush(t, 0)
	t.Logf("without WAIT: tokens lost %d of %d, holds lost %d of %d (answered in the second before the kill or during the outage)",
		lost.tokens, lost.tokensAcked, lost.holds, lost.holdsAcked)
}

// With REDIS_WAIT_REPLICAS=1 (two replicas per master, so that one is left
// to acknowledge after the promotion), the same failover after the same lag
// loses no token and no hold that was answered as made: what the replicas
// had not acknowledged was answered 503.
func TestWithWaitAFailoverMidRushLosesNoAcknowledgedTokenOrHold(t *testing.T) {
	lost := failoverMidRush(t, 1)
	t.Logf("with WAIT 1: tokens lost %d of %d, holds lost %d of %d (answered in the second before the kill or during the outage)",
		lost.tokens, lost.tokensAcked, lost.holds, lost.holdsAcked)
	if lost.tokens != 0 || lost.holds != 0 {
		t.Errorf("with REDIS_WAIT_REPLICAS=1, %d acknowledged tokens and %d acknowledged holds were lost, want 0", lost.tokens, lost.holds)
	}
	if lost.tokensAcked == 0 || lost.holdsAcked == 0 {
		t.Errorf("nothing to check: %d tokens and %d holds acknowledged around the kill", lost.tokensAcked, lost.holdsAcked)
	}
}

// cutReplication makes the master's replicas fall behind for d, as a slow
// or distant replica does, so that the kill finds writes not yet copied: the
// master stops accepting replication (ACL: the default user may no longer
// PSYNC or SYNC) and drops its replicas' links, then serves clients alone.
func cutReplication(t *testing.T, master *svctest.Redis, d time.Duration) {
	t.Helper()
	node := rediscluster.Node(master)
	defer node.Close()
	ctx := context.Background()
	if err := node.Do(ctx, "ACL", "SETUSER", "default", "-psync", "-sync").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	if err := node.ClientKillByFilter(ctx, "TYPE", "replica").Err(); err != nil {
		t.Fatalf("CLIENT KILL TYPE replica: %v", err)
	}
	time.Sleep(d)
}

// inLine reports whether the user's token is in the concert's line, waiting,
// admitted, or skipped as silent (the probes never poll). (A poll would not tell: a waiting poll is answered from the
// replica's copy of the admission head, without Redis.)
func inLine(t *testing.T, rdb redis.UniversalClient, k keyspace.Concert, user string) bool {
	t.Helper()
	ctx := context.Background()
	err := rdb.ZScore(ctx, k.Waiting(), user).Err()
	if err == nil {
		return true
	}
	if !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	for _, set := range []string{k.ActiveUsers(), k.SkippedUsers()} {
		n, err := rdb.HExists(ctx, set, user).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n {
			return true
		}
	}
	return false
}

// losses are the tokens and holds answered as made in the second before the
// kill or during the outage (acked), and how many of them the promoted
// replica does not have.
type losses struct{ tokensAcked, tokens, holdsAcked, holds int }

func failoverMidRush(t *testing.T, waitReplicas int) losses {
	opts := rediscluster.Options{NodeTimeout: time.Second}
	if waitReplicas > 0 {
		opts.ReplicasPerMaster = waitReplicas + 1
	}
	c := rediscluster.Start(t, opts)
	// More seats than users: a sold-out concert releases its line, and the
	// probes' tokens would then look lost.
	const users, dates, seats = 300, 1, 400
	srv, r, other := clusterGateway(t, c, dates, seats, func(cfg *config.Config) {
		cfg.AdmitPerSecond, cfg.MaxActive = 100, 10000
		cfg.RedisWaitReplicas = waitReplicas
	})
	keys := keyspace.New(prefix)
	lineKey := keys.Concert(1).Queue()
	master := c.MasterOf(t, lineKey)
	slot := c.Slot(t, lineKey)

	// The hold prober's concert lives on the same master as concert 1.
	holdConcert := other + 1
	for c.MasterOf(t, keys.Concert(holdConcert).Queue()).Addr() != master.Addr() {
		holdConcert++
	}
	day := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	ctx := context.Background()
	if _, err := bookingdb.New(r.DB).CreateConcert(ctx, bookingdb.NewConcert{
		ID: holdConcert, Name: "Holds on the line's master", Days: []string{day},
		Blocks: []bookingdb.Block{{From: 1, To: 5000, Price: price}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Booking.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	stopProbes := make(chan struct{})
	probes := prober(srv.URL, 1, stopProbes)
	holdProbes := holdProber(r, holdConcert, day, stopProbes)
	type result struct {
		rep *rush.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := rush.Run(context.Background(), rush.Options{
			BaseURL: srv.URL, Users: users, ArrivalRate: 60, Duration: 120 * time.Second, Concurrency: 32,
			AdminToken: adminToken, PollScale: 0.1, SeatsOffered: dates * seats,
		})
		done <- result{rep, err}
	}()

	time.Sleep(2 * time.Second) // the rush is under way: users arriving, holding, paying
	killedAt := time.Now()
	master.Kill()
	promoted, promotedAt := c.WaitFailover(t, master, slot, 30*time.Second)
	t.Logf("master %s killed; replica %s promoted %v later", master.Addr(), promoted.Addr(), promotedAt.Sub(killedAt).Round(time.Millisecond))
	// With WAIT, writes can be acknowledged again only once enough replicas
	// follow the promoted master: recovery is timed from then.
	followed := make(chan time.Time, 1)
	if waitReplicas > 0 {
		go func() { followed <- replicasFollow(promoted.Addr(), waitReplicas, promotedAt.Add(30*time.Second)) }()
	} else {
		followed <- promotedAt
	}

	// Probes run on until 7 s after the promotion.
	time.Sleep(time.Until(promotedAt.Add(7 * time.Second)))
	close(stopProbes)
	all := probes()
	holds := holdProbes()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}

	unavailable, lastFailure := outageAnswers(t, all, killedAt)
	if unavailable == 0 {
		t.Errorf("no probe saw the outage (503): was the line's master killed?")
	}
	serving := <-followed
	if serving.IsZero() {
		t.Fatalf("fewer than %d replicas followed the promoted master within 30 s", waitReplicas)
	}
	if recovery := lastFailure.Sub(serving); recovery > 5*time.Second {
		t.Errorf("last 503 %v after the promotion (replicas following %v after it), want recovery within 5s",
			lastFailure.Sub(promotedAt).Round(time.Millisecond), serving.Sub(promotedAt).Round(time.Millisecond))
	} else {
		t.Logf("%d probes answered 503 + Retry-After; the last one %v after the promotion (replicas following %v after it)",
			unavailable, lastFailure.Sub(promotedAt).Round(time.Millisecond), serving.Sub(promotedAt).Round(time.Millisecond))
	}

	// What was answered as made in the second before the kill, or while the
	// master was down (its answer may have come from the dying master's
	// buffers), and is missing on the promoted replica, was lost.
	around := func(sent time.Time) bool {
		return !sent.Before(killedAt.Add(-time.Second)) && sent.Before(promotedAt)
	}
	var l losses
	for _, p := range all {
		if p.status != http.StatusCreated || !around(p.sent) {
			continue
		}
		l.tokensAcked++
		if !inLine(t, r.Redis, keys.Concert(1), p.user) {
			l.tokens++
		}
	}
	var holdErrs, holdOK int
	for _, h := range holds {
		if h.err != nil {
			holdErrs++
			if !errors.Is(h.err, booking.ErrUnavailable) {
				t.Errorf("hold of seat %d %v after the kill: %v, want a success or ErrUnavailable", h.seat, h.sent.Sub(killedAt).Round(time.Millisecond), h.err)
			}
			continue
		}
		holdOK++
		if !around(h.sent) {
			continue
		}
		l.holdsAcked++
		n, err := r.Redis.Exists(ctx, keys.Concert(holdConcert).Seat(day, h.seat)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			l.holds++
		}
	}
	t.Logf("hold prober: %d holds made, %d answered unavailable", holdOK, holdErrs)

	rep := res.rep
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("rush:\n%s", text.String())
	for _, inv := range rep.Invariants {
		if !inv.OK() {
			t.Errorf("invariant %s: %d violations", inv.Name, inv.Violations)
		}
	}
	if rep.SeatsSold == 0 {
		t.Errorf("the rush sold nothing: outcomes %v", rep.Outcomes)
	}
	t.Logf("users whose token was lost: %d of %d", rep.Outcomes[rush.OutcomeTokenLost], users)
	checkBooks(t, r)
	return l
}

// replicasFollow returns when at least n replicas of the master at addr are
// online (INFO replication), or the zero time if none by deadline.
func replicasFollow(addr string, n int, deadline time.Time) time.Time {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for time.Now().Before(deadline) {
		info, err := rdb.Info(context.Background(), "replication").Result()
		if err == nil && strings.Count(info, "state=online") >= n {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}
}

// outageAnswers checks the probes' answers around a kill: 503 with
// Retry-After while the master was down, nothing else but success (or 409
// sold_out once a rush has sold every seat). It returns how many were 503
// and when the last of them was sent.
func outageAnswers(t *testing.T, all []probe, killedAt time.Time) (unavailable int, lastFailure time.Time) {
	t.Helper()
	for _, p := range all {
		switch {
		case p.status == http.StatusCreated || p.status == http.StatusOK:
		case p.status == http.StatusConflict && p.code == "sold_out":
		case p.status == http.StatusServiceUnavailable && p.retryAfter != "":
			unavailable++
			lastFailure = p.sent
		default:
			t.Errorf("probe at %v after the kill: status %d, Retry-After %q; want 201, 409 sold_out, or 503 with Retry-After",
				p.sent.Sub(killedAt).Round(time.Millisecond), p.status, p.retryAfter)
		}
	}
	return unavailable, lastFailure
}
