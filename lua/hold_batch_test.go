package lua_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/lua"
)

// These tests run hold_batch.lua on miniredis against itself: a batch must
// answer and write exactly what the same holds made one by one, each as a
// batch of one, would.

const (
	bNow       = 1_000_000
	bTTL       = 300_000
	bMaxHolds  = 3
	bRecordTTL = 3_600_000
	bGate      = "{c:9}:active"
	bSoldLife  = 72 * 3_600_000 // how long a "sold" lock lives (ms)
	loadedDay  = "2030-01-02"   // sold cache loaded, seat 3 sold
	coldDay    = "2030-01-03"   // sold cache not loaded
)

// recordForm is where the runs of runArgs put hold records: "set" (the
// member of the user's set) or "key" (a key of its own, as older versions).
var recordForm = "set"

type holdArgs struct {
	user, day string
	seat      int
	gate      string // gate member, "" for none
	checked   bool
	price     int // 1000 when 0
}

func (h holdArgs) seatKey() string { return "{c:9}:seat:" + h.day + ":" + strconv.Itoa(h.seat) }

// loadedKey is the lock of seat 0 of day, "loaded" once the day's sold seats
// have their locks set.
func loadedKey(day string) string { return "{c:9}:seat:" + day + ":0" }

// loadSold loads the sold cache of day with seats sold, as Go's rebuild does
// (load_sold.lua, one chunk).
func loadSold(t *testing.T, rdb *redis.Client, day string, seats ...int) {
	t.Helper()
	args := []any{"1", bSoldLife}
	for _, n := range seats {
		args = append(args, n)
	}
	keys := []string{"{c:9}:sold:" + day, "{c:9}:seat:" + day + ":"}
	if err := lua.LoadSold.Run(context.Background(), rdb, keys, args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// runArgs are the keys and arguments of one run of hold_batch.lua for hs,
// as Go sends them: each key once, at the first hold that needs it.
func runArgs(hs []holdArgs, first, last string) ([]string, []any) {
	keys := []string{idsKey, prefix}
	args := []any{bNow, bTTL, bMaxHolds, bRecordTTL, first, last, recordForm}
	days, users, gated := map[string]bool{}, map[string]bool{}, false
	for _, h := range hs {
		keys = append(keys, h.seatKey())
		if !days[h.day] {
			days[h.day] = true
			keys = append(keys, "{c:9}:held:"+h.day, loadedKey(h.day))
		}
		if !users[h.user] {
			users[h.user] = true
			keys = append(keys, "{c:9}:user_holds:"+h.user)
		}
		if h.gate != "" && !gated {
			gated = true
			keys = append(keys, bGate)
		}
		checked := "0"
		if h.checked {
			checked = "1"
		}
		price := h.price
		if price == 0 {
			price = 1000
		}
		args = append(args, h.user, h.day, h.seat, price, checked, h.gate)
	}
	return keys, args
}

func newBatchRedis(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	loadSold(t, rdb, loadedDay, 3)
	rdb.ZAdd(ctx, bGate, redis.Z{Score: bNow + 1000, Member: "open"}, redis.Z{Score: bNow - 1, Member: "lapsed"})
	// One lapsed hold of u1, which must not count against its limit.
	rdb.ZAdd(ctx, "{c:9}:user_holds:u1", redis.Z{Score: bNow - 5, Member: "7"})
	return mr, rdb
}

// holdAlone runs hold_batch.lua for h alone, as a batch of one, and returns
// its one answer.
func holdAlone(t *testing.T, rdb *redis.Client, h holdArgs, first, last string) []int64 {
	t.Helper()
	res, err := holdBatch(rdb, []holdArgs{h}, first, last)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("a batch of one answered %v", res)
	}
	return res[0]
}

// holdBatch runs hold_batch.lua once and returns its triples; after are the
// keys named after the holds' (the concert's kept seat count, optional).
func holdBatch(rdb *redis.Client, hs []holdArgs, first, last string, after ...string) ([][]int64, error) {
	keys, args := runArgs(hs, first, last)
	vals, err := lua.HoldBatch.Run(context.Background(), rdb, append(keys, after...), args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	var out [][]int64
	for i := 0; i+3 <= len(vals); i += 3 {
		out = append(out, vals[i:i+3])
	}
	if len(out)*3 != len(vals) {
		return nil, fmt.Errorf("reply of %d values", len(vals))
	}
	return out, nil
}

// blocks hands out blocks of ids as Postgres would: size ids each, never
// twice.
type blocks struct{ next, size int64 }

func (b *blocks) take() (string, string) {
	first := b.next
	b.next += b.size
	return strconv.FormatInt(first, 10), strconv.FormatInt(first+b.size-1, 10)
}

func randomHolds(r *rand.Rand, n int) []holdArgs {
	hs := make([]holdArgs, n)
	for i := range hs {
		h := holdArgs{user: "u" + strconv.Itoa(r.IntN(5)), day: loadedDay, seat: 1 + r.IntN(8)}
		switch r.IntN(10) {
		case 0:
			h.day = coldDay
		case 1:
			h.day, h.checked = coldDay, true
		}
		switch r.IntN(6) {
		case 0:
			h.gate = "open"
		case 1:
			h.gate = "lapsed"
		case 2:
			h.gate = "never"
		}
		hs[i] = h
	}
	return hs
}

// inEachRecordForm runs test once with records in the users' sets and once
// in keys of their own.
func inEachRecordForm(t *testing.T, test func(t *testing.T)) {
	for _, form := range []string{"set", "key"} {
		t.Run(form, func(t *testing.T) {
			defer func(was string) { recordForm = was }(recordForm)
			recordForm = form
			test(t)
		})
	}
}

func TestHoldBatchAnswersAndWritesAsHoldsOneByOne(t *testing.T) {
	inEachRecordForm(t, testHoldBatchAnswersAndWritesAsHoldsOneByOne)
}

func testHoldBatchAnswersAndWritesAsHoldsOneByOne(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 120 {
		hs := randomHolds(r, 1+r.IntN(40))
		size := int64(1 + r.IntN(6))

		mrA, alone := newBatchRedis(t)
		ba := &blocks{next: 100, size: size}
		var want [][]int64
		for _, h := range hs {
			res := holdAlone(t, alone, h, "", "")
			if res[0] == -5 {
				// As Go does: reserve a block and try again with it.
				first, last := ba.take()
				res = holdAlone(t, alone, h, first, last)
			}
			want = append(want, res)
		}

		mrB, batched := newBatchRedis(t)
		bb := &blocks{next: 100, size: size}
		var got [][]int64
		rest, first, last := hs, "", ""
		for len(rest) > 0 {
			// Random batch bounds, as arrivals would cut them.
			n := 1 + r.IntN(len(rest))
			res, err := holdBatch(batched, rest[:n], first, last)
			if err != nil {
				t.Fatal(err)
			}
			first, last = "", ""
			stop := res[len(res)-1]
			switch {
			case stop[0] == -5:
				first, last = bb.take()
				got = append(got, res[:len(res)-1]...)
				rest = rest[len(res)-1:]
				continue
			case len(res) < n && stop[0] != -4:
				t.Fatalf("trial %d: run stopped after %d of %d holds with %v", trial, len(res), n, stop)
			}
			got = append(got, res...)
			rest = rest[len(res):]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d: holds %v\nbatched answers %v\nalone answers   %v", trial, hs, got, want)
		}
		if a, b := mrA.Dump(), mrB.Dump(); a != b {
			t.Fatalf("trial %d: Redis differs\nbatched:\n%s\nalone:\n%s", trial, b, a)
		}
		mrA.Close()
		mrB.Close()
	}
}

func TestHoldBatchStopsAtAHoldThatNeedsABlockAndWritesNothingFromIt(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 101)
	hs := []holdArgs{
		{user: "a", day: loadedDay, seat: 1},
		{user: "b", day: loadedDay, seat: 2},
		{user: "c", day: loadedDay, seat: 4}, // the block is used up here
		{user: "d", day: loadedDay, seat: 5},
	}
	res, err := holdBatch(rdb, hs, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res), "[[1 101 1300000] [-5 0 0]]"; got != want {
		t.Fatalf("answers %s, want %s", got, want)
	}
	for _, seat := range []string{"4", "5"} {
		if mr.Exists("{c:9}:seat:" + loadedDay + ":" + seat) {
			t.Errorf("seat %s was taken by a run that stopped before it", seat)
		}
	}
	if mr.Exists("{c:9}:user_holds:c") || mr.Exists("{c:9}:user_holds:d") {
		t.Error("holds after the stop were recorded")
	}
	// Sent again with one block of two ids: it is installed once, its ids
	// are given once each, and the run stops again when it is used up.
	res, err = holdBatch(rdb, append(hs[2:], holdArgs{user: "e", day: loadedDay, seat: 6}), "200", "201")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res), "[[1 200 1300000] [1 201 1300000] [-5 0 0]]"; got != want {
		t.Fatalf("answers %s, want %s", got, want)
	}
	if got := mr.HGet(idsKey, "id") + "/" + mr.HGet(idsKey, "last"); got != "201/201" {
		t.Errorf("block %s, want 201/201", got)
	}
}

