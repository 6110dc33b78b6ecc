package rediscluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/svctest"
)

// SentinelSet is a master, its replica and three sentinels watching them,
// each a child process on a spare port of 127.0.0.1:
//
//	s := rediscluster.StartSentinel(t, "rg")
//	url := s.URL()              // REDIS_MODE=sentinel, REDIS_MASTER=rg
//	s.Master.Kill()
//	promoted, at := s.WaitFailover(t, 30*time.Second)
type SentinelSet struct {
	Name      string
	Master    *svctest.Redis
	Replica   *svctest.Redis
	Sentinels []*Sentinel
}

// Sentinel is one redis-server running in sentinel mode.
type Sentinel struct {
	Port int
	cmd  *exec.Cmd
}

// Addr is host:port.
func (s *Sentinel) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// StartSentinel starts the master, the replica (in sync before it returns)
// and three sentinels with a quorum of two that call the master down after
// one second of silence. Everything is stopped when the test ends.
func StartSentinel(t testing.TB, name string) *SentinelSet {
	t.Helper()
	s := &SentinelSet{Name: name}
	s.Master = svctest.StartRedisWith(t, svctest.FreePort, "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
	s.Replica = svctest.StartRedisWith(t, svctest.FreePort, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port()),
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
	waitInSync(t, s.Replica, 2*svctest.StartTimeout)
	for range 3 {
		s.Sentinels = append(s.Sentinels, startSentinel(t, name, s.Master.Port()))
	}
	// Every sentinel knows the replica and the other sentinels, so that a
	// failover can start as soon as the master dies.
	deadline := time.Now().Add(2 * svctest.StartTimeout)
	for {
		err := s.ready()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediscluster: sentinels not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *SentinelSet) ready() error {
	for _, sen := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := c.Master(ctx, s.Name).Result()
		cancel()
		c.Close()
		if err != nil {
			return err
		}
		if m["num-slaves"] != "1" || m["num-other-sentinels"] != strconv.Itoa(len(s.Sentinels)-1) {
			return fmt.Errorf("%s sees %s replicas and %s other sentinels", sen.Addr(), m["num-slaves"], m["num-other-sentinels"])
		}
	}
	return nil
}

// URL is the sentinels in go-redis's failover URL form.
func (s *SentinelSet) URL() string {
	var b strings.Builder
	b.WriteString("redis://" + s.Sentinels[0].Addr())
	for i, sen := range s.Sentinels[1:] {
		b.WriteString(map[bool]string{true: "?", false: "&"}[i == 0] + "addr=" + sen.Addr())
	}
	return b.String()
}

// MasterAddr is the master's address as the first sentinel that answers
// says.
func (s *SentinelSet) MasterAddr() (string, error) {
	var lastErr error
	for _, sen := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addr, err := c.GetMasterAddrByName(ctx, s.Name).Result()
		cancel()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		lastErr = err
	}
	return "", lastErr
}

// WaitFailover waits until the sentinels name the replica master and the
// replica says it is one, and returns the time that was seen.
func (s *SentinelSet) WaitFailover(t testing.TB, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		addr, err := s.MasterAddr()
		if err == nil && addr == s.Replica.Addr() && isMaster(s.Replica) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediscluster: sentinels did not promote %s within %v (master %s, %v)", s.Replica.Addr(), within, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitInSync(t testing.TB, replica *svctest.Redis, within time.Duration) {
	t.Helper()
	rdb := Node(replica)
	defer rdb.Close()
	deadline := time.Now().Add(within)
	for {
		info, _ := rdb.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rediscluster: replica %s not in sync after %v", replica.Addr(), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSentinel runs redis-server in sentinel mode with a configuration
// file of its own (sentinels rewrite it), watching the master on port.
func startSentinel(t testing.TB, name string, masterPort int) *Sentinel {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("rediscluster: redis-server is not on PATH: %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for range 3 { // another process may take the free port first
		s := &Sentinel{Port: svctest.FreePort(t)}
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, s.Port, dir, name, masterPort, name, name, name)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s.cmd = exec.Command(bin, conf, "--sentinel", "--loglevel", "warning")
		s.cmd.Dir = dir
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if lastErr = waitListening(s.Addr(), svctest.StartTimeout); lastErr == nil {
			t.Cleanup(func() {
				s.cmd.Process.Signal(syscall.SIGKILL)
				s.cmd.Wait()
			})
			return s
		}
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
	t.Fatalf("rediscluster: sentinel did not start: %v", lastErr)
	return nil
}

func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
