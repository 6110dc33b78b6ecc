package queue_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/lua"
	"github.com/rushgate/rushgate/queue"
)

// arrivals records the order in which token issues joined their batch queue.
type arrivals struct {
	mu    sync.Mutex
	index map[string][]int // user -> arrival numbers of their issues
	n     int
}

func (a *arrivals) add(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.index[user] = append(a.index[user], a.n)
	a.n++
}

// outcome is one token issue as its caller saw it.
type outcome struct {
	user   string
	nth    int // which of the user's issues, when they were sent one after another; else -1
	ticket queue.Ticket
	err    error
}

// scriptCalls counts the runs of enter.lua a client sends and can make every
// n-th one fail inside Redis, before it writes (a bad "now").
type scriptCalls struct {
	runs    atomic.Int64
	spoilN  int64
	spoiled atomic.Int64
}

func (h *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if len(args) > 14 && (cmd.Name() == "evalsha" && args[1] == lua.Enter.Hash() || cmd.Name() == "eval") {
			n := h.runs.Add(1)
			if h.spoilN > 0 && n%h.spoilN == 0 {
				h.spoiled.Add(1)
				args[3+11] = "spoiled" // ARGV[1], now
			}
		}
		return next(ctx, cmd)
	}
}

// storm enters users from many goroutines through q, each user repeats
// times: shuffled among all issues (a user's issues may then be in flight at
// once), or one after another by one goroutine (so that the k-th answer is
// the k-th arrival).
func storm(t *testing.T, q *queue.Queue, workers, users, repeats int, shuffled bool) []outcome {
	t.Helper()
	var (
		mu  sync.Mutex
		out []outcome
		wg  sync.WaitGroup
	)
	jobs := make(chan string)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				times, nth := repeats, 0
				if shuffled {
					times, nth = 1, -1
				}
				for k := 0; k < times; k++ {
					tk, err := q.Enter(context.Background(), 1, u)
					mu.Lock()
					out = append(out, outcome{user: u, nth: nth, ticket: tk, err: err})
					mu.Unlock()
					if nth >= 0 {
						nth++
					}
				}
			}
		}()
	}
	var order []string
	for i := 0; i < users; i++ {
		u := fmt.Sprintf("u%05d", i)
		order = append(order, u)
		for r := 1; shuffled && r < repeats; r++ {
			order = append(order, u)
		}
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, u := range order {
		jobs <- u
	}
	close(jobs)
	wg.Wait()
	return out
}

// checkFIFO asserts that new tokens were issued in strictly increasing
// sequence in the order their issues arrived, that every answer for one user
// carries the same sequence (one place per user), and returns the users that
// got a token.
func checkFIFO(t *testing.T, out []outcome, arr *arrivals) map[string]int64 {
	t.Helper()
	seqOf := map[string]int64{}
	created := map[string]int{}
	arrivalOf := map[string]int{} // the arrival that created the user's token
	for _, o := range out {
		if o.err != nil {
			continue
		}
		if s, ok := seqOf[o.user]; ok && s != o.ticket.Claims.Seq {
			t.Fatalf("user %s has two places: seq %d and %d", o.user, s, o.ticket.Claims.Seq)
		}
		seqOf[o.user] = o.ticket.Claims.Seq
		if o.ticket.Created {
			created[o.user]++
			// Shuffled, a user's first arrival is the one that reached Redis
			// first (batches run in arrival order, and nothing fails there).
			arrivalOf[o.user] = arr.index[o.user][max(o.nth, 0)]
		}
	}
	for u, n := range created {
		if n > 1 {
			t.Fatalf("user %s was given a new token %d times", u, n)
		}
	}
	// Ordered by the arrival that created them, new tokens have increasing
	// sequences.
	type entry struct {
		first int
		seq   int64
	}
	var es []entry
	for u := range created {
		es = append(es, entry{arrivalOf[u], seqOf[u]})
	}
	// sort by arrival
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].first < es[j-1].first; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	for i := 1; i < len(es); i++ {
		if es[i].seq <= es[i-1].seq {
			t.Fatalf("arrival %d got seq %d, but the earlier arrival %d got seq %d: not first come first served",
				es[i].first, es[i].seq, es[i-1].first, es[i-1].seq)
		}
	}
	return seqOf
}

func batchedReplica(rdb redis.UniversalClient, keys keyspace.Space, arr *arrivals) *queue.Queue {
	cfg := queue.Config{TokenTTL: 2 * time.Hour, EnterBatch: 32, EnterTimeout: 10 * time.Second,
		Defaults: queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Minute}}
	return queue.New(rdb, keys, queue.NewSigner([]byte("shared-secret")), queue.WithEnterArrivals(cfg, arr.add))
}

