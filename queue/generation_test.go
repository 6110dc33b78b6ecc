package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
	"github.com/rushgate/rushgate/redisconn"
)

// A Redis that lost the line (restarted empty, flushed) must not show the old
// tokens a made-up place, nor let them in: they are told to enter again. The
// replica learns of the new line at its next admission step (every 50ms by
// default) and, sooner, from any token of the new line.
func TestATokenOfALostLineIsToldToEnterAgain(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 1, MaxActive: 100, ActiveTTL: time.Minute})
	alice := f.enter(t, "alice")
	bob := f.enter(t, "bob")
	f.clock.Add(time.Second)
	f.admit(t) // alice in, bob waiting; this replica's view is fresh
	f.mr.FlushAll()

	// A token of the new line works at once, though this replica's view
	// still holds the old generation.
	carol := f.enter(t, "carol")
	if carol.Claims.Gen == alice.Claims.Gen {
		t.Fatalf("the new line kept the old generation %d", carol.Claims.Gen)
	}
	p, err := f.q.Position(f.ctx, carol.Claims)
	if err != nil {
		t.Fatalf("poll of carol's new token: %v", err)
	}
	if got, want := p.QueuePosition, int64(1); got != want {
		t.Errorf("carol's position = %d, want %d (no head carried over from the lost line)", got, want)
	}

	f.admit(t) // the next admission step
	for _, tk := range []queue.Ticket{alice, bob} {
		if _, err := f.q.Position(f.ctx, tk.Claims); !errors.Is(err, queue.ErrLineReset) || !errors.Is(err, queue.ErrTokenExpired) {
			t.Errorf("poll of %s's old token: %v, want ErrLineReset (a token_expired)", tk.Claims.UserID, err)
		}
		if _, err := f.q.Admitted(f.ctx, tk.Claims); !errors.Is(err, queue.ErrLineReset) {
			t.Errorf("gate of %s's old token: %v, want ErrLineReset", tk.Claims.UserID, err)
		}
	}
	// Entering again gives a token of the new line; the old one stays refused.
	again := f.enter(t, "bob")
	if again.Claims.Gen != carol.Claims.Gen {
		t.Errorf("bob's new token has generation %d, want %d", again.Claims.Gen, carol.Claims.Gen)
	}
	if _, err := f.q.Position(f.ctx, again.Claims); err != nil {
		t.Errorf("poll of bob's new token: %v", err)
	}
	if _, err := f.q.Position(f.ctx, bob.Claims); !errors.Is(err, queue.ErrLineReset) {
		t.Errorf("bob's old token after he entered again: %v, want ErrLineReset", err)
	}
}

func TestAPollInTheSameLineCostsNoRedisRoundTrip(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 1, MaxActive: 100, ActiveTTL: time.Minute})
	f.enter(t, "alice")
	bob := f.enter(t, "bob")
	f.clock.Add(time.Second)
	f.admit(t)
	before := f.mr.CommandCount()
	for range 10 {
		if _, err := f.q.Position(f.ctx, bob.Claims); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.mr.CommandCount() - before; got != 0 {
		t.Errorf("10 polls sent %d Redis commands, want 0", got)
	}
}

// Tokens signed before lines had generations stay valid until they lapse.
func TestATokenWithoutGenerationIsStillAccepted(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 1, MaxActive: 100, ActiveTTL: time.Minute})
	f.enter(t, "alice")
	bob := f.enter(t, "bob")
	old := bob.Claims
	old.Gen = 0
	if _, err := f.q.Position(f.ctx, old); err != nil {
		t.Errorf("poll of a token without generation: %v", err)
	}
}

// The same on a real redis-server that restarts empty.
func TestATokenIssuedBeforeARedisRestartIsToldToEnterAgain(t *testing.T) {
	srv := svctest.StartRedis(t)
	rdb, err := redisconn.Open(context.Background(), testenv.RedisOptions(config.RedisSingle, srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	q := replica(rdb, keyspace.New(""), queue.Settings{AdmitPerSecond: 1000, MaxActive: 100, ActiveTTL: time.Minute})
	ctx := context.Background()
	alice, err := q.Enter(ctx, 1, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Admit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Start() // empty
	if _, err := q.Admit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Position(ctx, alice.Claims); !errors.Is(err, queue.ErrLineReset) {
		t.Errorf("poll after the restart: %v, want ErrLineReset", err)
	}
	if _, err := q.Admitted(ctx, alice.Claims); !errors.Is(err, queue.ErrLineReset) {
		t.Errorf("gate after the restart: %v, want ErrLineReset", err)
	}
}
