// Package faultproxy is a TCP forwarder for outage tests: clients connect to
// the proxy instead of Postgres or Redis, and the test cuts the line and
// restores it at will, to see that the code under test fails fast, changes
// nothing half-way, and recovers.
//
//	p := faultproxy.Start(t, "127.0.0.1:5432")
//	db := open(p.Addr())
//	p.Cut()     // every live connection dies; new ones are closed at once
//	p.Restore() // new connections reach the target again
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections to one target address. Its methods are safe for
// concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	mode  mode
	conns map[net.Conn]struct{} // client and target sides of live links
	held  []net.Conn            // clients accepted while stalled
	done  chan struct{}
	wg    sync.WaitGroup
}

type mode int

const (
	forwarding mode = iota
	cut             // new connections are closed at once
	stalled         // new connections are accepted and left unanswered
)

// Start starts a proxy to target on a free local port and closes it when the
// test ends. It fails the test when it cannot listen.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// New starts a proxy to target on a free local port; the caller closes it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every live connection and, until Restore, closes each new one as
// soon as it is accepted: clients see a reset or EOF straight away, as when
// the server is down.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = cut
	p.closeAllLocked()
}

// Stall is a network partition: live connections stop carrying bytes and new
// ones are accepted but never answered, until Restore (which closes them).
// Clients only notice through their own timeouts.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = stalled
	// Stopping the copiers mid-stream would need a pause in each of them;
	// closing the target side while keeping the client side open gives the
	// client the same silence.
	for c := range p.conns {
		if _, client := c.(clientConn); !client {
			c.Close()
		}
	}
}

// Restore lets new connections through to the target again. Connections
// accepted while stalled are closed, so their clients retry on a fresh one.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == stalled {
		p.closeAllLocked()
	}
	p.mode = forwarding
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.isClosed() {
		p.mu.Unlock()
		return
	}
	close(p.done)
	p.ln.Close()
	p.closeAllLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		c.Close()
	}
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
}

// clientConn marks the client side of a link, which Stall keeps open.
type clientConn struct{ net.Conn }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		switch p.mode {
		case cut:
			c.Close()
		case stalled:
			p.held = append(p.held, c)
		default:
			p.wg.Add(1)
			go p.link(clientConn{c})
		}
		p.mu.Unlock()
	}
}

// link forwards one client to the target until either side closes.
func (p *Proxy) link(client clientConn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.mode != forwarding || p.isClosed() {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client.Conn) }()
	go func() { defer wg.Done(); p.pipe(client.Conn, server) }()
	wg.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, client)
	delete(p.conns, server)
	server.Close()
	if p.mode == stalled {
		// Keep the client waiting in silence until Restore or Close.
		p.held = append(p.held, client.Conn)
		return
	}
	client.Close()
}

// pipe copies src to dst, then half-closes dst so the other direction can
// drain — except in a stall, where the client must hear nothing, not EOF.
func (p *Proxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	p.mu.Lock()
	stalled := p.mode == stalled
	p.mu.Unlock()
	if tc, ok := dst.(*net.TCPConn); ok && !stalled {
		tc.CloseWrite()
	}
}