func TestBatchedEntriesKeepArrivalOrderAndOnePlacePerUser(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	calls := &scriptCalls{}
	rdb.AddHook(calls)
	arr := &arrivals{index: map[string][]int{}}
	q := batchedReplica(rdb, keys, arr)
	const users, repeats = 1500, 2
	out := storm(t, q, 64, users, repeats, true)
	for _, o := range out {
		if o.err != nil {
			t.Fatalf("enter %s: %v", o.user, o.err)
		}
	}
	seqOf := checkFIFO(t, out, arr)
	if len(seqOf) != users {
		t.Fatalf("%d users have a place, want %d", len(seqOf), users)
	}
	k := keys.Concert(1)
	ctx := context.Background()
	if n := rdb.ZCard(ctx, k.Waiting()).Val(); n != users {
		t.Fatalf("waiting = %d, want %d", n, users)
	}
	if n, _ := rdb.Get(ctx, k.Seq()).Int64(); n != users {
		t.Fatalf("seq = %d, want %d: a place was given twice", n, users)
	}
	runs := calls.runs.Load()
	if runs >= int64(users*repeats) {
		t.Fatalf("%d script runs for %d issues: nothing was batched", runs, users*repeats)
	}
	t.Logf("%d issues in %d script runs", users*repeats, runs)
}

// Failures injected while batches are in flight: connections of the queue's
// client killed by Redis (CLIENT KILL), and one script run in seven failing
// inside Redis. Each failed issue fails with a store error, nothing is left
// half-done, and the line afterwards has one place per user in arrival order.
func TestBatchedEntriesSurviveFailuresMidBatch(t *testing.T) {
	_, keys := testenv.Redis(t) // the key space, cleaned up at the end
	var ids sync.Map            // CLIENT ID of every connection of the queue's client
	rdb := redis.NewClient(&redis.Options{
		Addr: strings.TrimPrefix(strings.TrimSuffix(testenv.RedisURL(), "/0"), "redis://"),
		// No retry: a killed connection must surface as the batch's error.
		MaxRetries: -1, PoolSize: 16,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			id, err := cn.ClientID(ctx).Result()
			if err == nil {
				ids.Store(id, true)
			}
			return err
		},
	})
	defer rdb.Close()
	calls := &scriptCalls{spoilN: 7}
	rdb.AddHook(calls)
	admin, _ := testenv.Redis(t)

	stop := make(chan struct{})
	var killed atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			ids.Range(func(id, _ any) bool {
				if rand.IntN(4) == 0 {
					n, _ := admin.ClientKillByFilter(context.Background(), "ID", fmt.Sprint(id)).Result()
					killed.Add(n)
					ids.Delete(id)
				}
				return true
			})
		}
	}()

	arr := &arrivals{index: map[string][]int{}}
	q := batchedReplica(rdb, keys, arr)
	const users, repeats = 1000, 2
	out := storm(t, q, 64, users, repeats, false)
	close(stop)
	<-killerDone

	ctx := context.Background()
	k := keys.Concert(1)
	var failed, spoiledFails int
	for _, o := range out {
		if o.err == nil {
			continue
		}
		failed++
		if strings.Contains(o.err.Error(), "is not a number") {
			spoiledFails++
			continue
		}
		if !errors.Is(o.err, queue.ErrUnavailable) {
			t.Fatalf("enter %s failed with %v: neither a refused script nor an unreachable Redis", o.user, o.err)
		}
	}
	t.Logf("%d issues: %d failed (%d in spoiled script runs, %d connections killed), %d script runs",
		len(out), failed, spoiledFails, killed.Load(), calls.runs.Load())
	if spoiledFails == 0 || killed.Load() == 0 {
		t.Fatalf("no failure was injected (spoiled %d, killed %d): the test proves nothing", spoiledFails, killed.Load())
	}
	seqOf := checkFIFO(t, out, arr)

	// Every user enters once more, with nothing failing: those who had a
	// place get the same one back, the others get a new one, and nobody
	// holds two.
	calls.spoilN = 0
	seqs := map[int64]string{}
	for i := 0; i < users; i++ {
		u := fmt.Sprintf("u%05d", i)
		tk, err := q.Enter(ctx, 1, u)
		if err != nil {
			t.Fatalf("re-enter %s: %v", u, err)
		}
		if s, ok := seqOf[u]; ok && (tk.Created || tk.Claims.Seq != s) {
			t.Fatalf("%s had seq %d, re-entering gave %d (created %v)", u, s, tk.Claims.Seq, tk.Created)
		}
		if other, dup := seqs[tk.Claims.Seq]; dup {
			t.Fatalf("seq %d given to %s and %s", tk.Claims.Seq, other, u)
		}
		seqs[tk.Claims.Seq] = u
	}
	if n := rdb.ZCard(ctx, k.Waiting()).Val(); n != users {
		t.Fatalf("waiting = %d, want %d", n, users)
	}
	// A spoiled run fails before its first write and a killed connection
	// only loses an answer: no sequence is spent without a place.
	if n, _ := rdb.Get(ctx, k.Seq()).Int64(); n != users {
		t.Fatalf("seq = %d, want %d: a sequence was spent without a place", n, users)
	}
}