func TestHoldBatchStopsAtAnUnloadedSoldCache(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	res, err := holdBatch(rdb, []holdArgs{
		{user: "a", day: loadedDay, seat: 1},
		{user: "b", day: coldDay, seat: 1},
		{user: "c", day: loadedDay, seat: 2},
	}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res), "[[1 101 1300000] [-4 0 0]]"; got != want {
		t.Fatalf("answers %s, want %s", got, want)
	}
	if mr.Exists("{c:9}:seat:" + loadedDay + ":2") {
		t.Error("the hold after the stop was made")
	}
}

// A sold seat is refused by its lock: a hold reads no sold bitmap, and a
// cache loaded by an older version (the bitmap's bit 0 and sold bits, but no
// locks) reads as not loaded, so that Go rebuilds it with the locks.
func TestHoldBatchFindsASoldSeatByItsLock(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	calls := countCalls(mr)
	res, err := holdBatch(rdb, []holdArgs{{user: "a", day: loadedDay, seat: 3}, {user: "b", day: loadedDay, seat: 4}}, "", "")
	if err != nil || fmt.Sprint(res) != "[[-2 0 0] [1 101 1300000]]" {
		t.Fatalf("holds of sold seat 3 and free seat 4 = %v, %v; want -2, then a hold", res, err)
	}
	if got, _ := mr.Get("{c:9}:seat:" + loadedDay + ":3"); got != "sold" || mr.TTL("{c:9}:seat:"+loadedDay+":3") != bSoldLife*time.Millisecond {
		t.Errorf("sold seat's lock = %q (ttl %v), want \"sold\" for %dms", got, mr.TTL("{c:9}:seat:"+loadedDay+":3"), bSoldLife)
	}
	if mr.Exists("{c:9}:user_holds:a") {
		t.Error("the refused hold was counted as the user's")
	}
	if n := calls("GETBIT"); n != 0 {
		t.Errorf("%d GETBITs: a hold reads no bitmap", n)
	}

	const oldDay = "2030-01-05"
	rdb.SetBit(ctx, "{c:9}:sold:"+oldDay, 0, 1)
	rdb.SetBit(ctx, "{c:9}:sold:"+oldDay, 7, 1)
	res, err = holdBatch(rdb, []holdArgs{{user: "c", day: oldDay, seat: 7}}, "", "")
	if err != nil || fmt.Sprint(res) != "[[-4 0 0]]" {
		t.Fatalf("hold on a cache without locks = %v, %v; want -4 (rebuild)", res, err)
	}
	loadSold(t, rdb, oldDay, 7)
	res, err = holdBatch(rdb, []holdArgs{{user: "c", day: oldDay, seat: 7}, {user: "c", day: oldDay, seat: 8}}, "", "")
	if err != nil || fmt.Sprint(res) != "[[-2 0 0] [1 102 1300000]]" {
		t.Fatalf("holds after the rebuild = %v, %v; want seat 7 sold, seat 8 held", res, err)
	}
}

