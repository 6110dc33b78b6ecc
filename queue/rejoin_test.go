package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// skipAll enters users, lets them fall silent and has admission skip them
// all, on a clock the test drives.
func skipAll(t *testing.T, q *queue.Queue, clk *testenv.Clock, users ...string) []queue.Ticket {
	t.Helper()
	var tickets []queue.Ticket
	for _, u := range users {
		tickets = append(tickets, mustEnter(t, q, u))
	}
	clk.Add(time.Minute) // past ABANDON_AFTER (30 s)
	rate := 1000.0
	if _, err := q.UpdateSettings(context.Background(), 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, q)
	clk.Add(time.Second)
	if a := mustAdmit(t, q); a.SkippedTotal != int64(len(users)) || a.AdmittedTotal != 0 {
		t.Fatalf("after the silence: skipped %d admitted %d, want %d and 0", a.SkippedTotal, a.AdmittedTotal, len(users))
	}
	return tickets
}

// activeSlots counts the user's entries in the concert's active set.
func activeSlots(t *testing.T, mr *miniredis.Miniredis, user string) int {
	t.Helper()
	members, err := mr.ZMembers(keyspace.New("").Concert(1).Active())
	if err != nil && !errors.Is(err, miniredis.ErrKeyNotFound) {
		t.Fatal(err)
	}
	n := 0
	for _, m := range members {
		if len(m) > len(user) && m[len(m)-len(user)-1:] == ":"+user {
			n++
		}
	}
	return n
}

func TestASkippedUserWhoEntersAgainGetsTheSkippedTokenBackFirstInLine(t *testing.T) {
	for _, pollFirst := range []bool{false, true} {
		name := map[bool]string{false: "EnterThenPoll", true: "PollThenEnter"}[pollFirst]
		t.Run(name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			clk := testenv.NewClock(start)
			q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour}, nil)
			old := skipAll(t, q, clk, "reloader")[0]
			later := mustEnter(t, q, "later")
			clk.Add(2 * time.Minute)
			if pollFirst {
				poll(t, q, old)
			}
			again := mustEnter(t, q, "reloader")
			if again.Created || again.Token != old.Token || again.Status != queue.StatusWaiting || again.Position != 1 {
				t.Fatalf("entry within the grace = created %v, seq %d, status %s at %d; want the skipped token (seq %d) back, waiting at 1",
					again.Created, again.Claims.Seq, again.Status, again.Position, old.Claims.Seq)
			}
			if !pollFirst {
				if p := poll(t, q, old); p.Status != queue.StatusWaiting || p.QueuePosition != 1 || p.EstimatedWait == nil || *p.EstimatedWait != 0 {
					t.Errorf("poll of the returned token = %+v, want waiting at 1 with no wait (not the paused null)", p)
				}
			}
			poll(t, q, later)
			clk.Add(time.Second)
			mustAdmit(t, q)
			clk.Add(time.Second)
			a := mustAdmit(t, q)
			if n := activeSlots(t, mr, "reloader"); n != 1 {
				t.Errorf("reloader holds %d active slots, want 1", n)
			}
			if a.AdmittedTotal != 2 {
				t.Errorf("admitted_total %d, want 2 (reloader once, later once)", a.AdmittedTotal)
			}
			if _, err := q.Admitted(context.Background(), old.Claims); err != nil {
				t.Errorf("the returned token: %v, want active", err)
			}
		})
	}
}

func TestAnEntryAfterTheGraceStartsAtTheBackAndTheOldTokenStaysExpired(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.RejoinGrace = 5 * time.Minute })
	old := skipAll(t, q, clk, "slow")[0]
	ahead := mustEnter(t, q, "ahead")
	clk.Add(6 * time.Minute)
	poll(t, q, ahead)
	mustAdmit(t, q) // forgets the skip, past the grace
	again := mustEnter(t, q, "slow")
	if !again.Created || again.Claims.Seq == old.Claims.Seq || again.Position != 1 {
		t.Fatalf("entry after the grace = %+v, want a new token behind nobody waiting... at 1 after ahead's admission", again)
	}
	if _, err := q.Position(context.Background(), old.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("old token after the grace: %v, want ErrTokenExpired", err)
	}
	poll(t, q, again)
	clk.Add(time.Second)
	mustAdmit(t, q)
	if n := activeSlots(t, mr, "slow"); n != 1 {
		t.Errorf("slow holds %d active slots, want 1", n)
	}
	if _, err := q.Admitted(context.Background(), again.Claims); err != nil {
		t.Errorf("the new token: %v, want active", err)
	}
}

// Even if a user somehow held a waiting entry and a rejoined token at once,
// admission never spends two slots on them.
func TestAdmissionNeverActivatesAUserTwice(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour}, nil)
	old := skipAll(t, q, clk, "twice")[0]
	poll(t, q, old) // rejoined
	// A stray waiting entry for the same user, behind the rejoined token.
	mr.ZAdd(keyspace.New("").Concert(1).Waiting(), float64(old.Claims.Seq+100), "twice")
	clk.Add(time.Second)
	mustAdmit(t, q)
	clk.Add(time.Second)
	a := mustAdmit(t, q)
	if n := activeSlots(t, mr, "twice"); n != 1 || a.AdmittedTotal != 1 {
		t.Errorf("twice holds %d active slots, admitted_total %d; want 1 and 1", n, a.AdmittedTotal)
	}
}
