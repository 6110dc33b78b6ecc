package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

type fixture struct {
	q     *queue.Queue
	mr    *miniredis.Miniredis
	rdb   *redis.Client
	clock *testenv.Clock
	ctx   context.Context
}

// newFixture is a queue on miniredis with a test clock and the given settings.
func newFixture(t *testing.T, s queue.Settings) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	clk := testenv.NewClock(time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC))
	q := queue.New(rdb, keyspace.New(""), queue.NewSigner([]byte("test-secret")), queue.Config{
		TokenTTL: 2 * time.Hour, Defaults: s, Now: clk.Now,
		// These tests drive the clock far without polling: nobody abandons.
		AbandonAfter: 24 * time.Hour,
	})
	return &fixture{q: q, mr: mr, rdb: rdb, clock: clk, ctx: context.Background()}
}

func (f *fixture) enter(t *testing.T, user string) queue.Ticket {
	t.Helper()
	tk, err := f.q.Enter(f.ctx, 1, user)
	if err != nil {
		t.Fatalf("Enter(%s): %v", user, err)
	}
	return tk
}

func (f *fixture) admit(t *testing.T) queue.Admission {
	t.Helper()
	a, err := f.q.Admit(f.ctx, 1)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return a
}

var fast = queue.Settings{AdmitPerSecond: 10, MaxActive: 100, ActiveTTL: time.Minute}

func TestEnterTwiceReturnsTheSameTokenAndPlace(t *testing.T) {
	f := newFixture(t, fast)
	a := f.enter(t, "alice")
	b := f.enter(t, "bob")
	again := f.enter(t, "alice")
	if !a.Created || !b.Created || again.Created {
		t.Errorf("created = %v %v %v, want true true false", a.Created, b.Created, again.Created)
	}
	if again.Token != a.Token || again.Claims.Seq != a.Claims.Seq {
		t.Errorf("second entry got token %d, want the first (%d)", again.Claims.Seq, a.Claims.Seq)
	}
	if got, want := []int64{a.Position, b.Position, again.Position}, []int64{1, 2, 1}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("positions = %v, want %v", got, want)
	}
	if got, want := a.Claims.ExpiresAt.Sub(a.Claims.IssuedAt), 2*time.Hour; got != want {
		t.Errorf("token lifetime = %v, want %v", got, want)
	}
}

func TestEnterWhileActiveReturnsTheActiveToken(t *testing.T) {
	f := newFixture(t, fast)
	first := f.enter(t, "alice")
	f.admit(t)
	f.clock.Add(time.Second)
	if got := f.admit(t).Admitted; got != 1 {
		t.Fatalf("admitted %d, want 1", got)
	}
	again := f.enter(t, "alice")
	if again.Created || again.Token != first.Token || again.Status != queue.StatusActive || again.Position != 0 {
		t.Errorf("re-entry while active = %+v, want the same token, active, position 0", again)
	}
}

func TestAdmitWithNobodyWaitingAdmitsNothingAndDoesNotStall(t *testing.T) {
	f := newFixture(t, fast)
	for i := 0; i < 3; i++ {
		f.clock.Add(time.Second)
		if a := f.admit(t); a.Admitted != 0 || a.Waiting != 0 || a.Head != 0 {
			t.Fatalf("empty admission = %+v", a)
		}
	}
	f.enter(t, "late")
	f.clock.Add(time.Second)
	if got := f.admit(t).Admitted; got != 1 {
		t.Errorf("after an idle line, admitted %d, want 1", got)
	}
}

func TestAdmitIsFIFOAndObeysTheRate(t *testing.T) {
	f := newFixture(t, fast) // 10/s
	var tickets []queue.Ticket
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11", "u12"} {
		tickets = append(tickets, f.enter(t, u))
	}
	f.admit(t) // starts the bucket
	f.clock.Add(500 * time.Millisecond)
	a := f.admit(t)
	if got, want := a.Admitted, int64(2); got != want { // bucket depth 250ms at 10/s = 2.5 tokens
		t.Fatalf("admitted %d after 500ms, want %d (bucket depth caps the burst)", got, want)
	}
	for i, tk := range tickets {
		_, err := f.q.Admitted(f.ctx, tk.Claims)
		if i < 2 && err != nil {
			t.Errorf("ticket %d: %v, want active", i+1, err)
		}
		var na *queue.NotAdmittedError
		if i >= 2 && (!errors.As(err, &na) || na.Position != int64(i-1)) {
			t.Errorf("ticket %d: err %v, want not admitted at position %d", i+1, err, i-1)
		}
	}
}