// A user at the hold limit is told a sold seat is taken and a held or free
// one that the limit stops it, as ever: the sold check came first, the
// seat's lock after the limit. Nothing is written either way.
func TestHoldBatchAtTheLimitAnswersSoldBeforeTheLimit(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	var hs []holdArgs
	for seat := 10; seat < 10+bMaxHolds; seat++ {
		hs = append(hs, holdArgs{user: "full", day: loadedDay, seat: seat})
	}
	if res, err := holdBatch(rdb, hs, "", ""); err != nil || len(res) != bMaxHolds || res[bMaxHolds-1][0] != 1 {
		t.Fatalf("holds up to the limit = %v, %v", res, err)
	}
	holdAlone(t, rdb, holdArgs{user: "other", day: loadedDay, seat: 20}, "", "")
	before := mr.Dump()
	res, err := holdBatch(rdb, []holdArgs{
		{user: "full", day: loadedDay, seat: 3},  // sold
		{user: "full", day: loadedDay, seat: 20}, // held by another
		{user: "full", day: loadedDay, seat: 21}, // free
	}, "", "")
	if err != nil || fmt.Sprint(res) != "[[-2 0 0] [-3 0 0] [-3 0 0]]" {
		t.Fatalf("holds past the limit = %v, %v; want -2 (sold), -3, -3", res, err)
	}
	if after := mr.Dump(); after != before {
		t.Errorf("refused holds changed Redis:\n%s", after)
	}
}

