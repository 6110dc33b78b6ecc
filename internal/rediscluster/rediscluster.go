// Package rediscluster starts a real Redis Cluster for tests, from the
// machine's redis-server and redis-cli: masters with their replicas on spare
// ports of 127.0.0.1, each node a child process that a test may SIGKILL to
// see a replica take over.
//
//	c := rediscluster.Start(t, rediscluster.Options{})   // 3 masters, 3 replicas
//	url := c.URL()                                       // REDIS_MODE=cluster
//	node := c.MasterOf(t, "rg:{c:1}:waiting")
//	node.Kill()
//	promoted, at := c.WaitFailover(t, node, c.Slot(t, "rg:{c:1}:waiting"), 30*time.Second)
//
// Nodes keep nothing on disk but their nodes.conf, so a killed node started
// again rejoins the cluster (as a replica of whoever took its slots over).
// Every node is stopped and its files removed when the test ends.
package rediscluster

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/svctest"
)

// Options shape the cluster; zero values take the defaults.
type Options struct {
	// Masters (default 3) share the 16384 slots evenly.
	Masters int
	// ReplicasPerMaster (default 1).
	ReplicasPerMaster int
	// NodeTimeout is cluster-node-timeout (default 1s): how long a master may
	// be silent before its replica starts an election.
	NodeTimeout time.Duration
}

// Cluster is a running Redis Cluster.
type Cluster struct {
	// Nodes are every node, the first Masters of them the masters at start.
	Nodes []*svctest.Redis
}

// Start starts the nodes, forms the cluster with redis-cli --cluster create,
// and waits until every slot is served and every replica is in sync. It
// fails the test when any step does.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.ReplicasPerMaster == 0 {
		o.ReplicasPerMaster = 1
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = time.Second
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("rediscluster: redis-cli is not on PATH (apt-get install redis-tools): %v", err)
	}
	n := o.Masters * (1 + o.ReplicasPerMaster)
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, svctest.StartRedisWith(t, busFreePort,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
			// A replica may always take over, however long its master has
			// been gone: the test decides when to kill.
			"--cluster-replica-validity-factor", "0",
			// The other masters keep serving their slots while one shard
			// fails over: a concert's outage does not stop the others.
			"--cluster-require-full-coverage", "no",
			// Replicas sync over the socket, at once.
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
		))
	}
	args := []string{"--cluster", "create"}
	for _, node := range c.Nodes {
		args = append(args, node.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(o.ReplicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 2*svctest.StartTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("rediscluster: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(t, 2*svctest.StartTimeout)
	return c
}

// busFreePort returns a free port p whose cluster bus port p+10000 is free
// too (so p is below 55536).
func busFreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("rediscluster: free port: %v", err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return p
	}
	t.Fatal("rediscluster: no free port pair found")
	return 0
}

// URL is the seed list in go-redis's cluster URL form: every node.
func (c *Cluster) URL() string {
	var b strings.Builder
	b.WriteString("redis://" + c.Nodes[0].Addr())
	for i, node := range c.Nodes[1:] {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString("addr=" + node.Addr())
	}
	return b.String()
}

// Node is a plain client of one node, for node commands (CLUSTER, INFO,
// FLUSHALL); the caller closes it.
func Node(r *svctest.Redis) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr(), DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxRetries: -1, PoolSize: 2})
}

// call runs fn on a client of every running node until one succeeds.
func (c *Cluster) call(fn func(ctx context.Context, rdb *redis.Client) error) error {
	var lastErr error = fmt.Errorf("rediscluster: no node is running")
	for _, node := range c.Nodes {
		if !node.Running() {
			continue
		}
		rdb := Node(node)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		lastErr = fn(ctx, rdb)
		cancel()
		rdb.Close()
		if lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// Slot is the hash slot of key.
func (c *Cluster) Slot(t testing.TB, key string) int {
	t.Helper()
	var slot int64
	err := c.call(func(ctx context.Context, rdb *redis.Client) (err error) {
		slot, err = rdb.ClusterKeySlot(ctx, key).Result()
		return err
	})
	if err != nil {
		t.Fatalf("rediscluster: CLUSTER KEYSLOT: %v", err)
	}
	return int(slot)
}

// MasterOf is the node that serves key's slot now, as a running node sees it.
func (c *Cluster) MasterOf(t testing.TB, key string) *svctest.Redis {
	t.Helper()
	slot := c.Slot(t, key)
	addr, err := c.masterAddr(slot, nil)
	if err != nil {
		t.Fatalf("rediscluster: master of slot %d: %v", slot, err)
	}
	return c.byAddr(t, addr)
}

// masterAddr is the address of slot's master according to a running node
// other than skip.
func (c *Cluster) masterAddr(slot int, skip *svctest.Redis) (string, error) {
	var addr string
	err := c.call(func(ctx context.Context, rdb *redis.Client) error {
		if skip != nil && rdb.Options().Addr == skip.Addr() {
			return fmt.Errorf("skipped")
		}
		shards, err := rdb.ClusterShards(ctx).Result()
		if err != nil {
			return err
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > int64(slot) || int64(slot) > r.End {
					continue
				}
				for _, n := range sh.Nodes {
					if n.Role == "master" && n.Health == "online" {
						addr = net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
						return nil
					}
				}
			}
		}
		return fmt.Errorf("slot %d is not served", slot)
	})
	return addr, err
}

func (c *Cluster) byAddr(t testing.TB, addr string) *svctest.Redis {
	t.Helper()
	for _, node := range c.Nodes {
		if node.Addr() == addr {
			return node
		}
	}
	t.Fatalf("rediscluster: %s is no node of this cluster", addr)
	return nil
}

// WaitFailover waits until a replica of the killed master dead serves its
// slots as master, and returns it with the time the promotion was seen.
func (c *Cluster) WaitFailover(t testing.TB, dead *svctest.Redis, slot int, within time.Duration) (*svctest.Redis, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		addr, err := c.masterAddr(slot, dead)
		if err == nil && addr != dead.Addr() {
			node := c.byAddr(t, addr)
			if isMaster(node) {
				return node, time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediscluster: slot %d still on %s after %v (last error %v)", slot, dead.Addr(), within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isMaster(node *svctest.Redis) bool {
	rdb := Node(node)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "replication").Result()
	return err == nil && strings.Contains(info, "role:master")
}

// WaitHealthy waits until every running node sees the cluster "ok" with
// every slot served by a running master, and every running replica has its
// link to its master up.
func (c *Cluster) WaitHealthy(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := c.healthy()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediscluster: not healthy after %v: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) healthy() error {
	running := 0
	for _, node := range c.Nodes {
		if node.Running() {
			running++
		}
	}
	for _, node := range c.Nodes {
		if !node.Running() {
			continue
		}
		rdb := Node(node)
		err := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			info, err := rdb.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384"} {
				if !strings.Contains(info, want) {
					return fmt.Errorf("%s: no %s", node.Addr(), want)
				}
			}
			repl, err := rdb.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return fmt.Errorf("%s: replica not in sync", node.Addr())
			}
			nodes, err := rdb.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			// Every running node is known and none is flagged failing.
			live := 0
			for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
				f := strings.Fields(line)
				if len(f) > 2 && !strings.Contains(f[2], "fail") && !strings.Contains(f[2], "handshake") {
					live++
				}
			}
			if live < running {
				return fmt.Errorf("%s sees %d healthy nodes of %d running", node.Addr(), live, running)
			}
			return nil
		}()
		rdb.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
