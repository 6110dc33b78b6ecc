// Package outage holds the tests that break what rushgate stands on: they
// start private Redis and PostgreSQL servers (internal/svctest) and the real
// rushgate binary, then kill, stop and restart those servers, or the binary
// itself, under load, and check that every answer comes fast and by the
// contract, that the gateway recovers by itself, and that no money and no
// seat is lost or created on the way.
package outage
