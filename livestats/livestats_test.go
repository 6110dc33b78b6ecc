package livestats_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/livestats"
)

// start is a minute boundary plus 58 s, so tests cross into the next minute.
var start = time.Date(2030, 1, 2, 10, 0, 58, 0, time.UTC)

func mini(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return mr, rdb
}

func brief(points []livestats.Point) string {
	s := ""
	for _, p := range points {
		s += fmt.Sprintf("[%s e%d a%d k%d h%d s%d w%d c%d r%g]", p.T.UTC().Format("04:05"), p.Entered, p.Admitted,
			p.SkippedInactive, p.Holds, p.Sales, p.Waiting, p.Active, p.AdmitPerSecond)
	}
	return s
}

func TestPointsSumReplicasPerSecondAndCarryLevels(t *testing.T) {
	mr, rdb := mini(t)
	ctx := context.Background()
	clock := testenv.NewClock(start)
	keys := keyspace.New("")
	a, b := livestats.New(rdb, keys, clock.Now), livestats.New(rdb, keys, clock.Now)

	// Second :58: both replicas count; :59 nothing; 01:00 levels only.
	a.Entered(7)
	a.Entered(7)
	b.Entered(7)
	a.Admitted(7, 5)
	b.Admitted(7, 2)
	b.SkippedInactive(7, 1)
	a.Held(7)
	b.Sold(7)
	a.Levels(7, 100, 10, 50)
	b.Levels(7, 98, 12, 50) // the later observation of the second wins
	a.Entered(8)            // another concert
	clock.Add(2 * time.Second)
	a.Levels(7, 90, 20, 75.5)
	for _, r := range []*livestats.Recorder{a, b} {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Points(ctx, 7, start.Add(-time.Second), start.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := "[00:57 e0 a0 k0 h0 s0 w0 c0 r0]" +
		"[00:58 e3 a7 k1 h1 s1 w98 c12 r50]" +
		"[00:59 e0 a0 k0 h0 s0 w98 c12 r50]" +
		"[01:00 e0 a0 k0 h0 s0 w90 c20 r75.5]"
	if got := brief(got); got != want {
		t.Errorf("points\n got %s\nwant %s", got, want)
	}
	other, _ := a.Points(ctx, 8, start, start.Add(time.Second))
	if other[0].Entered != 1 {
		t.Errorf("concert 8: %s", brief(other))
	}

	t.Run("levels carry into a range from the minute before", func(t *testing.T) {
		got, _ := a.Points(ctx, 7, start.Add(3*time.Second), start.Add(4*time.Second))
		if s := brief(got); s != "[01:01 e0 a0 k0 h0 s0 w90 c20 r75.5]" {
			t.Errorf("got %s", s)
		}
	})

	t.Run("the keys expire after the retention", func(t *testing.T) {
		for _, k := range mr.Keys() {
			if ttl := mr.TTL(k); ttl != livestats.Retention {
				t.Errorf("ttl of %s = %v", k, ttl)
			}
		}
		mr.FastForward(livestats.Retention + time.Second)
		if n := len(mr.Keys()); n != 0 {
			t.Errorf("%d keys left after the retention", n)
		}
	})
}

func TestAFailedFlushKeepsItsCountsForTheNext(t *testing.T) {
	mr, rdb := mini(t)
	ctx := context.Background()
	clock := testenv.NewClock(start)
	r := livestats.New(rdb, keyspace.New(""), clock.Now)
	r.Entered(1)
	r.Levels(1, 5, 1, 10)
	mr.SetError("LOADING Redis is loading the dataset in memory")
	if err := r.Flush(ctx); err == nil {
		t.Fatal("flush into a failing Redis reported no error")
	}
	r.Entered(1)
	r.Levels(1, 6, 1, 10) // newer than the level the failed flush kept
	mr.SetError("")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := r.Points(ctx, 1, start, start.Add(time.Second))
	if s := brief(got); s != "[00:58 e2 a0 k0 h0 s0 w6 c1 r10]" {
		t.Errorf("got %s", s)
	}
}

func TestANilRecorderCountsNothing(t *testing.T) {
	var r *livestats.Recorder
	r.Entered(1)
	r.Admitted(1, 3)
	r.Levels(1, 1, 1, 1)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Many replicas counting and flushing at once on the real Redis lose no
// count and count none twice.
func TestReplicasCountingConcurrentlyLoseNothing(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(time.Now().Truncate(time.Minute))
	const replicas, workers, each = 4, 8, 500
	recs := make([]*livestats.Recorder, replicas)
	for i := range recs {
		recs[i] = livestats.New(rdb, keys, clock.Now)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var flushers sync.WaitGroup
	for _, r := range recs {
		flushers.Add(1)
		go func() {
			defer flushers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					r.Entered(3)
					r.Held(3)
					r.Admitted(3, 2)
					if i%100 == 0 {
						clock.Add(100 * time.Millisecond) // spread over seconds
					}
				}
			}()
		}
	}
	wg.Wait()
	close(stop)
	flushers.Wait()
	for _, r := range recs {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	from := clock.Now().Truncate(time.Minute).Add(-time.Minute)
	points, err := recs[0].Points(ctx, 3, from, clock.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var entered, held, admitted int64
	seconds := 0
	for _, p := range points {
		entered += p.Entered
		held += p.Holds
		admitted += p.Admitted
		if p.Entered > 0 {
			seconds++
		}
	}
	const n = replicas * workers * each
	if entered != n || held != n || admitted != 2*n {
		t.Errorf("entered %d held %d admitted %d, want %d %d %d", entered, held, admitted, n, n, 2*n)
	}
	if seconds < 2 {
		t.Errorf("counts fell in %d seconds; the test meant to spread them", seconds)
	}
}