func TestAdmitCarriesFractionsOfATokenAcrossSteps(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 2.5, MaxActive: 100, ActiveTTL: time.Minute})
	for i := 0; i < 20; i++ {
		f.enter(t, fmt.Sprintf("user%d", i))
	}
	f.admit(t)
	var total int64
	for i := 0; i < 40; i++ { // 4 s in 100 ms steps: 0.25 tokens a step
		f.clock.Add(100 * time.Millisecond)
		total += f.admit(t).Admitted
	}
	if got, want := total, int64(10); got != want {
		t.Errorf("admitted %d in 4s at 2.5/s, want %d", got, want)
	}
}

func TestAdmitNeverExceedsMaxActive(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 1000, MaxActive: 3, ActiveTTL: time.Minute})
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		f.enter(t, u)
	}
	f.admit(t)
	f.clock.Add(time.Second)
	a := f.admit(t)
	if a.Admitted != 3 || a.Active != 3 || a.Waiting != 2 {
		t.Fatalf("admission = %+v, want 3 admitted, 3 active, 2 waiting", a)
	}
	f.clock.Add(time.Second)
	if got := f.admit(t).Admitted; got != 0 {
		t.Errorf("admitted %d with max_active full, want 0", got)
	}
}

func TestPausedAdmitsNoneAndResumesWithoutABurst(t *testing.T) {
	f := newFixture(t, fast)
	for i := 0; i < 50; i++ {
		f.enter(t, fmt.Sprintf("p%d", i))
	}
	paused := true
	if _, err := f.q.UpdateSettings(f.ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		f.clock.Add(time.Second)
		if got := f.admit(t).Admitted; got != 0 {
			t.Fatalf("admitted %d while paused", got)
		}
	}
	paused = false
	if _, err := f.q.UpdateSettings(f.ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	f.admit(t)
	f.clock.Add(100 * time.Millisecond)
	if got := f.admit(t).Admitted; got != 1 {
		t.Errorf("first 100ms after resuming admitted %d, want 1 (no credit saved while paused)", got)
	}
}

func TestActiveTokensExpireAndFreeTheirSlot(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 100, MaxActive: 1, ActiveTTL: 30 * time.Second})
	a := f.enter(t, "a")
	b := f.enter(t, "b")
	f.admit(t)
	f.clock.Add(time.Second)
	f.admit(t)
	if _, err := f.q.Admitted(f.ctx, a.Claims); err != nil {
		t.Fatalf("a not active: %v", err)
	}
	f.clock.Add(30 * time.Second)
	if _, err := f.q.Admitted(f.ctx, a.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("a after its active TTL: %v, want ErrTokenExpired", err)
	}
	f.admit(t)
	if _, err := f.q.Admitted(f.ctx, b.Claims); err != nil {
		t.Errorf("b should take a's freed slot: %v", err)
	}
	if again := f.enter(t, "a"); !again.Created || again.Claims.Seq == a.Claims.Seq {
		t.Errorf("a re-entering after expiry got %+v, want a new token", again)
	}
}

func TestWaitingTokensThatExpiredAreSkipped(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 100, MaxActive: 10, ActiveTTL: time.Minute})
	old := f.enter(t, "old")
	f.clock.Add(2*time.Hour - time.Second)
	fresh := f.enter(t, "fresh")
	f.clock.Add(2 * time.Second) // old is now past its 2h TTL
	f.admit(t)
	f.clock.Add(time.Second)
	a := f.admit(t)
	if a.Admitted != 1 || a.Head != fresh.Claims.Seq {
		t.Fatalf("admission = %+v, want only the fresh token", a)
	}
	if _, err := f.q.Admitted(f.ctx, old.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("expired waiting token: %v, want ErrTokenExpired", err)
	}
	if _, err := f.q.Position(f.ctx, old.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("poll of an expired token: %v, want ErrTokenExpired", err)
	}
}