func TestHoldBatchWithABadArgumentChangesNothing(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	before := mr.Dump()
	keys, args := runArgs([]holdArgs{
		{user: "u0", day: loadedDay, seat: 1}, {user: "u1", day: loadedDay, seat: 2}, {user: "u2", day: loadedDay, seat: 3},
	}, "500", "600")
	bad := slices.Clone(args)
	bad[6+2*6+2] = "x" // the last seat is not a number
	if err := lua.HoldBatch.Run(context.Background(), rdb, keys, bad...).Err(); err == nil {
		t.Fatal("a batch with a bad seat ran")
	}
	// Keys that do not match the holds: one too few, two too many (one
	// more is the kept seat count).
	for _, ks := range [][]string{keys[:len(keys)-1], append(slices.Clone(keys), "{c:9}:x", "{c:9}:y")} {
		if err := lua.HoldBatch.Run(context.Background(), rdb, ks, args...).Err(); err == nil {
			t.Fatalf("a batch with %d keys for %d ran", len(ks), len(keys))
		}
	}
	if after := mr.Dump(); after != before {
		t.Errorf("a failed batch changed Redis:\n%s", after)
	}
}

func TestHoldBatchAnswersARedisErrorForItsHoldAloneAndRunsTheRest(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	// b's hold set is of the wrong type: its hold fails, as it would alone.
	mr.Set("{c:9}:user_holds:b", "not a sorted set")
	keys, args := runArgs([]holdArgs{
		{user: "a", day: loadedDay, seat: 1}, {user: "b", day: loadedDay, seat: 2}, {user: "c", day: loadedDay, seat: 4},
	}, "", "")
	vals, err := lua.HoldBatch.Run(context.Background(), rdb, keys, args...).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 9 {
		t.Fatalf("reply %v, want 3 answers", vals)
	}
	if vals[0] != int64(1) || vals[1] != int64(101) || vals[6] != int64(1) || vals[7] != int64(102) {
		t.Errorf("answers of a and c %v, want holds 101 and 102", vals)
	}
	if msg, _ := vals[4].(string); vals[3] != int64(-7) || msg == "" {
		t.Errorf("answer of b %v, want -7 with the error", vals[3:6])
	}
	if mr.Exists("{c:9}:seat:" + loadedDay + ":2") {
		t.Error("b's seat was taken")
	}
}

func TestHoldBatchAnswersAFailedHeldSetWriteForTheHoldsOfThatDateAlone(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	// The held set of coldDay is of the wrong type. Its write is kept for the
	// end of the run; when it fails, it is the error of the holds of that
	// date, as if each had written it itself, and the others keep theirs.
	mr.Set("{c:9}:held:"+coldDay, "not a sorted set")
	keys, args := runArgs([]holdArgs{
		{user: "a", day: loadedDay, seat: 1},
		{user: "b", day: coldDay, seat: 1, checked: true},
		{user: "c", day: loadedDay, seat: 2},
		{user: "d", day: coldDay, seat: 2, checked: true},
	}, "", "")
	vals, err := lua.HoldBatch.Run(context.Background(), rdb, keys, args...).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 12 {
		t.Fatalf("reply %v, want 4 answers", vals)
	}
	if vals[0] != int64(1) || vals[1] != int64(101) || vals[6] != int64(1) || vals[7] != int64(103) {
		t.Errorf("answers of a and c %v, want holds 101 and 103", vals)
	}
	for _, at := range []int{3, 9} {
		if msg, _ := vals[at+1].(string); vals[at] != int64(-7) || !strings.Contains(msg, "WRONGTYPE") {
			t.Errorf("answer %v, want -7 with the WRONGTYPE error", vals[at:at+3])
		}
	}
	if held, _ := rdb.ZRange(context.Background(), "{c:9}:held:"+loadedDay, 0, -1).Result(); !slices.Equal(held, []string{"1", "2"}) {
		t.Errorf("held seats of %s = %v, want 1 and 2", loadedDay, held)
	}
	// The ids the failed holds drew stay used, as a lost seat race's does.
	if id, _ := rdb.HGet(context.Background(), idsKey, "id").Result(); id != "104" {
		t.Errorf("last id handed out = %s, want 104", id)
	}
}

