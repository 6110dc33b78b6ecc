// Package svctest starts private Redis and PostgreSQL servers for tests that
// must break them: kill one mid-load, restart it on the same port, and see
// that the code under test fails fast and recovers. The shared services of the
// machine (testenv) are never touched.
//
//	rdb := svctest.StartRedis(t)
//	pg := svctest.StartPostgres(t)
//	rdb.Kill()  // SIGKILL: clients see refused connections
//	rdb.Start() // back on the same port (empty: Redis keeps nothing on disk)
//	pg.Kill()   // SIGKILL of the postmaster and every backend
//	pg.Start()  // crash recovery, then back on the same port with its data
//
// Each server is a child process in its own process group, stopped and its
// files removed when the test ends. PostgreSQL refuses to run as root, so as
// root it runs as the `postgres` OS user (what `runuser -u postgres --` does,
// done with the process credentials so that the test holds the postmaster's
// own pid).
package svctest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the Postgres driver of the readiness check
)

// StartTimeout bounds how long a server may take to answer after a start.
var StartTimeout = 30 * time.Second

// server is a child process that can be killed and started again.
type server struct {
	t    testing.TB
	name string
	port int
	argv func() *exec.Cmd
	log  *bytes.Buffer // output of the current process, for failures

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

// start runs the process and waits until ready reports nil.
func (s *server) start(ready func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("%s already running", s.name)
	}
	cmd := s.argv()
	s.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{b: s.log}, &lockedWriter{b: s.log}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// Best effort: if the test binary dies, so does the server.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("%s exited at start: %v\n%s", s.name, err, s.output())
		case <-ctx.Done():
			s.signalLocked(syscall.SIGKILL)
			<-done
			s.cmd = nil
			return fmt.Errorf("%s did not answer within %v: %v\n%s", s.name, StartTimeout, err, s.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends sig to the whole process group and waits for the leader to
// exit; then it kills what is left of the group.
func (s *server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.signalLocked(sig)
	select {
	case <-s.done:
	case <-time.After(StartTimeout):
		s.signalLocked(syscall.SIGKILL)
		<-s.done
	}
	// Backends of a killed postmaster, if any are still there.
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd = nil
}

func (s *server) signalLocked(sig syscall.Signal) {
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		s.cmd.Process.Signal(sig)
	}
}

// Running reports whether the server process is up.
func (s *server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

func (s *server) output() string {
	out := s.log.String()
	if len(out) > 4000 {
		out = "…" + out[len(out)-4000:]
	}
	return out
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 1<<20 {
		return len(p), nil
	}
	return w.b.Write(p)
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("svctest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ---------------------------------------------------------------- Redis

// Redis is a private redis-server that keeps nothing on disk: after Kill and
// Start it is empty, as a Redis that lost its memory.
type Redis struct{ server }

// StartRedis starts a redis-server on a free port of 127.0.0.1 and stops it
// when the test ends. It fails the test when redis-server cannot start.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t, FreePort)
}

// StartRedisWith starts a redis-server as StartRedis does, on a port that
// port picks (another is picked if that one is taken meanwhile), with extra
// command-line arguments (for instance "--cluster-enabled", "yes"). Its
// working directory, where a cluster node keeps nodes.conf, lasts as long as
// the test, so a node started again keeps its identity.
func StartRedisWith(t testing.TB, port func(testing.TB) int, extra ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("svctest: redis-server is not on PATH (apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	r := &Redis{server{t: t, name: "redis-server"}}
	r.argv = func() *exec.Cmd {
		args := append([]string{
			"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--dir", dir, "--loglevel", "warning"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		return cmd
	}
	var lastErr error
	for range 3 { // another process may take the free port first
		r.port = port(t)
		if lastErr = r.start(r.ping); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("svctest: %v", lastErr)
	}
	t.Cleanup(func() { r.stop(syscall.SIGKILL) })
	return r
}

// Port is the TCP port the server listens on.
func (r *Redis) Port() int { return r.port }

// Addr is host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL is a redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Kill ends the server with SIGKILL; clients get refused connections.
func (r *Redis) Kill() { r.stop(syscall.SIGKILL) }

// Start starts the server again on its port and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(r.ping); err != nil {
		r.t.Fatalf("svctest: restart: %v", err)
	}
}

func (r *Redis) ping(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// ---------------------------------------------------------------- Postgres

// Postgres is a private PostgreSQL cluster (trust authentication, user
// postgres) in a temporary directory. Its data survive Kill and Start.
type Postgres struct {
	server
	dir string
}

// StartPostgres creates a cluster with initdb and starts it on a free port
// of 127.0.0.1; it is stopped and removed when the test ends. It fails the
// test when the binaries are missing or the cluster cannot start.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	initdb, err := pgBinary("initdb")
	if err != nil {
		t.Fatalf("svctest: %v", err)
	}
	postgres, err := pgBinary("postgres")
	if err != nil {
		t.Fatalf("svctest: %v", err)
	}
	cred, err := pgCredential()
	if err != nil {
		t.Fatalf("svctest: %v", err)
	}
	// Not t.TempDir: its parents are private to root, and the postgres
	// user must reach the cluster's directory.
	dir, err := os.MkdirTemp("", "rushgate-pg-")
	if err != nil {
		t.Fatalf("svctest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("svctest: chown %s: %v", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	init := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	init.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("svctest: initdb: %v\n%s", err, out)
	}

	p := &Postgres{server: server{t: t, name: "postgres"}, dir: dir}
	p.argv = func() *exec.Cmd {
		cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(p.port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=",
			"-c", "max_connections=200",
			// A killed process loses nothing the OS has; only a machine
			// crash would, and a test cluster does not outlive one.
			"-c", "fsync=off", "-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		return cmd
	}
	var lastErr error
	for range 3 {
		p.port = FreePort(t)
		if lastErr = p.start(p.ping); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("svctest: %v", lastErr)
	}
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	return p
}

// Addr is host:port.
func (p *Postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// URL is the URL of database db as user postgres.
func (p *Postgres) URL(db string) string {
	return "postgres://postgres@" + p.Addr() + "/" + db + "?sslmode=disable"
}

// Kill ends the postmaster and every backend with SIGKILL: clients see their
// connections drop and new ones refused.
func (p *Postgres) Kill() { p.stop(syscall.SIGKILL) }

// Stop shuts the cluster down cleanly (fast shutdown: sessions are ended).
func (p *Postgres) Stop() { p.stop(syscall.SIGINT) }

// Start starts the cluster again on its port (after a Kill, with crash
// recovery) and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	if err := p.start(p.ping); err != nil {
		p.t.Fatalf("svctest: restart: %v", err)
	}
}

func (p *Postgres) ping(ctx context.Context) error {
	db, err := sql.Open("postgres", p.URL("postgres")+"&connect_timeout=1")
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// pgBinary finds a PostgreSQL program on PATH or in Debian's directories.
func pgBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s is neither on PATH nor in /usr/lib/postgresql/*/bin (apt-get install postgresql)", name)
}

// pgCredential is the OS user PostgreSQL runs as: nil (ourselves) unless we
// are root, which PostgreSQL refuses; then the postgres user.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and PostgreSQL refuses root: create a postgres OS user (the postgresql package does)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
