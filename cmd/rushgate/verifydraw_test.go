package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/queue"
)

// TestVerifyDrawReproducesTheAdmissionOrderOfARealPrequeue puts 20,000 users
// in the pre-queue of a gateway on the real Redis, opens the sale, admits
// everyone in steps and checks that each step admitted exactly the next
// users of the order verify-draw reproduces from the published draw.
func TestVerifyDrawReproducesTheAdmissionOrderOfARealPrequeue(t *testing.T) {
	const entrants = 20000
	r := gatewaytest.New(t, 1, 10, 10000, func(c *config.Config) { c.AbandonAfter = time.Hour })
	ctx := context.Background()
	opens := time.Now().Add(time.Hour)
	if _, err := r.Queue.Schedule(ctx, 1, &opens); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Queue.Admit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	users := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range users {
				if tk, err := r.Queue.Enter(ctx, 1, u); err != nil || tk.Status != queue.StatusPrequeue {
					t.Errorf("enter %s: %v %+v", u, err, tk.Status)
				}
			}
		}()
	}
	for i := 0; i < entrants; i++ {
		users <- fmt.Sprintf("fan%05d", i)
	}
	close(users)
	wg.Wait()
	srv := httptest.NewServer(r.Handler)
	defer srv.Close()
	var out bytes.Buffer
	if err := run(ctx, []string{"verify-draw", "--url", srv.URL, "--concert", "1"}, nil, &out, io.Discard); err == nil {
		t.Errorf("verify-draw before the open passed:\n%s", out.String())
	}

	now := time.Now()
	if _, err := r.Queue.Schedule(ctx, 1, &now); err != nil {
		t.Fatal(err)
	}
	rate, maxActive := 1e6, int64(100000)
	if _, err := r.Queue.UpdateSettings(ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate, MaxActive: &maxActive}); err != nil {
		t.Fatal(err)
	}
	// Each admission step admits a batch; record which users each made active.
	var steps [][]string
	seen := map[string]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	for len(seen) < entrants {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d admitted in 2 minutes", len(seen), entrants)
		}
		a, err := r.Queue.Admit(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a.Admitted == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		active, err := r.Redis.HKeys(ctx, r.Keys.Concert(1).ActiveUsers()).Result()
		if err != nil {
			t.Fatal(err)
		}
		var step []string
		for _, u := range active {
			if !seen[u] {
				seen[u] = true
				step = append(step, u)
			}
		}
		steps = append(steps, step)
	}

	out.Reset()
	if err := run(ctx, []string{"verify-draw", "--url", srv.URL, "--concert", "1", "--user", "fan00042", "--keys"}, nil, &out, io.Discard); err != nil {
		t.Fatalf("verify-draw: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], "20000 keys ascending") || !strings.HasPrefix(lines[1], "user fan00042: key ") {
		t.Fatalf("verify-draw said:\n%s\n%s", lines[0], lines[1])
	}
	keys := lines[2:]
	if len(keys) != entrants {
		t.Fatalf("verify-draw printed %d keys, want %d", len(keys), entrants)
	}
	d, err := r.Queue.Draw(ctx, 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := keyerFor(t, d.Seed)
	at := 0
	for i, step := range steps {
		want := slices.Clone(keys[at : at+len(step)])
		var got []string
		for _, u := range step {
			got = append(got, keyOf(u))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("admission step %d admitted users whose keys are not places %d…%d of verify-draw's order", i, at+1, at+len(step))
		}
		at += len(step)
	}
	t.Logf("%d users admitted in %d steps, each step exactly the next places of verify-draw's order", entrants, len(steps))
}

func keyerFor(t *testing.T, seedHex string) func(string) string {
	t.Helper()
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		t.Fatal(err)
	}
	k := draw.NewKeyer(seed)
	return k.Key
}
