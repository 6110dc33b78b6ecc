package lua_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// These tests run hold_batch.lua with one hold at a time on miniredis and
// look only at its reservation ids: where they come from, and that a block is
// installed only when the concert's block is used up or missing.
// (miniredis's Lua prints large numbers in full where Redis's does not:
// booking's tests on the real Redis cover ids near 2^53.)

const (
	idsKey = "{c:9}:hold_ids"
	prefix = "{c:9}:hold:"
)

type script struct {
	t   *testing.T
	mr  *miniredis.Miniredis
	rdb *redis.Client
}

func newScript(t *testing.T) *script {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	// The sold cache of the date is loaded, with nothing sold.
	loadSold(t, rdb, "2030-01-02")
	return &script{t: t, mr: mr, rdb: rdb}
}

// hold holds seat alone, by a user of its own, offering the block
// first..last ("" for none), and returns the code and the id.
func (s *script) hold(seat int, first, last string) (code, id int64) {
	s.t.Helper()
	res := holdAlone(s.t, s.rdb, holdArgs{user: "u" + strconv.Itoa(seat), day: "2030-01-02", seat: seat}, first, last)
	return res[0], res[1]
}

func (s *script) block() (id, last string) {
	s.t.Helper()
	if !s.mr.Exists(idsKey) {
		return "", ""
	}
	return s.mr.HGet(idsKey, "id"), s.mr.HGet(idsKey, "last")
}

func TestHoldWithoutABlockAsksForOne(t *testing.T) {
	s := newScript(t)
	if code, _ := s.hold(1, "", ""); code != -5 {
		t.Fatalf("code = %d, want -5 (no block)", code)
	}
	if s.mr.Exists(idsKey) || s.mr.Exists("{c:9}:seat:2030-01-02:1") {
		t.Errorf("a hold without an id changed Redis: keys %v", s.mr.Keys())
	}
}

func TestHoldTakesTheIDsOfItsBlockInOrderThenAsksAgain(t *testing.T) {
	s := newScript(t)
	if code, id := s.hold(1, "100", "102"); code != 1 || id != 100 {
		t.Fatalf("first hold = %d, %d; want 1, 100 (the block's first id)", code, id)
	}
	if code, id := s.hold(2, "", ""); code != 1 || id != 101 {
		t.Fatalf("second hold = %d, %d; want 1, 101", code, id)
	}
	if code, id := s.hold(3, "", ""); code != 1 || id != 102 {
		t.Fatalf("third hold = %d, %d; want 1, 102", code, id)
	}
	if code, _ := s.hold(4, "", ""); code != -5 {
		t.Fatalf("hold past the block: code = %d, want -5", code)
	}
	if id, last := s.block(); id != "102" || last != "102" {
		t.Errorf("block after asking = %s..%s, want it left as it was (102, 102)", id, last)
	}
	if code, id := s.hold(4, "500", "509"); code != 1 || id != 500 {
		t.Fatalf("hold with a new block = %d, %d; want 1, 500", code, id)
	}
	if id, last := s.block(); id != "500" || last != "509" {
		t.Errorf("block = %s..%s, want 500 used, last 509", id, last)
	}
}

func TestHoldIgnoresAnOfferedBlockWhileItsOwnLasts(t *testing.T) {
	s := newScript(t)
	s.hold(1, "100", "109")
	// Two gateways found the block used up at once; the first installed
	// its block, the second's arrives late and is not needed.
	if code, id := s.hold(2, "900", "909"); code != 1 || id != 101 {
		t.Fatalf("hold = %d, %d; want 1, 101 from the block in Redis", code, id)
	}
	if id, last := s.block(); id != "101" || last != "109" {
		t.Errorf("block = %s..%s, want 101 used, last 109", id, last)
	}
}

func TestHoldAfterRedisLostTheBlockAsksForANewOne(t *testing.T) {
	s := newScript(t)
	s.hold(1, "100", "109")
	s.mr.FlushAll()
	loadSold(s.t, s.rdb, "2030-01-02")
	if code, _ := s.hold(2, "", ""); code != -5 {
		t.Fatalf("code = %d, want -5: a lost block is never restarted", code)
	}
	if code, id := s.hold(2, "110", "119"); code != 1 || id != 110 {
		t.Fatalf("hold = %d, %d; want 1, 110", code, id)
	}
}

func TestALostSeatRaceUsesUpAnID(t *testing.T) {
	s := newScript(t)
	s.hold(1, "100", "109")
	res := holdAlone(t, s.rdb, holdArgs{user: "other", day: "2030-01-02", seat: 1}, "", "")
	if res[0] != -1 {
		t.Fatalf("hold of a held seat = %v; want code -1", res)
	}
	if code, id := s.hold(2, "", ""); code != 1 || id != 102 {
		t.Fatalf("next hold = %d, %d; want 1, 102 (101 went to the lost race)", code, id)
	}
}

func TestHoldWritesLargeIDsInFull(t *testing.T) {
	inEachRecordForm(t, testHoldWritesLargeIDsInFull)
}

func testHoldWritesLargeIDsInFull(t *testing.T) {
	s := newScript(t)
	const first = 9_007_199_254_730_992 // the last block below 2^53
	code, id := s.hold(1, strconv.Itoa(first), strconv.Itoa(first+9999))
	if code != 1 || id != first {
		t.Fatalf("hold = %d, %d; want 1, %d", code, id, first)
	}
	want := strconv.Itoa(first)
	if got, _ := s.mr.Get("{c:9}:seat:2030-01-02:1"); got != want {
		t.Errorf("seat lock = %q, want %q", got, want)
	}
	got, _ := s.mr.ZMembers("{c:9}:user_holds:u1")
	if recordForm == "key" {
		if !s.mr.Exists(prefix + want) {
			t.Errorf("no record %s%s; keys %v", prefix, want, s.mr.Keys())
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("user holds = %v, want [%s]", got, want)
		}
	} else if len(got) != 1 || !strings.HasPrefix(got[0], want+"|held||") {
		t.Errorf("user holds = %v, want the record of %s", got, want)
	}
	if code, id := s.hold(2, "", ""); code != 1 || id != first+1 {
		t.Fatalf("next hold = %d, %d; want 1, %d", code, id, first+1)
	}
}
