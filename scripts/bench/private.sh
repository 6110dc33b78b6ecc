# scripts/bench/private.sh — sourced by the bench scripts that run their own
# redis-server, gateways and database: set PG, DB, WORK and PIDS first. It
# stops what was started, drops the database and removes WORK on exit, and
# gives port, a free local port.

cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