// countCalls counts the Redis calls mr serves, scripts' own calls included,
// by command and first argument.
func countCalls(mr *miniredis.Miniredis) (counts func(cmd string, args ...string) int) {
	var mu sync.Mutex
	seen := map[string]int{}
	mr.Server().SetPreHook(func(_ *server.Peer, cmd string, args ...string) bool {
		mu.Lock()
		defer mu.Unlock()
		seen[cmd]++
		seen[strings.Join(append([]string{cmd}, args...), " ")]++
		return false
	})
	return func(cmd string, args ...string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[strings.Join(append([]string{cmd}, args...), " ")]
	}
}

func TestHoldBatchReadsEachDatesLoadedLockOncePerRun(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	otherDay := "2030-01-04"
	loadSold(t, rdb, otherDay)
	calls := countCalls(mr)
	var hs []holdArgs
	for i := range 40 {
		day := loadedDay
		if i%3 == 0 {
			day = otherDay
		}
		hs = append(hs, holdArgs{user: "v" + strconv.Itoa(i), day: day, seat: 10 + i})
	}
	res, err := holdBatch(rdb, hs, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r[0] != 1 {
			t.Fatalf("hold %d answered %v", i, r)
		}
	}
	for _, day := range []string{loadedDay, otherDay} {
		if n := calls("GET", loadedKey(day)); n != 1 {
			t.Errorf("the loaded lock of %s read %d times in one run, want once", day, n)
		}
	}
	if n := calls("GETBIT") + calls("GET"); n != 2 {
		// A seat is found free, sold or held by the SET that takes it.
		t.Errorf("%d GETBITs and GETs, want 2: each date's loaded lock", n)
	}
	if n := calls("HSET") + calls("PEXPIRE"); n != 1+40 {
		// The id block once, and each user's new set of holds.
		t.Errorf("%d HSETs and PEXPIREs, want 41: records are written by one SET", n)
	}

	// The next run reads the lock again: a cache lost between runs is found.
	rdb.Del(context.Background(), loadedKey(otherDay))
	res, err = holdBatch(rdb, []holdArgs{
		{user: "w1", day: loadedDay, seat: 100},
		{user: "w2", day: otherDay, seat: 100},
	}, "", "")
	if err != nil || fmt.Sprint(res) != "[[1 141 1300000] [-4 0 0]]" {
		t.Fatalf("run after the cache of %s was lost = %v, %v; want a hold, then -4", otherDay, res, err)
	}
	if n := calls("GET", loadedKey(loadedDay)); n != 2 {
		t.Errorf("the loaded lock of %s read %d times in two runs, want twice", loadedDay, n)
	}

	// Holds Go sends after rebuilding the cache do not read it at all.
	before := calls("GET", loadedKey(otherDay))
	if res, err := holdBatch(rdb, []holdArgs{{user: "w2", day: otherDay, seat: 100, checked: true}}, "", ""); err != nil || res[0][0] != 1 {
		t.Fatalf("checked hold = %v, %v", res, err)
	}
	if n := calls("GET", loadedKey(otherDay)) - before; n != 0 {
		t.Errorf("a checked hold read the loaded lock %d times", n)
	}
}