func TestReleaseFreesTheSlotAndKillsTheToken(t *testing.T) {
	f := newFixture(t, queue.Settings{AdmitPerSecond: 100, MaxActive: 1, ActiveTTL: time.Minute})
	a := f.enter(t, "a")
	b := f.enter(t, "b")
	f.admit(t)
	f.clock.Add(time.Second)
	f.admit(t)
	if err := f.q.Release(f.ctx, a.Claims); err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Admitted(f.ctx, a.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("released token: %v, want ErrTokenExpired", err)
	}
	f.clock.Add(time.Second)
	f.admit(t)
	if _, err := f.q.Admitted(f.ctx, b.Claims); err != nil {
		t.Errorf("b should get the released slot: %v", err)
	}
	if err := f.q.Release(f.ctx, a.Claims); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestPositionIsASubtractionAndNeedsNoRedisWhileFresh(t *testing.T) {
	f := newFixture(t, fast)
	var last queue.Ticket
	for i := 0; i < 30; i++ {
		last = f.enter(t, fmt.Sprintf("w%d", i))
	}
	f.admit(t)
	f.clock.Add(time.Second) // 10/s, bucket depth caps at 2.5: 2 admitted
	f.admit(t)
	f.mr.Close() // Redis gone: a waiting poll must still be answered from memory
	p, err := f.q.Position(f.ctx, last.Claims)
	if err != nil {
		t.Fatalf("poll without Redis: %v", err)
	}
	if p.Status != queue.StatusWaiting || p.QueuePosition != 28 || p.Ahead != 27 {
		t.Errorf("position = %+v, want waiting at 28 with 27 ahead", p)
	}
	if p.EstimatedWait == nil || *p.EstimatedWait != 3*time.Second {
		t.Errorf("estimated wait = %v, want 3s (27 ahead at 10/s)", p.EstimatedWait)
	}
	f.clock.Add(3 * time.Second) // the copy is stale now: the poll must ask Redis, and fail
	if _, err := f.q.Position(f.ctx, last.Claims); err == nil {
		t.Error("a stale view answered without Redis")
	}
}

func TestPositionWhilePausedHasNoEstimate(t *testing.T) {
	f := newFixture(t, fast)
	tk := f.enter(t, "a")
	paused := true
	f.q.UpdateSettings(f.ctx, 1, queue.SettingsPatch{Paused: &paused})
	f.admit(t)
	p, err := f.q.Position(f.ctx, tk.Claims)
	if err != nil {
		t.Fatal(err)
	}
	if p.EstimatedWait != nil {
		t.Errorf("estimate while paused = %v, want none", *p.EstimatedWait)
	}
}

func TestPollAfterGrowsWithPosition(t *testing.T) {
	for _, tc := range []struct {
		pos    int64
		rate   float64
		paused bool
		want   time.Duration
	}{
		{1, 100, false, time.Second},
		{10_000, 100, false, 10 * time.Second},
		{100_000, 100, false, 30 * time.Second},
		{500, 10, false, 5 * time.Second},
		{300, 0, true, 3 * time.Second},
		{1, 0, true, time.Second},
	} {
		if got := queue.PollAfter(tc.pos, tc.rate, tc.paused); got != tc.want {
			t.Errorf("PollAfter(%d, %v, %v) = %v, want %v", tc.pos, tc.rate, tc.paused, got, tc.want)
		}
	}
}

func TestUpdateSettingsRejectsOutOfRange(t *testing.T) {
	f := newFixture(t, fast)
	neg, huge := -1.0, 2e6
	short := time.Millisecond
	for _, p := range []queue.SettingsPatch{{AdmitPerSecond: &neg}, {AdmitPerSecond: &huge}, {ActiveTTL: &short}} {
		if _, err := f.q.UpdateSettings(f.ctx, 1, p); !errors.Is(err, queue.ErrInvalidSettings) {
			t.Errorf("UpdateSettings(%+v) = %v, want ErrInvalidSettings", p, err)
		}
	}
	rate, max := 250.5, int64(42)
	st, err := f.q.UpdateSettings(f.ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate, MaxActive: &max})
	if err != nil {
		t.Fatal(err)
	}
	if st.AdmitPerSecond != 250.5 || st.MaxActive != 42 || st.ActiveTTL != time.Minute {
		t.Errorf("settings = %+v", st.Settings)
	}
}
