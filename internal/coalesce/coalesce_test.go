package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a store that appends every request it runs, batch by batch.
type recorder struct {
	mu      sync.Mutex
	order   []int
	batches [][]int
	gate    chan struct{} // when set, each run waits for a receive
	hang    atomic.Bool   // each run waits for its context to end
	stall   time.Duration // each run first sleeps this long, deaf to its context
	fail    func(batch []int) error
}

func (r *recorder) run(ctx context.Context, key string, reqs []int) ([]int, error) {
	time.Sleep(r.stall)
	if r.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(reqs); err != nil {
			return nil, err
		}
	}
	r.batches = append(r.batches, append([]int(nil), reqs...))
	out := make([]int, len(reqs))
	for i, q := range reqs {
		r.order = append(r.order, q)
		out[i] = q * 10
	}
	return out, nil
}

func newBatcher(t *testing.T, cfg Config, r *recorder) *Batcher[string, int, int] {
	t.Helper()
	b, err := New(cfg, r.run)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnIdleKeySendsTheFirstCallAtOnceAlone(t *testing.T) {
	r := &recorder{}
	// A wait of an hour would hang the test if an idle call lingered.
	b := newBatcher(t, Config{MaxBatch: 64, Wait: time.Hour}, r)
	for i := 1; i <= 3; i++ {
		got, err := b.Do(context.Background(), "k", i)
		if err != nil || got != i*10 {
			t.Fatalf("Do(%d) = %d, %v", i, got, err)
		}
	}
	if len(r.batches) != 3 {
		t.Fatalf("batches = %v, want three of one", r.batches)
	}
}

// Calls queued behind a batch in flight go together as the next batch, in the
// order they arrived, and each gets its own answer.
func TestCallsQueuedBehindABatchGoTogetherInArrivalOrder(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	var (
		mu      sync.Mutex
		arrival []int
	)
	b := newBatcher(t, Config{MaxBatch: 4, OnQueue: func(q any) {
		mu.Lock()
		arrival = append(arrival, q.(int))
		mu.Unlock()
	}}, r)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	do := func(i int) {
		defer wg.Done()
		got, err := b.Do(context.Background(), "k", i)
		if err == nil && got != i*10 {
			err = errors.New("wrong answer")
		}
		if err != nil {
			errs <- err
		}
	}
	wg.Add(1)
	go do(0)
	waitQueued := func(n int) {
		for {
			mu.Lock()
			l := len(arrival)
			mu.Unlock()
			if l >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueued(1) // call 0 is in flight, held at the gate
	for i := 1; i <= 9; i++ {
		wg.Add(1)
		go do(i)
	}
	waitQueued(10)
	for i := 0; i < 4; i++ { // 0, then 1-4, 5-8, 9
		r.gate <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(r.batches) != 4 || len(r.batches[0]) != 1 || len(r.batches[1]) != 4 || len(r.batches[2]) != 4 || len(r.batches[3]) != 1 {
		t.Fatalf("batches = %v, want sizes 1, 4, 4, 1", r.batches)
	}
	for i := range arrival {
		if r.order[i] != arrival[i] {
			t.Fatalf("run order %v, arrival order %v", r.order, arrival)
		}
	}
}

func TestAFailedBatchFailsEachOfItsCallsAndNoOther(t *testing.T) {
	boom := errors.New("boom")
	r := &recorder{fail: func(batch []int) error {
		for _, q := range batch {
			if q == 7 {
				return boom
			}
		}
		return nil
	}}
	b := newBatcher(t, Config{MaxBatch: 8}, r)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := map[int]bool{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got, err := b.Do(context.Background(), "k", i)
			switch {
			case errors.Is(err, boom):
				mu.Lock()
				failed[i] = true
				mu.Unlock()
			case err != nil || got != i*10:
				t.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	if !failed[7] {
		t.Fatal("call 7 did not fail")
	}
	ran := map[int]bool{}
	for _, q := range r.order {
		ran[q] = true
	}
	for i := 0; i < 200; i++ {
		if failed[i] == ran[i] {
			t.Fatalf("call %d: failed %v, ran %v: a call must do exactly one", i, failed[i], ran[i])
		}
	}
}

// A store that hangs: the call in flight and those queued behind it all fail
// within Timeout of their arrival, and the queued ones are never sent.
func TestAHungStoreFailsQueuedCallsWithinTheirTimeoutUnsent(t *testing.T) {
	r := &recorder{}
	r.hang.Store(true)
	b := newBatcher(t, Config{MaxBatch: 8, Timeout: 50 * time.Millisecond}, r)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			if _, err := b.Do(context.Background(), "k", i); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Do(%d): %v, want the deadline", i, err)
			}
			// The bound is the contract's fast 503; the slack is for a
			// loaded machine's scheduling, not a speed target.
			if took := time.Since(start); took > 20*50*time.Millisecond {
				t.Errorf("Do(%d) failed after %v, want about the 50ms timeout", i, took)
			}
		}(i)
	}
	wg.Wait()
	r.hang.Store(false)
	// The key is free again and the dropped calls never reach the store.
	if got, err := b.Do(context.Background(), "k", 99); err != nil || got != 990 {
		t.Fatalf("after the outage: %d, %v", got, err)
	}
	if len(r.order) != 1 || r.order[0] != 99 {
		t.Fatalf("ran %v, want only 99", r.order)
	}
}

// A store that overruns the deadline of the batch it runs (deaf to its
// context): the calls queued behind it whose deadline passed meanwhile fail
// when their turn comes, never sent.
func TestCallsPastTheirDeadlineWhileQueuedAreNeverSent(t *testing.T) {
	r := &recorder{stall: 100 * time.Millisecond}
	b := newBatcher(t, Config{MaxBatch: 8, Timeout: 20 * time.Millisecond}, r)
	first := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), "k", 0)
		first <- err
	}()
	// The first call is in flight (the key is busy) before the others come.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		busy := b.lanes["k"] != nil && b.lanes["k"].busy
		b.mu.Unlock()
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first call never went out")
		}
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := b.Do(context.Background(), "k", i); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Do(%d): %v, want the deadline", i, err)
			}
		}(i)
	}
	wg.Wait()
	<-first
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.order {
		if q != 0 {
			t.Fatalf("ran %v: a call past its deadline was sent", r.order)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	r := &recorder{}
	b := newBatcher(t, Config{MaxBatch: 16}, r)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := "a"
			if i%2 == 1 {
				key = "b"
			}
			if got, err := b.Do(context.Background(), key, i); err != nil || got != i*10 {
				t.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	for _, batch := range r.batches {
		for _, q := range batch {
			if q%2 != batch[0]%2 {
				t.Fatalf("batch %v mixes keys", batch)
			}
		}
	}
}

func TestBatchingOffRunsEachCallAlone(t *testing.T) {
	r := &recorder{}
	b := newBatcher(t, Config{MaxBatch: 1}, r)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b.Do(context.Background(), "k", i)
		}(i)
	}
	wg.Wait()
	if len(r.batches) != 50 {
		t.Fatalf("%d batches, want 50 of one", len(r.batches))
	}
}