// The concert's kept seat count, named last, grows by the holds a run made,
// not by those it refused; a run never makes one that is missing.
func TestHoldBatchAddsItsHoldsToAKeptSeatCount(t *testing.T) {
	const stock = "{c:9}:stock"
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	run := func(hs ...holdArgs) string {
		t.Helper()
		res, err := holdBatch(rdb, hs, "", "", stock)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res)
	}
	run(holdArgs{user: "a", day: loadedDay, seat: 1})
	if mr.Exists(stock) {
		t.Fatal("a run made a kept count where there was none")
	}
	rdb.HSet(ctx, stock, "sold", 1, "held", 1)
	rdb.PExpire(ctx, stock, time.Minute)
	// Seat 1 is held already and seat 3 sold: two of the four are made.
	got := run(holdArgs{user: "b", day: loadedDay, seat: 1}, holdArgs{user: "b", day: loadedDay, seat: 2},
		holdArgs{user: "c", day: loadedDay, seat: 3}, holdArgs{user: "c", day: loadedDay, seat: 4})
	// (A lost race burns an id: 102 went to the refused hold of seat 1.)
	if want := "[[-1 0 0] [1 103 1300000] [-2 0 0] [1 104 1300000]]"; got != want {
		t.Fatalf("answers %s, want %s", got, want)
	}
	if held, sold := mr.HGet(stock, "held"), mr.HGet(stock, "sold"); held != "3" || sold != "1" {
		t.Errorf("kept count sold %s held %s, want 1 and 3", sold, held)
	}
}

// A run reads every buyer's admission with one ZMSCORE: in a rush each buyer
// has a gate member of their own, and a ZSCORE each was the largest call of a
// hold after its record.
func TestHoldBatchReadsTheGateOncePerRun(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	var hs []holdArgs
	for i := range 20 {
		member := "fan" + strconv.Itoa(i)
		score := float64(bNow + 1000)
		if i%4 == 3 {
			score = bNow // admission ended at now: closed
		}
		rdb.ZAdd(ctx, bGate, redis.Z{Score: score, Member: member})
		hs = append(hs, holdArgs{user: "g" + strconv.Itoa(i), day: loadedDay, seat: 10 + i, gate: member})
	}
	// Two more seats of the first fan, one hold without a gate, and one
	// of a member the gate has never seen.
	hs = append(hs, holdArgs{user: "g0", day: loadedDay, seat: 40, gate: "fan0"},
		holdArgs{user: "g0", day: loadedDay, seat: 41, gate: "fan0"},
		holdArgs{user: "free", day: loadedDay, seat: 42},
		holdArgs{user: "stranger", day: loadedDay, seat: 43, gate: "never"})
	calls := countCalls(mr)
	res, err := holdBatch(rdb, hs, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		want := int64(1)
		if (i < 20 && i%4 == 3) || i == len(hs)-1 {
			want = -6
		}
		if r[0] != want {
			t.Errorf("hold %d (%+v) answered %v, want code %d", i, hs[i], r, want)
		}
	}
	if n := calls("ZMSCORE"); n != 1 {
		t.Errorf("%d ZMSCOREs in one run, want 1", n)
	}
	if n := calls("ZSCORE"); n != 0 {
		t.Errorf("%d ZSCOREs, want none", n)
	}
}

// A gate that cannot be read fails each hold that names it, at its turn,
// with the error; the holds without a gate are made.
func TestHoldBatchAnswersAnUnreadableGateForTheGatedHoldsAlone(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	mr.Del(bGate)
	mr.Set(bGate, "not a sorted set")
	keys, args := runArgs([]holdArgs{
		{user: "a", day: loadedDay, seat: 1}, {user: "b", day: loadedDay, seat: 2, gate: "open"}, {user: "c", day: loadedDay, seat: 4},
	}, "", "")
	vals, err := lua.HoldBatch.Run(context.Background(), rdb, keys, args...).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 9 || vals[0] != int64(1) || vals[1] != int64(101) || vals[6] != int64(1) || vals[7] != int64(102) {
		t.Fatalf("reply %v, want holds 101 and 102 for a and c", vals)
	}
	if msg, _ := vals[4].(string); vals[3] != int64(-7) || !strings.Contains(msg, "WRONGTYPE") {
		t.Errorf("answer of b %v, want -7 with the WRONGTYPE error", vals[3:6])
	}
	if mr.Exists("{c:9}:seat:" + loadedDay + ":2") {
		t.Error("b's seat was taken")
	}
}
