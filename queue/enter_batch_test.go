package queue_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/lua"
)

// The enter script run directly on miniredis: a batch must answer and write
// exactly what the same users entering one by one would.

type enterScript struct {
	mr   *miniredis.Miniredis
	rdb  *redis.Client
	keys []string
}

func newEnterScript(t *testing.T) *enterScript {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	k := keyspace.New("").Concert(1)
	return &enterScript{mr: mr, rdb: rdb, keys: []string{k.Waiting(), k.Active(), k.ActiveUsers(), k.Seq(), k.Timeline(),
		k.Queue(), k.Prequeue(), k.Heartbeats(), k.Skipped(), k.Rejoined(), k.SkippedUsers()}}
}

const (
	scriptTTL   = 2 * 3600 * 1000
	scriptGrace = 600 * 1000
)

func (e *enterScript) run(now int64, users ...string) ([]int64, error) {
	args := []any{now, scriptTTL, 30_000, 4242, scriptGrace}
	for _, u := range users {
		args = append(args, u)
	}
	res, err := lua.Enter.Run(context.Background(), e.rdb, e.keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	// Each user's whole answer, as the queue reads it: its six values, then
	// the scheduled open and the line's generation the script answers once.
	if len(res) != 2+6*len(users) {
		return nil, fmt.Errorf("reply of %d values for %d users", len(res), len(users))
	}
	var out []int64
	for i := range users {
		out = append(out, res[2+6*i:8+6*i]...)
		out = append(out, res[0], res[1])
	}
	return out, nil
}

func TestEnterScriptBatchAnswersAndWritesAsOneByOne(t *testing.T) {
	batched, single := newEnterScript(t), newEnterScript(t)
	t0 := int64(1_900_000_000_000)
	// Both stores start alike: "act" holds an active token, "gone" one
	// that lapsed a second ago, "sk" a token that admission skipped as
	// silent a second ago.
	for _, e := range []*enterScript{batched, single} {
		e.mr.Set(e.keys[3], "101")
		e.mr.ZAdd(e.keys[4], 100, fmt.Sprint(t0/1000-10))
		e.mr.HSet(e.keys[2], "act", "100")
		e.mr.ZAdd(e.keys[1], float64(t0+60_000), "100:act")
		e.mr.HSet(e.keys[2], "gone", "99")
		e.mr.ZAdd(e.keys[1], float64(t0-1000), "99:gone")
		e.mr.HSet(e.keys[10], "sk", fmt.Sprintf("101:%d:%d", t0/1000-10, t0+scriptTTL))
		e.mr.ZAdd(e.keys[8], float64(t0-1000), "101:sk")
	}
	// Rounds of arrivals: new users, a user twice in one batch, users coming
	// back in a later batch, users whose tokens expired in between, and a
	// user whose active token lapsed, twice in one batch (the first entry
	// drops the lapsed token and takes a place, the second finds it).
	rounds := []struct {
		now   int64
		users []string
	}{
		{t0, []string{"a", "act", "b", "sk", "c", "gone", "b", "d", "sk", "gone"}},
		{t0 + 1500, []string{"e", "a", "f", "f", "c"}},
		{t0 + 2500, []string{"g"}},
		{t0 + scriptTTL + 1000, []string{"a", "h", "a", "g", "i"}},
	}
	for _, r := range rounds {
		got, err := batched.run(r.now, r.users...)
		if err != nil {
			t.Fatalf("batch %v: %v", r.users, err)
		}
		var want []int64
		for _, u := range r.users {
			one, err := single.run(r.now, u)
			if err != nil {
				t.Fatalf("enter %s: %v", u, err)
			}
			want = append(want, one...)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batch %v answered\n %v\none by one\n %v", r.users, got, want)
		}
		if r.now == t0 {
			if act := got[8:16]; act[5] != 1 || act[1] != 100 {
				t.Fatalf("act answered %v, want its active token 100", act)
			}
			if sk := got[24:32]; sk[0] != 0 || sk[1] != 101 || sk[3] != 1 {
				t.Fatalf("sk answered %v, want its skipped token 101 back, first in line", sk)
			}
			if first, again := got[40:48], got[72:80]; first[0] != 1 || again[0] != 0 || again[1] != first[1] || again[5] != 0 {
				t.Fatalf("gone answered %v, then %v; want a new place in line, then the same place", first, again)
			}
		}
	}
	if b, s := batched.mr.Dump(), single.mr.Dump(); b != s {
		t.Fatalf("the stores differ:\nbatched\n%s\none by one\n%s", b, s)
	}
	// The replay itself: ten users waiting, one place each ("b", "f" and
	// "gone" twice in one batch, "a" back at the end of the line after its
	// token expired); "act" stayed active and "sk" rejoined with its old
	// token.
	if n, _ := batched.rdb.ZCard(context.Background(), batched.keys[0]).Result(); n != 10 {
		t.Fatalf("waiting = %d, want 10", n)
	}
	if seq, _ := batched.rdb.Get(context.Background(), batched.keys[3]).Int(); seq != 112 {
		t.Fatalf("seq = %d, want 112 (101 before, then ten users, a twice)", seq)
	}
	if _, err := batched.rdb.HGet(context.Background(), batched.keys[2], "gone").Result(); err != redis.Nil {
		t.Fatalf("gone's lapsed token is still its active one (%v)", err)
	}
	if rejoined, _ := batched.rdb.ZScore(context.Background(), batched.keys[9], "101:sk").Result(); rejoined != float64(t0) {
		t.Fatalf("the skipped token rejoined at %v, want %d", rejoined, t0)
	}
}

func TestEnterScriptBatchInThePrequeueAndSoldOut(t *testing.T) {
	e := newEnterScript(t)
	ctx := context.Background()
	e.mr.HSet(e.keys[5], "phase", "scheduled", "opens_at_ms", "1900000100000")
	res, err := e.run(1_900_000_000_000, "p1", "p2", "p1")
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{
		1, 1, 1_900_000_000, 0, 0, 2, 1_900_000_100_000, 4242,
		1, 2, 1_900_000_000, 0, 0, 2, 1_900_000_100_000, 4242,
		0, 1, 1_900_000_000, 0, 0, 2, 1_900_000_100_000, 4242,
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("pre-queue batch = %v, want %v", res, want)
	}
	e.mr.HSet(e.keys[5], "sold_out", "1")
	res, err = e.run(1_900_000_001_000, "p3", "p1")
	if err != nil {
		t.Fatal(err)
	}
	soldOut := []int64{0, 0, 0, 0, 0, 3, 0, 4242}
	if !reflect.DeepEqual(res, append(append([]int64{}, soldOut...), soldOut...)) {
		t.Fatalf("sold-out batch = %v", res)
	}
	if n, _ := e.rdb.Get(ctx, e.keys[3]).Int(); n != 2 {
		t.Fatalf("seq = %d after a sold-out batch, want 2", n)
	}
}

// A bad argument anywhere in a batch fails the whole batch before any write:
// not even the users before it are entered, nor the generation set.
func TestEnterScriptRefusesABadBatchBeforeWriting(t *testing.T) {
	for name, args := range map[string][]any{
		"now":          {"soon", scriptTTL, 30_000, 4242, scriptGrace, "a", "b"},
		"ttl":          {1_900_000_000_000, "", 30_000, 4242, scriptGrace, "a"},
		"generation":   {1_900_000_000_000, scriptTTL, 30_000, "g", scriptGrace, "a"},
		"empty user":   {1_900_000_000_000, scriptTTL, 30_000, 4242, scriptGrace, "a", "", "c"},
		"no user":      {1_900_000_000_000, scriptTTL, 30_000, 4242, scriptGrace},
		"rejoin grace": {1_900_000_000_000, scriptTTL, 30_000, 4242, "x", "a"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnterScript(t)
			err := lua.Enter.Run(context.Background(), e.rdb, e.keys, args...).Err()
			if err == nil {
				t.Fatal("the batch was accepted")
			}
			if keys := e.mr.Keys(); len(keys) != 0 {
				t.Fatalf("a refused batch wrote %v", keys)
			}
		})
	}
}