func TestNewRefusesNegativeBounds(t *testing.T) {
	r := &recorder{}
	if _, err := New(Config{MaxBatch: 2, Wait: -1}, r.run); err == nil {
		t.Fatal("negative Wait accepted")
	}
	if _, err := New(Config{MaxBatch: 2, Timeout: -1}, r.run); err == nil {
		t.Fatal("negative Timeout accepted")
	}
}

// A batch that finds the store unreachable fails the calls queued behind it
// at once, unsent; another error fails only its own batch.
func TestAnUnreachableStoreFailsTheQueuedCallsAtOnce(t *testing.T) {
	down := errors.New("store unreachable")
	r := &recorder{gate: make(chan struct{}), fail: func([]int) error { return down }}
	var (
		mu     sync.Mutex
		queued int
	)
	b := newBatcher(t, Config{MaxBatch: 4, Unreachable: func(err error) bool { return errors.Is(err, down) },
		OnQueue: func(any) { mu.Lock(); queued++; mu.Unlock() }}, r)
	var wg sync.WaitGroup
	results := make(chan error, 6)
	do := func(i int) {
		defer wg.Done()
		_, err := b.Do(context.Background(), "k", i)
		results <- err
	}
	wg.Add(1)
	go do(0)
	for {
		mu.Lock()
		n := queued
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 6; i++ {
		wg.Add(1)
		go do(i)
	}
	for {
		mu.Lock()
		n := queued
		mu.Unlock()
		if n == 6 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.gate <- struct{}{} // only the first batch may reach the store
	wg.Wait()
	close(results)
	for err := range results {
		if !errors.Is(err, down) {
			t.Fatalf("got %v, want the store's error", err)
		}
	}
	r.gate = nil
	r.fail = nil
	if got, err := b.Do(context.Background(), "k", 7); err != nil || got != 70 {
		t.Fatalf("after the outage: %d, %v", got, err)
	}
	if len(r.batches) != 1 {
		t.Fatalf("batches run: %v, want only the last call's", r.batches)
	}
}

// OnBatch hears of every batch, batched or not: how many calls it carried,
// how long its oldest call waited for it and how long its run took.
func TestOnBatchTellsTheSizeWaitAndRunOfEachBatch(t *testing.T) {
	const stall = 20 * time.Millisecond
	for _, maxBatch := range []int{1, 8} {
		r := &recorder{stall: stall}
		var (
			mu    sync.Mutex
			stats []BatchStats
		)
		b := newBatcher(t, Config{MaxBatch: maxBatch, OnBatch: func(s BatchStats) {
			mu.Lock()
			stats = append(stats, s)
			mu.Unlock()
		}}, r)
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if got, err := b.Do(context.Background(), "k", i); err != nil || got != i*10 {
					t.Errorf("MaxBatch %d: Do(%d) = %d, %v", maxBatch, i, got, err)
				}
			}(i)
			if i == 0 {
				time.Sleep(stall / 4) // call 0 in flight; the others queue behind it
			}
		}
		wg.Wait()
		mu.Lock()
		calls := 0
		for _, s := range stats {
			calls += s.Calls
			if s.Took < stall {
				t.Errorf("MaxBatch %d: a run that took at least %v reported %v", maxBatch, stall, s.Took)
			}
		}
		if len(stats) != len(r.batches) || calls != 5 {
			t.Errorf("MaxBatch %d: %d reports of %d calls for batches %v", maxBatch, len(stats), calls, r.batches)
		}
		if maxBatch > 1 {
			// 0 alone at once, then 1-4 together once 0 returned.
			if len(stats) != 2 || stats[0].Calls != 1 || stats[1].Calls != 4 {
				t.Fatalf("MaxBatch %d: reports %+v, want one of 1 call then one of 4", maxBatch, stats)
			}
			if stats[0].Queued > stall/4 || stats[1].Queued < stall/2 {
				t.Errorf("MaxBatch %d: queued %v and %v; want the first about 0 and the second behind a run of %v",
					maxBatch, stats[0].Queued, stats[1].Queued, stall)
			}
		} else {
			for _, s := range stats {
				if s.Calls != 1 || s.Queued != 0 {
					t.Errorf("batching off: report %+v, want 1 call never queued", s)
				}
			}
		}
		mu.Unlock()
	}
}
