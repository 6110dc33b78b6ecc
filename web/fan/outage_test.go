package fan_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/browsertest"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/svctest"
)

// A Redis outage: the page says it is reconnecting, backs off, and when
// Redis answers again shows the same place with the same token, without
// entering the line again. The Redis is a private server behind a proxy
// that cuts every connection, so its data (the line) outlive the outage.
func TestARedisOutageShowsReconnectingAndKeepsThePlace(t *testing.T) {
	server := svctest.StartRedis(t)
	proxy := faultproxy.Start(t, server.Addr())
	rdb := redis.NewClient(&redis.Options{
		Addr: proxy.Addr(), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
	})
	t.Cleanup(func() { rdb.Close() })
	rep := gatewaytest.NewOn(t, rdb, "rg:", 1, 20, 10000, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := rep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); rep.StopAdmitting() })
	s := serve(t, rep, nil)

	s.admin(map[string]any{"paused": true})
	s.enter("ahead1")
	s.enter("ahead2")
	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.open("/wait/1?user_id=carol")
	f.waitJS("place 3", `document.getElementById('w-pos')?.textContent === '3'`, 10*time.Second)
	token := f.token("carol")

	f.Allow(`status of 503`)
	proxy.Cut()
	cut := time.Now()
	f.waitJS("reconnecting", `document.querySelector('main').dataset.reconnecting === 'yes'`, 20*time.Second)
	if got := f.text("#banner-text"); got != "Reconnecting… your place is kept." {
		t.Errorf("banner says %q", got)
	}
	// The place stays on screen while reconnecting.
	if got := f.text("#w-pos"); got != "3" {
		t.Errorf("place during the outage shows %q, want the last known 3", got)
	}
	f.snap("reconnecting")
	// Let the back-off run a few rounds, then check its spacing.
	for len(failedPolls(s, token)) < 4 {
		if time.Since(cut) > 60*time.Second {
			t.Fatalf("only %d failed polls in a minute of outage", len(failedPolls(s, token)))
		}
		time.Sleep(200 * time.Millisecond)
	}
	failed := failedPolls(s, token)
	for i := 1; i < len(failed); i++ {
		gap := failed[i].at.Sub(failed[i-1].at)
		// Back-off doubles from 1 s: round i waits at least 2^(i-1) s.
		if want := time.Duration(1<<(i-1)) * time.Second; gap < want-30*time.Millisecond {
			t.Errorf("retry %d came %v after the previous; the back-off asks for at least %v", i, gap, want)
		}
	}

	proxy.Restore()
	f.waitJS("reconnected", `document.querySelector('main').dataset.reconnecting === 'no'`, 60*time.Second)
	f.waitJS("place 3 again", `document.getElementById('w-pos')?.textContent === '3'`, 10*time.Second)
	if got := f.token("carol"); got != token {
		t.Error("the token changed over the outage")
	}
	if n := len(s.log.find("POST", "/api/tokens")); n != 3 {
		t.Errorf("%d entries to the line; want 3 (two by the API, carol's once)", n)
	}
	s.admin(map[string]any{"paused": false})
	f.waitState("checkout", 20*time.Second)
}

// failedPolls are the polls of a token that were answered 503.
func failedPolls(s *site, token string) []logged {
	var out []logged
	for _, p := range s.log.find("GET", "/api/queue/position") {
		if p.auth == "Bearer "+token && p.status == 503 {
			out = append(out, p)
		}
	}
	return out
}