func TestEnterScriptLongBatchKeepsOrder(t *testing.T) {
	e := newEnterScript(t)
	users := make([]string, 500)
	for i := range users {
		users[i] = fmt.Sprintf("u%03d", i)
	}
	res, err := e.run(1_900_000_000_000, users...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		r := res[8*i : 8*i+8]
		if r[0] != 1 || r[1] != int64(i+1) || r[3] != int64(i+1) {
			t.Fatalf("user %d: %v, want created with seq and position %d", i, r, i+1)
		}
	}
}

// What every user of a run shares, the scheduled open and the line's
// generation, is answered once, before six values per user; a sold-out
// sale answers no open.
func TestEnterScriptAnswersWhatItsUsersShareOnce(t *testing.T) {
	e := newEnterScript(t)
	e.mr.HSet(e.keys[5], "phase", "scheduled", "opens_at_ms", "1900000100000")
	args := []any{int64(1_900_000_000_000), scriptTTL, 30_000, 4242, scriptGrace, "p1", "p2"}
	res, err := lua.Enter.Run(context.Background(), e.rdb, e.keys, args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1_900_000_100_000, 4242, 1, 1, 1_900_000_000, 0, 0, 2, 1, 2, 1_900_000_000, 0, 0, 2}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("reply %v, want %v", res, want)
	}
	e.mr.HSet(e.keys[5], "sold_out", "1")
	res, err = lua.Enter.Run(context.Background(), e.rdb, e.keys, args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 4242, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 3}; !reflect.DeepEqual(res, want) {
		t.Fatalf("sold-out reply %v, want %v", res, want)
	}
}
