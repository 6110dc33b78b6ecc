package lua_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/lua"
)

// A hold record is a string, "state|lease|exp|price|seat|date|user", written
// with its ttl in one SET. Earlier versions kept it as a hash of the same
// fields; replicas of such a version may still run during a rolling upgrade,
// and their records stay in Redis until they expire. testdata/hashrecord
// holds the scripts of that version. These tests hold the new scripts to
// answer and write exactly what those did: for a hash record, the same
// record; for a string record, the same fields and ttls.

// scriptSet is the scripts of one version that write hold records.
type scriptSet struct{ hold, claim, unclaim, sell *redis.Script }

// hashRecordScripts are the hold, claim, unclaim and sell scripts of the
// version that kept records as hashes.
func hashRecordScripts(t *testing.T) scriptSet {
	t.Helper()
	load := func(name string) *redis.Script {
		src, err := os.ReadFile("testdata/hashrecord/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return redis.NewScript(string(src))
	}
	return scriptSet{load("hold_batch.lua"), load("claim.lua"), load("unclaim.lua"), load("sell.lua")}
}

var currentScripts = scriptSet{lua.HoldBatch, lua.Claim, lua.Unclaim, lua.Sell}

// recordFields reads a hold record of either form as its fields; a claimed
// record's lease is its one optional field.
func recordFields(t *testing.T, mr *miniredis.Miniredis, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch mr.Type(key) {
	case "hash":
		fields, _ := mr.HKeys(key)
		for _, f := range fields {
			out[f] = mr.HGet(key, f)
		}
	case "string":
		v, _ := mr.Get(key)
		f := strings.SplitN(v, "|", 7)
		if len(f) != 7 {
			t.Fatalf("record %s = %q: not of the string form", key, v)
		}
		for i, name := range []string{"state", "lease", "exp", "price", "seat", "date", "user"} {
			if f[i] != "" || name != "lease" {
				out[name] = f[i]
			}
		}
	default:
		t.Fatalf("record %s is a %s", key, mr.Type(key))
	}
	return out
}

// redisState describes every key of mr with its ttl, hold records by their
// fields whatever their form, so that two servers compare.
func redisState(t *testing.T, mr *miniredis.Miniredis) string {
	t.Helper()
	var b strings.Builder
	keys := mr.Keys()
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s ttl=%v: ", k, mr.TTL(k))
		switch {
		case strings.HasPrefix(k, prefix):
			rec := recordFields(t, mr, k)
			names := make([]string, 0, len(rec))
			for n := range rec {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				fmt.Fprintf(&b, "%s=%s ", n, rec[n])
			}
		case mr.Type(k) == "zset":
			members, _ := mr.ZMembers(k)
			for _, m := range members {
				s, _ := mr.ZScore(k, m)
				fmt.Fprintf(&b, "%s=%v ", m, s)
			}
		case mr.Type(k) == "hash":
			fields, _ := mr.HKeys(k)
			for _, f := range fields {
				fmt.Fprintf(&b, "%s=%s ", f, mr.HGet(k, f))
			}
		default:
			v, _ := mr.Get(k)
			fmt.Fprintf(&b, "%q", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkSoldLocks fails unless every seat of the sold bitmap of loadedDay has
// its lock set to "sold", expiring within bSoldLife.
func checkSoldLocks(t *testing.T, mr *miniredis.Miniredis) {
	t.Helper()
	bitmap, _ := mr.Get("{c:9}:sold:" + loadedDay)
	for n := 1; n < 8*len(bitmap); n++ {
		if bitmap[n>>3]&(0x80>>(n&7)) == 0 {
			continue
		}
		k := "{c:9}:seat:" + loadedDay + ":" + strconv.Itoa(n)
		if v, _ := mr.Get(k); v != "sold" || mr.TTL(k) <= 0 || mr.TTL(k) > bSoldLife*time.Millisecond {
			t.Fatalf("sold seat %d: lock %q ttl %v, want \"sold\" expiring within %dms", n, v, mr.TTL(k), bSoldLife)
		}
	}
}

// recordWorld is one Redis with the holds made in it, driven by the scripts
// of one version.
type recordWorld struct {
	mr  *miniredis.Miniredis
	rdb *redis.Client
}

func newRecordWorld(t *testing.T) *recordWorld {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 100_000)
	return &recordWorld{mr: mr, rdb: rdb}
}

type madeHold struct {
	id, user string
	seat     int
}

// reply describes a script's answer, error or not, for comparison.
func reply(c *redis.Cmd) string {
	v, err := c.Result()
	return fmt.Sprint(v, err)
}

func recordKeys(h madeHold) []string {
	return []string{prefix + h.id, "{c:9}:seat:" + loadedDay + ":" + strconv.Itoa(h.seat), "{c:9}:held:" + loadedDay,
		"{c:9}:user_holds:" + h.user}
}

// runRecordSteps drives want (the hash version's scripts throughout) and got
// (current's claim, unclaim and sell; holds made by current's or, when
// oldHolds says so, by the hash version's hold script) through the same
// random holds, claims, unclaims, sales and passing time, and fails at the
// first answer or state that differs.
func runRecordSteps(t *testing.T, seed uint64, oldHolds func(r *rand.Rand) bool) {
	// The hash version's records were keys of their own, as are current's
	// in the "key" form (the set form is checked against it by
	// runFormSteps).
	defer func(was string) { recordForm = was }(recordForm)
	recordForm = "key"
	r := rand.New(rand.NewPCG(seed, 7))
	old := hashRecordScripts(t)
	want, got := newRecordWorld(t), newRecordWorld(t)
	ctx := context.Background()
	now := int64(bNow)
	var holds []madeHold
	users := []string{"u1", "u2", "u3", "a|b"}
	for step := range 200 {
		var what, a, b string
		switch op := r.IntN(12); {
		case op < 4:
			h := holdArgs{user: users[r.IntN(len(users))], day: loadedDay, seat: 1 + r.IntN(30)}
			h.price = 1000 + h.seat
			// A run of one hold has the same keys in both versions but
			// one: the hash version's hold takes its date's sold bitmap
			// where current's takes the "loaded" lock. Its arguments
			// start with the hold's key count.
			keys, args := runArgs([]holdArgs{h}, "", "")
			args[0] = now
			// (less the record form, which it did not take)
			oldArgs := slices.Insert(slices.Delete(slices.Clone(args), 6, 7), 6, any(4))
			oldKeys := slices.Clone(keys)
			oldKeys[slices.Index(oldKeys, loadedKey(h.day))] = "{c:9}:sold:" + h.day
			what = fmt.Sprintf("hold %+v", h)
			hold, sentKeys, sent := currentScripts.hold, keys, args
			if oldHolds(r) {
				hold, sentKeys, sent, what = old.hold, oldKeys, oldArgs, what+" (hash version)"
			}
			wc, gc := old.hold.Run(ctx, want.rdb, oldKeys, oldArgs...), hold.Run(ctx, got.rdb, sentKeys, sent...)
			a, b = reply(wc), reply(gc)
			if res, err := wc.Int64Slice(); err == nil && res[0] == 1 {
				holds = append(holds, madeHold{id: strconv.FormatInt(res[1], 10), user: h.user, seat: h.seat})
			}
		case len(holds) == 0:
			continue
		case op < 7:
			h, user, lease := randomClaim(r, holds)
			args := []any{h.id, user, now, lease, bRecordTTL}
			what = fmt.Sprintf("claim %+v by %s, lease %d", h, user, lease)
			a = reply(old.claim.Run(ctx, want.rdb, recordKeys(h), args...))
			b = reply(currentScripts.claim.Run(ctx, got.rdb, recordKeys(h), args...))
		case op < 9:
			h := holds[r.IntN(len(holds))]
			what = fmt.Sprintf("unclaim %+v", h)
			a = reply(old.unclaim.Run(ctx, want.rdb, recordKeys(h), h.id, now))
			b = reply(currentScripts.unclaim.Run(ctx, got.rdb, recordKeys(h), h.id, now))
		case op < 10:
			h := holds[r.IntN(len(holds))]
			keys := append(recordKeys(h), "{c:9}:sold:"+loadedDay)
			keep := []int64{1, 86_400_000}[r.IntN(2)]
			what = fmt.Sprintf("sell %+v, keep %d", h, keep)
			a = reply(old.sell.Run(ctx, want.rdb, keys, h.id, h.seat, keep, bSoldLife))
			// The hash version deleted the seat's lock, or left another
			// hold's; current's says "sold" until some days after the date
			// (so that holds need no bitmap). want follows that rule, for
			// the rest to compare.
			want.rdb.Set(ctx, keys[1], "sold", bSoldLife*time.Millisecond)
			b = reply(currentScripts.sell.Run(ctx, got.rdb, keys, h.id, h.seat, keep, bSoldLife))
		default:
			d := time.Duration(r.IntN(200)) * time.Second
			what = fmt.Sprintf("wait %v", d)
			now += d.Milliseconds()
			want.mr.FastForward(d)
			got.mr.FastForward(d)
		}
		if a != b {
			t.Fatalf("step %d, %s: answered %s, want %s", step, what, b, a)
		}
		if ws, gs := redisState(t, want.mr), redisState(t, got.mr); ws != gs {
			t.Fatalf("step %d, %s: Redis differs\ngot:\n%s\nwant:\n%s", step, what, gs, ws)
		}
		checkSoldLocks(t, got.mr)
	}
}

// randomClaim picks a claim of one of holds: mostly by its user, now and
// then by another, with a lease that ends before, at or after its expiry.
func randomClaim(r *rand.Rand, holds []madeHold) (h madeHold, user string, lease int64) {
	h = holds[r.IntN(len(holds))]
	user = h.user
	if r.IntN(8) == 0 {
		user = "u2"
	}
	return h, user, []int64{0, 60_000, bTTL + 60_000}[r.IntN(3)]
}

func TestStringRecordsActAsHashRecordsDid(t *testing.T) {
	for seed := range uint64(10) {
		runRecordSteps(t, seed, func(*rand.Rand) bool { return false })
	}
}

func TestHashRecordsOfAnOlderVersionAreServedAsBefore(t *testing.T) {
	for seed := range uint64(10) {
		// Every record a hash, as the older version wrote it.
		runRecordSteps(t, 100+seed, func(*rand.Rand) bool { return true })
		// Both forms at once, as during a rolling upgrade.
		runRecordSteps(t, 200+seed, func(r *rand.Rand) bool { return r.IntN(2) == 0 })
	}
}

func TestHoldRecordIsOneStringWithItsTTL(t *testing.T) {
	defer func(was string) { recordForm = was }(recordForm)
	recordForm = "key"
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	// A user id may hold anything: it is the last field.
	res, err := holdBatch(rdb, []holdArgs{{user: "a|b|c", day: loadedDay, seat: 2}}, "", "")
	if err != nil || fmt.Sprint(res) != "[[1 101 1300000]]" {
		t.Fatalf("hold = %v, %v", res, err)
	}
	if got, _ := mr.Get(prefix + "101"); got != "held||1300000|1000|2|2030-01-02|a|b|c" {
		t.Errorf("record = %q", got)
	}
	if got := mr.TTL(prefix + "101"); got != (bTTL+bRecordTTL)*time.Millisecond {
		t.Errorf("record ttl = %v, want %v", got, (bTTL+bRecordTTL)*time.Millisecond)
	}
	h := madeHold{id: "101", user: "a|b|c", seat: 2}
	if got, err := lua.Claim.Run(context.Background(), rdb, recordKeys(h), h.id, h.user, bNow+1000, 600_000, bRecordTTL).Int64Slice(); err != nil || !slices.Equal(got, []int64{1, 1300000}) {
		t.Fatalf("claim = %v, %v", got, err)
	}
	if got, _ := mr.Get(prefix + "101"); got != "claimed|1601000|1300000|1000|2|2030-01-02|a|b|c" {
		t.Errorf("claimed record = %q", got)
	}
}

func TestHoldRefusesADateTheRecordCannotHold(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	before := mr.Dump()
	if _, err := holdBatch(rdb, []holdArgs{{user: "u1", day: "2030|01", seat: 1}}, "100", "199"); err == nil || !strings.Contains(err.Error(), "bad arguments") {
		t.Fatalf("err = %v, want bad arguments", err)
	}
	if after := mr.Dump(); after != before {
		t.Errorf("a refused batch changed Redis:\n%s", after)
	}
}

func TestHoldRefusesASeatOrPriceNotInDigitsAndChangesNothing(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	rdb.HSet(context.Background(), idsKey, "id", 100, "last", 1000)
	before := mr.Dump()
	for _, bad := range []struct {
		name        string
		seat, price string
	}{
		{"seat with an exponent", "1e3", "1000"},
		{"negative seat", "-2", "1000"},
		{"seat with a space", " 2", "1000"},
		{"empty price", "2", ""},
		{"price with a fraction", "2", "10.5"},
		{"price in hex", "2", "0x10"},
	} {
		// A good hold first: a refused batch makes neither.
		keys, args := runArgs([]holdArgs{{user: "u1", day: loadedDay, seat: 2}, {user: "u2", day: loadedDay, seat: 5}}, "", "")
		args[7+6+2], args[7+6+3] = bad.seat, bad.price
		err := lua.HoldBatch.Run(context.Background(), rdb, keys, args...).Err()
		if err == nil || !strings.Contains(err.Error(), "bad arguments of hold 2") {
			t.Errorf("%s: err = %v, want bad arguments of hold 2", bad.name, err)
		}
		if after := mr.Dump(); after != before {
			t.Fatalf("%s: a refused batch changed Redis:\n%s", bad.name, after)
		}
	}
}

func TestBadStringRecordsAreErrorsThatChangeNothing(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	h := madeHold{id: "101", user: "u1", seat: 1}
	mr.Set(prefix+"101", "held|1300000|1000|1|2030-01-02|u1") // a field short
	mr.Set("{c:9}:seat:"+loadedDay+":1", "101")
	before := mr.Dump()
	ctx := context.Background()
	for name, c := range map[string]*redis.Cmd{
		"claim":   lua.Claim.Run(ctx, rdb, recordKeys(h), h.id, h.user, bNow, 60_000, bRecordTTL),
		"unclaim": lua.Unclaim.Run(ctx, rdb, recordKeys(h), h.id, bNow),
		"sell":    lua.Sell.Run(ctx, rdb, append(recordKeys(h), "{c:9}:sold:"+loadedDay), h.id, h.seat, 1000, bSoldLife),
	} {
		if err := c.Err(); err == nil || !strings.Contains(err.Error(), "bad hold record") {
			t.Errorf("%s: err = %v, want bad hold record", name, err)
		}
	}
	if after := mr.Dump(); after != before {
		t.Errorf("Redis changed:\n%s", after)
	}
}

// A sale sent without how long the seat's "sold" lock lives (a caller of an
// older version) is refused before anything is written.
func TestSellWithoutTheLockLifeIsRefusedAndChangesNothing(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	h := madeHold{id: "101", user: "u1", seat: 1}
	mr.Set(prefix+"101", "claimed|1360000|1300000|1000|1|2030-01-02|u1")
	mr.Set("{c:9}:seat:"+loadedDay+":1", "101")
	before := mr.Dump()
	keys := append(recordKeys(h), "{c:9}:sold:"+loadedDay)
	for _, args := range [][]any{{h.id, h.seat, 1000}, {h.id, h.seat, 1000, "soon"}} {
		err := lua.Sell.Run(context.Background(), rdb, keys, args...).Err()
		if err == nil || !strings.Contains(err.Error(), "bad arguments") {
			t.Errorf("sell %v: err = %v, want bad arguments", args, err)
		}
	}
	if after := mr.Dump(); after != before {
		t.Errorf("Redis changed:\n%s", after)
	}
}

// A hold's record as the member of its user's set (the "set" form): no key
// of its own, the set living as long as the record must; a claim copies it
// to a key of its own and scores the member with the claim's end, an
// unclaim puts everything back, a sale takes the member out.
func TestHoldRecordInTheUserSet(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	res, err := holdBatch(rdb, []holdArgs{{user: "a|b|c", day: loadedDay, seat: 2}}, "", "")
	if err != nil || fmt.Sprint(res) != "[[1 101 1300000]]" {
		t.Fatalf("hold = %v, %v", res, err)
	}
	set := "{c:9}:user_holds:a|b|c"
	if mr.Exists(prefix + "101") {
		t.Errorf("record key written in the set form")
	}
	if got, _ := mr.ZMembers(set); fmt.Sprint(got) != "[101|held||1300000|1000|2|2030-01-02]" {
		t.Errorf("user's set = %v", got)
	}
	if got := mr.TTL(set); got != (bTTL+bRecordTTL)*time.Millisecond {
		t.Errorf("set ttl = %v, want %v", got, (bTTL+bRecordTTL)*time.Millisecond)
	}
	// Another user's claim looks in their own set, and finds nothing.
	h := madeHold{id: "101", user: "a|b|c", seat: 2}
	other := recordKeys(madeHold{id: "101", user: "u2", seat: 2})
	if got, err := lua.Claim.Run(ctx, rdb, other, h.id, "u2", bNow+1000, 600_000, bRecordTTL).Int64Slice(); err != nil || !slices.Equal(got, []int64{-1, 0}) {
		t.Fatalf("claim by another user = %v, %v; want -1", got, err)
	}
	// An id that only starts like this one's is another hold.
	if got, err := lua.Claim.Run(ctx, rdb, recordKeys(madeHold{id: "10", user: h.user, seat: 2}), "10", h.user, bNow+1000, 600_000, bRecordTTL).Int64Slice(); err != nil || !slices.Equal(got, []int64{-1, 0}) {
		t.Fatalf("claim of hold 10 = %v, %v; want -1", got, err)
	}
	if got, err := lua.Claim.Run(ctx, rdb, recordKeys(h), h.id, h.user, bNow+1000, 600_000, bRecordTTL).Int64Slice(); err != nil || !slices.Equal(got, []int64{1, 1300000}) {
		t.Fatalf("claim = %v, %v", got, err)
	}
	if got, _ := mr.Get(prefix + "101"); got != "claimed|1601000|1300000|1000|2|2030-01-02|a|b|c" {
		t.Errorf("claimed record = %q", got)
	}
	if got := mr.TTL(prefix + "101"); got != (600_000+bRecordTTL)*time.Millisecond {
		t.Errorf("claimed record ttl = %v", got)
	}
	member := "101|held||1300000|1000|2|2030-01-02"
	if got, _ := mr.ZMembers(set); fmt.Sprint(got) != "["+member+"]" {
		t.Errorf("user's set after the claim = %v, want the record's member alone", got)
	}
	if got, _ := mr.ZScore(set, member); got != 1601000 {
		t.Errorf("claimed hold's score %v, want its lease's end", got)
	}
	// A payment that fails gives the claim back: Redis is as before it.
	if got, err := lua.Unclaim.Run(ctx, rdb, recordKeys(h), h.id, bNow+2000).Int64(); err != nil || got != 1 {
		t.Fatalf("unclaim = %v, %v", got, err)
	}
	if mr.Exists(prefix + "101") {
		t.Errorf("record key kept after the unclaim")
	}
	if got, _ := mr.ZScore(set, member); got != 1300000 {
		t.Errorf("unclaimed hold's score %v, want its expiry", got)
	}
	// A sale takes the member out of the set.
	if _, err := lua.Claim.Run(ctx, rdb, recordKeys(h), h.id, h.user, bNow+3000, 600_000, bRecordTTL).Int64Slice(); err != nil {
		t.Fatal(err)
	}
	if err := lua.Sell.Run(ctx, rdb, append(recordKeys(h), "{c:9}:sold:"+loadedDay), h.id, h.seat, 86_400_000, bSoldLife).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.ZMembers(set); len(got) != 0 {
		t.Errorf("user's set after the sale = %v, want empty", got)
	}
	if got, _ := mr.Get(prefix + "101"); got != "paid||1300000|1000|2|2030-01-02|a|b|c" {
		t.Errorf("paid record = %q", got)
	}
}

// A lapsed record in the set answers "expired" until its record ttl is over
// (a prune keeps it so long), and a later hold of its user moves the set's
// expiry on, never back.
func TestALapsedRecordInTheUserSetIsKeptForItsRecordTTL(t *testing.T) {
	mr, rdb := newBatchRedis(t)
	ctx := context.Background()
	rdb.HSet(ctx, idsKey, "id", 100, "last", 1000)
	if res, err := holdBatch(rdb, []holdArgs{{user: "k", day: loadedDay, seat: 2}}, "", ""); err != nil || res[0][0] != 1 {
		t.Fatalf("hold = %v, %v", res, err)
	}
	h := madeHold{id: "101", user: "k", seat: 2}
	// Ids 102..127 go elsewhere; 128, a prune's turn, is k's next hold,
	// made after the first lapsed.
	rdb.HSet(ctx, idsKey, "id", 127)
	late := int64(bNow + bTTL + 1000)
	keys, args := runArgs([]holdArgs{{user: "k", day: loadedDay, seat: 4}}, "", "")
	args[0] = late
	if res, err := lua.HoldBatch.Run(ctx, rdb, keys, args...).Int64Slice(); err != nil || res[0] != 1 || res[1] != 128 {
		t.Fatalf("hold at the prune's turn = %v, %v", res, err)
	}
	if got, _ := mr.ZMembers("{c:9}:user_holds:k"); len(got) != 2 {
		t.Errorf("user's set after the prune = %v, want the lapsed record kept", got)
	}
	if got, want := mr.TTL("{c:9}:user_holds:k"), (bTTL+bRecordTTL)*time.Millisecond; got != want {
		t.Errorf("set ttl = %v, want %v from the later hold", got, want)
	}
	if got, err := lua.Claim.Run(ctx, rdb, recordKeys(h), h.id, h.user, late, 600_000, bRecordTTL).Int64Slice(); err != nil || !slices.Equal(got, []int64{-2, bNow + bTTL}) {
		t.Fatalf("claim of the lapsed hold = %v, %v; want -2 (expired)", got, err)
	}
	// A record ttl on, the next prune takes it.
	rdb.HSet(ctx, idsKey, "id", 159)
	keys, args = runArgs([]holdArgs{{user: "k", day: loadedDay, seat: 5}}, "", "")
	args[0] = int64(bNow + bTTL + bRecordTTL + 1)
	if res, err := lua.HoldBatch.Run(ctx, rdb, keys, args...).Int64Slice(); err != nil || res[0] != 1 || res[1] != 160 {
		t.Fatalf("hold at the next prune = %v, %v", res, err)
	}
	for _, m := range mustMembers(t, mr, "{c:9}:user_holds:k") {
		if strings.HasPrefix(m, "101|") {
			t.Errorf("record of 101 kept past its record ttl: %v", m)
		}
	}
	// A claim's lease that ends after a new hold's record ttl is not cut.
	mr.SetTTL("{c:9}:user_holds:k", 10*bRecordTTL*time.Millisecond)
	keys, args = runArgs([]holdArgs{{user: "k", day: loadedDay, seat: 6}}, "", "")
	args[0] = int64(bNow + bTTL + bRecordTTL + 2)
	if res, err := lua.HoldBatch.Run(ctx, rdb, keys, args...).Int64Slice(); err != nil || res[0] != 1 {
		t.Fatalf("hold = %v, %v", res, err)
	}
	if got := mr.TTL("{c:9}:user_holds:k"); got != 10*bRecordTTL*time.Millisecond {
		t.Errorf("set ttl = %v, want the longer one kept", got)
	}
}

func mustMembers(t *testing.T, mr *miniredis.Miniredis, key string) []string {
	t.Helper()
	m, err := mr.ZMembers(key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The set form answers every step as the key form does: two Redis driven by
// current's scripts through the same random holds, claims, unclaims, sales
// and passing time, one putting records in keys of their own and one in the
// users' sets, must give the same answers and leave the same seats, held
// sets and sold seats, and the same live holds per user. Unclaims and sales
// are of holds claimed before, as a payment's always are: a claim moves a
// record to its own key.
func TestRecordsInTheUserSetActAsRecordsInTheirOwnKeys(t *testing.T) {
	for seed := range uint64(20) {
		runFormSteps(t, seed)
	}
}

func runFormSteps(t *testing.T, seed uint64) {
	defer func(was string) { recordForm = was }(recordForm)
	r := rand.New(rand.NewPCG(seed, 11))
	worlds := map[string]*recordWorld{"key": newRecordWorld(t), "set": newRecordWorld(t)}
	ctx := context.Background()
	now := int64(bNow)
	var holds []madeHold
	// holds claimed and not given back since: a payment unclaims or sells
	// only the hold it has just claimed
	claimed := map[string]madeHold{}
	pick := func() madeHold {
		ids := slices.Sorted(maps.Keys(claimed))
		return claimed[ids[r.IntN(len(ids))]]
	}
	users := []string{"u1", "u2", "u3", "a|b"}
	// run gives each world's answer to the same step.
	run := func(step func(form string, w *recordWorld) *redis.Cmd) (key, set string) {
		recordForm = "key"
		key = reply(step("key", worlds["key"]))
		recordForm = "set"
		set = reply(step("set", worlds["set"]))
		return key, set
	}
	for n := range 300 {
		var what, a, b string
		switch op := r.IntN(12); {
		case op < 4:
			h := holdArgs{user: users[r.IntN(len(users))], day: loadedDay, seat: 1 + r.IntN(30)}
			h.price = 1000 + h.seat
			what = fmt.Sprintf("hold %+v", h)
			var made *redis.Cmd
			a, b = run(func(_ string, w *recordWorld) *redis.Cmd {
				keys, args := runArgs([]holdArgs{h}, "", "")
				args[0] = now
				made = lua.HoldBatch.Run(ctx, w.rdb, keys, args...)
				return made
			})
			if res, err := made.Int64Slice(); err == nil && res[0] == 1 {
				holds = append(holds, madeHold{id: strconv.FormatInt(res[1], 10), user: h.user, seat: h.seat})
			}
		case len(holds) == 0:
			continue
		case op < 7:
			h, user, lease := randomClaim(r, holds)
			what = fmt.Sprintf("claim %+v by %s, lease %d", h, user, lease)
			// Go passes the claiming user's set.
			keys := recordKeys(madeHold{id: h.id, user: user, seat: h.seat})
			var last *redis.Cmd
			a, b = run(func(_ string, w *recordWorld) *redis.Cmd {
				last = lua.Claim.Run(ctx, w.rdb, keys, h.id, user, now, lease, bRecordTTL)
				return last
			})
			if res, err := last.Int64Slice(); err == nil && res[0] == 1 {
				claimed[h.id] = h
			}
		case len(claimed) == 0:
			continue
		case op < 9:
			h := pick()
			delete(claimed, h.id)
			what = fmt.Sprintf("unclaim %+v", h)
			a, b = run(func(_ string, w *recordWorld) *redis.Cmd {
				return lua.Unclaim.Run(ctx, w.rdb, recordKeys(h), h.id, now)
			})
		case op < 10:
			h := pick()
			delete(claimed, h.id)
			keep := []int64{1, 86_400_000}[r.IntN(2)]
			what = fmt.Sprintf("sell %+v, keep %d", h, keep)
			a, b = run(func(_ string, w *recordWorld) *redis.Cmd {
				return lua.Sell.Run(ctx, w.rdb, append(recordKeys(h), "{c:9}:sold:"+loadedDay), h.id, h.seat, keep, bSoldLife)
			})
		default:
			d := time.Duration(r.IntN(200)) * time.Second
			what = fmt.Sprintf("wait %v", d)
			now += d.Milliseconds()
			for _, w := range worlds {
				w.mr.FastForward(d)
			}
		}
		if a != b {
			t.Fatalf("seed %d step %d, %s: set form answered %s, key form %s", seed, n, what, b, a)
		}
		if ks, ss := formState(t, worlds["key"], now), formState(t, worlds["set"], now); ks != ss {
			t.Fatalf("seed %d step %d, %s: Redis differs\nset form:\n%s\nkey form:\n%s", seed, n, what, ss, ks)
		}
	}
}

// formState is what both record forms must agree on: every key but the
// records and the users' sets, and each user's live holds.
func formState(t *testing.T, w *recordWorld, now int64) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(redisState(t, w.mr), "\n") {
		if !strings.HasPrefix(line, prefix) && !strings.Contains(line, ":user_holds:") {
			b.WriteString(line + "\n")
		}
	}
	for _, u := range []string{"u1", "u2", "u3", "a|b"} {
		n, err := w.rdb.ZCount(context.Background(), "{c:9}:user_holds:"+u, "("+strconv.FormatInt(now, 10), "+inf").Result()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s live %d\n", u, n)
	}
	return b.String()
}
