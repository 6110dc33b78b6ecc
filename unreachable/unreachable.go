// Package unreachable decides, in one place, whether an error of Redis or
// Postgres means "the store could not be reached in time; try again later"
// as opposed to a bug or a refusal. Every domain package asks it at its store
// boundary and wraps such failures in its own ErrUnavailable, so the layers
// above match sentinels only and never import a driver.
package unreachable

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"
)

// Is reports whether err says Redis or Postgres could not be reached, or
// could not serve for a while: a refused, reset or timed-out connection, a
// deadline, a closed or exhausted pool, a server starting up, shutting down
// or failing over. All of these pass once the store is back.
func Is(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range transient {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return postgresTransient(err) || redisTransient(err)
}

// Mark wraps err in sentinel when Is(err), keeping err in the chain, and
// returns any other error (or nil), or one that carries sentinel already, as
// it is.
func Mark(sentinel, err error) error {
	if !Is(err) || errors.Is(err, sentinel) {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// transient are the errors, of the standard library and the two clients,
// that a lost or overloaded connection produces.
var transient = []error{
	context.DeadlineExceeded, context.Canceled,
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
	io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
	driver.ErrBadConn, sql.ErrConnDone,
	redis.ErrClosed, redis.ErrPoolTimeout, redis.ErrPoolExhausted,
}

// postgresTransient reports Postgres's own "not now" codes: class 08
// (connection exception), 57P01–57P03 (shutting down, cannot connect now),
// 53300 (too many connections) and 57014 (statement timeout or a cancelled
// query).
func postgresTransient(err error) bool {
	e := pq.As(err)
	if e == nil {
		return false
	}
	code := string(e.Code)
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P0") || code == "53300" || code == "57014"
}

// redisTransient reports Redis replies that say "not now": the data set is
// loading after a restart, a replica lost its primary, a cluster slot is
// down or migrating, or a failover left the client talking to a replica.
func redisTransient(err error) bool {
	return redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsReadOnlyError(err) || redis.IsMaxClientsError(err)
}
