package rediscluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/rediscluster"
)

func TestStartFormsAClusterOfThreeMastersEachWithAReplica(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	if got, want := len(c.Nodes), 6; got != want {
		t.Fatalf("nodes = %d, want %d", got, want)
	}
	rdb := rediscluster.Node(c.Nodes[0])
	defer rdb.Close()
	nodes, err := rdb.ClusterNodes(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var masters, replicas int
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		switch flags := strings.Fields(line)[2]; {
		case strings.Contains(flags, "master"):
			masters++
		case strings.Contains(flags, "slave"):
			replicas++
		}
	}
	if masters != 3 || replicas != 3 {
		t.Errorf("masters, replicas = %d, %d, want 3, 3\n%s", masters, replicas, nodes)
	}
	// Keys of different hash tags land on different masters.
	seen := map[string]bool{}
	for _, tag := range []string{"{a}", "{b}", "{c}", "{d}", "{e}", "{f}", "{g}", "{h}"} {
		seen[c.MasterOf(t, tag).Addr()] = true
	}
	if len(seen) < 2 {
		t.Errorf("8 hash tags all on one master")
	}
}

func TestAKilledMastersReplicaTakesOverItsSlots(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	key := "{failover}:k"
	dead := c.MasterOf(t, key)
	dead.Kill()
	promoted, _ := c.WaitFailover(t, dead, c.Slot(t, key), 30*time.Second)
	if promoted.Addr() == dead.Addr() {
		t.Fatal("the dead master still serves the slot")
	}
	// Started again, the old master rejoins as a replica.
	dead.Start()
	c.WaitHealthy(t, 30*time.Second)
	if got := c.MasterOf(t, key); got.Addr() != promoted.Addr() {
		t.Errorf("slot went back to %s, want it on %s", got.Addr(), promoted.Addr())
	}
}
