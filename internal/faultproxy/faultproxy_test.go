package faultproxy_test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/faultproxy"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and waits up to a second for it to come back.
func roundTrip(c net.Conn, line string) (string, error) {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func TestProxyForwardsUntilCutAndAgainAfterRestore(t *testing.T) {
	p := faultproxy.Start(t, echo(t))
	live := dial(t, p.Addr())
	if got, err := roundTrip(live, "hello"); err != nil || got != "hello" {
		t.Fatalf("before the cut: got %q, %v", got, err)
	}

	p.Cut()
	if _, err := roundTrip(live, "again"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a live connection after the cut: err = %v, want it closed (not a timeout)", err)
	}
	fresh := dial(t, p.Addr())
	if _, err := roundTrip(fresh, "new"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection during the cut: err = %v, want it closed (not a timeout)", err)
	}

	p.Restore()
	after := dial(t, p.Addr())
	if got, err := roundTrip(after, "back"); err != nil || got != "back" {
		t.Fatalf("after restore: got %q, %v", got, err)
	}
}

func TestStallIsSilentUntilRestore(t *testing.T) {
	p := faultproxy.Start(t, echo(t))
	live := dial(t, p.Addr())
	if _, err := roundTrip(live, "hello"); err != nil {
		t.Fatal(err)
	}

	p.Stall()
	if _, err := roundTrip(live, "lost"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a live connection in a stall: err = %v, want a timeout", err)
	}
	held := dial(t, p.Addr())
	if _, err := roundTrip(held, "lost"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection in a stall: err = %v, want a timeout", err)
	}

	p.Restore()
	held.SetDeadline(time.Now().Add(time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection held through the stall: err = %v, want it closed by Restore", err)
	}
	after := dial(t, p.Addr())
	if got, err := roundTrip(after, "back"); err != nil || got != "back" {
		t.Fatalf("after restore: got %q, %v", got, err)
	}
}

func TestCloseStopsListeningAndEndsConnections(t *testing.T) {
	p, err := faultproxy.New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	live := dial(t, p.Addr())
	if _, err := roundTrip(live, "hello"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close() // closing twice is harmless
	if _, err := roundTrip(live, "again"); err == nil {
		t.Fatal("a live connection survived Close")
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts connections after Close")
	}
}
