package rediscluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/rediscluster"
	"github.com/rushgate/rushgate/internal/rush"
	"github.com/rushgate/rushgate/keyspace"
)

// probe is one token request of the prober.
type probe struct {
	sent       time.Time
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
			body, _ := json.Marshal(map[string]any{"user_id": fmt.Sprintf("probe-%d", i), "concert_id": concert})
			p := probe{sent: time.Now()}
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

// pollStatus is the status of GET /api/queue/position for token.
func pollStatus(t *testing.T, baseURL, token string) int {
	req, _ := http.NewRequest("GET", baseURL+"/api/queue/position", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// SIGKILL of the master holding a concert's line while a rush runs through
// the real HTTP gateway: its replica takes over, the gateway answers 503 with
// Retry-After meanwhile and recovers by itself within 5 s of the promotion;
// no seat is sold twice, money is conserved, and the users who got through
// were admitted in order. The tokens that asynchronous replication lost are
// counted and logged.
func TestAFailoverMidRushLosesNoSeatAndNoMoney(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{NodeTimeout: time.Second})
	const users, dates, seats = 300, 1, 100
	srv, r, _ := clusterGateway(t, c, dates, seats, func(cfg *config.Config) {
		cfg.AdmitPerSecond, cfg.MaxActive = 100, 10000
	})
	keys := keyspace.New(prefix)
	lineKey := keys.Concert(1).Queue()
	master := c.MasterOf(t, lineKey)
	slot := c.Slot(t, lineKey)

	stopProbes := make(chan struct{})
	probes := prober(srv.URL, 1, stopProbes)
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

	// Probes run on until 7 s after the promotion.
	time.Sleep(time.Until(promotedAt.Add(7 * time.Second)))
	close(stopProbes)
	all := probes()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}

	// While the shard was down: 503 with Retry-After, nothing else. Once the
	// rush has sold every seat, entries answer 409 sold_out, as they should.
	var unavailable int
	var lastFailure time.Time
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
	if unavailable == 0 {
		t.Errorf("no probe saw the outage (503): was the line's master killed?")
	}
	if recovery := lastFailure.Sub(promotedAt); recovery > 5*time.Second {
		t.Errorf("last 503 %v after the promotion, want recovery within 5s", recovery.Round(time.Millisecond))
	} else {
		t.Logf("%d probes answered 503 + Retry-After; the last one %v after the promotion", unavailable, recovery.Round(time.Millisecond))
	}

	// Tokens issued shortly before the kill that replication had not yet
	// copied are gone: count them.
	var before, lost int
	for _, p := range all {
		if p.status != http.StatusCreated || !p.sent.Before(killedAt) || killedAt.Sub(p.sent) > time.Second {
			continue
		}
		before++
		if pollStatus(t, srv.URL, p.token) == http.StatusUnauthorized {
			lost++
		}
	}
	t.Logf("tokens issued in the last second before the kill: %d, lost by the failover: %d", before, lost)

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
}
