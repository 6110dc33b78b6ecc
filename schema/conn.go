package schema

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Connect returns a pool on dsn whose connections fail any read or write
// that waits longer than ioTimeout. lib/pq honours a context by sending a
// cancel request and then waiting for the server's answer on the same
// connection, so on a silent network (a partition, a frozen server) a query
// would block far past its context; with the I/O deadline it fails instead,
// the connection is discarded, and the caller's "unavailable" is prompt.
// ioTimeout must exceed the longest legitimate silence of a query.
func Connect(dsn string, ioTimeout time.Duration) (*sqlx.DB, error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	c.Dialer(deadlineDialer{io: ioTimeout})
	return sqlx.NewDb(sql.OpenDB(c), "postgres"), nil
}

type deadlineDialer struct {
	d  net.Dialer
	io time.Duration
}

func (d deadlineDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d deadlineDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d deadlineDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, io: d.io}, nil
}

// deadlineConn arms a fresh deadline before every read and write.
type deadlineConn struct {
	net.Conn
	io time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.io))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.io))
	return c.Conn.Write(p)
}
