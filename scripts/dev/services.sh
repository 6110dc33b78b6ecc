#!/usr/bin/env bash
# Makes sure the Redis and PostgreSQL that rushgate needs answer on this machine.
#
#   scripts/dev/services.sh [--cgo]
#
# Redis must answer on 127.0.0.1:$REDIS_PORT (default 6379) and PostgreSQL on
# 127.0.0.1:$PG_PORT (default 5432) as user postgres. A service that already
# answers is left alone, so a second run is a quick no-op. One that does not is
# installed from Debian's packages when missing, then started:
#   - Redis as a daemon that keeps nothing on disk;
#   - PostgreSQL through pg_ctlcluster when a Debian cluster uses that port,
#     else as a cluster of our own in $RUSHGATE_PGDATA (trust authentication,
#     default /var/lib/rushgate/pg-$PG_PORT as root,
#     ~/.local/share/rushgate/pg-$PG_PORT otherwise).
# --cgo also makes sure a C compiler is there (go test -race needs cgo).
#
# Installing needs root (or sudo). Starting does not, except for a Debian
# cluster owned by the postgres user.
#
# Environment: REDIS_PORT, PG_PORT, RUSHGATE_PGDATA, SERVICES_TIMEOUT (seconds
# to wait for both to answer, default 60).
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6379}
PG_PORT=${PG_PORT:-5432}
SERVICES_TIMEOUT=${SERVICES_TIMEOUT:-60}
if [[ $EUID -eq 0 ]]; then
	PGDATA_DIR=${RUSHGATE_PGDATA:-/var/lib/rushgate/pg-$PG_PORT}
else
	PGDATA_DIR=${RUSHGATE_PGDATA:-${XDG_DATA_HOME:-$HOME/.local/share}/rushgate/pg-$PG_PORT}
fi

NEED_CGO=0
for arg in "$@"; do
	case $arg in
	--cgo) NEED_CGO=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "services: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

SERVICE_HINT="Or run the service elsewhere and point rushgate at it: REDIS_URL and DATABASE_URL,
  and TEST_REDIS_URL and TEST_DATABASE_URL for the tests."

LOG_NAME=services
# shellcheck source=scripts/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ------------------------------------------------------------------- probes

# tcp_open PORT: something accepts connections on 127.0.0.1:PORT.
tcp_open() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

redis_up() {
	if command -v redis-cli >/dev/null 2>&1; then
		[[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
	else
		# Speak the protocol by hand: PING answers +PONG.
		# shellcheck disable=SC2016 # expanded by the inner shell
		timeout 2 bash -c '
			exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
			printf "PING\r\n" >&3
			IFS= read -r line <&3
			[[ $line == +PONG* ]]' _ "$REDIS_PORT" 2>/dev/null
	fi
}

# pg_tool NAME: the path of a PostgreSQL program, on PATH or in the newest
# /usr/lib/postgresql/*/bin (Debian keeps initdb and pg_ctl there).
pg_tool() {
	if command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
		return
	fi
	local found
	found=$(for f in /usr/lib/postgresql/*/bin/"$1"; do [[ -x $f ]] && echo "$f"; done | sort -V | tail -n 1)
	[[ -n $found ]] && echo "$found"
}

pg_up() {
	local isready
	if isready=$(pg_tool pg_isready); then
		timeout 5 "$isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -t 2 >/dev/null 2>&1
	else
		tcp_open "$PG_PORT"
	fi
}

# pg_login_check warns when the server answers but does not let user postgres
# in without a password, which is what the default DATABASE_URL expects.
pg_login_check() {
	local psql
	psql=$(pg_tool psql) || return 0
	if ! timeout 5 "$psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
		log "warning: PostgreSQL on 127.0.0.1:$PG_PORT answers but refuses user postgres without a password."
		log "  Allow it (pg_hba.conf: host all all 127.0.0.1/32 trust), or put the password in"
		log "  DATABASE_URL and TEST_DATABASE_URL (postgres://postgres:PASSWORD@127.0.0.1:$PG_PORT/...)."
	fi
}

# wait_for PROBE: polls PROBE until it succeeds or the deadline passes.
wait_for() {
	local deadline=$((SECONDS + SERVICES_TIMEOUT))
	until "$1"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# -------------------------------------------------------------------- Redis

start_redis() {
	if ! command -v redis-server >/dev/null 2>&1; then
		apt_install "$SERVICE_HINT" redis-server
		# The package may have started its own server on the default port.
		redis_up && return 0
	fi
	log "starting Redis on 127.0.0.1:$REDIS_PORT"
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir "${TMPDIR:-/tmp}" --pidfile "${TMPDIR:-/tmp}/rushgate-redis-$REDIS_PORT.pid" \
		--logfile "${TMPDIR:-/tmp}/rushgate-redis-$REDIS_PORT.log" >&2
}

# --------------------------------------------------------------- PostgreSQL

# debian_cluster prints "VERSION NAME" of the Debian cluster on $PG_PORT, if any.
debian_cluster() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 1
	local c
	c=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }')
	[[ -n $c ]] && echo "$c"
}

# trust_local_tcp lets every local TCP client in without a password; used only
# on a cluster this script has just installed, never on one it found.
trust_local_tcp() {
	local hba=$1
	as_root grep -q '^# rushgate: trust local TCP' "$hba" && return 0
	log "allowing local TCP connections without a password in $hba"
	as_root sed -i '1i # rushgate: trust local TCP connections (development machine)\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
}

# as_postgres runs a command as the postgres OS user when we are root
# (PostgreSQL refuses to run as root), else as ourselves.
as_postgres() {
	if [[ $EUID -eq 0 ]]; then
		if ! id postgres >/dev/null 2>&1; then
			useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
		fi
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

start_own_cluster() {
	local initdb pg_ctl
	initdb=$(pg_tool initdb) || die "initdb not found (looked on PATH and in /usr/lib/postgresql/*/bin)"
	pg_ctl=$(pg_tool pg_ctl) || die "pg_ctl not found (looked on PATH and in /usr/lib/postgresql/*/bin)"

	if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
		if [[ -d $PGDATA_DIR ]] && [[ -n $(ls -A "$PGDATA_DIR") ]]; then
			die "$PGDATA_DIR is not empty and holds no PostgreSQL cluster: remove it or set RUSHGATE_PGDATA"
		fi
		mkdir -p "$PGDATA_DIR"
		if [[ $EUID -eq 0 ]]; then
			id postgres >/dev/null 2>&1 ||
				useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
			chown postgres: "$PGDATA_DIR"
		fi
		chmod 700 "$PGDATA_DIR"
		log "creating a PostgreSQL cluster in $PGDATA_DIR"
		as_postgres "$initdb" -D "$PGDATA_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null ||
			die "initdb failed in $PGDATA_DIR (as root, every directory above it must be readable by user postgres)"
	fi
	log "starting PostgreSQL on 127.0.0.1:$PG_PORT from $PGDATA_DIR"
	# The socket goes into the data directory: /var/run/postgresql may not be ours.
	as_postgres "$pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t "$SERVICES_TIMEOUT" \
		-o "-p $PG_PORT -h 127.0.0.1 -k $PGDATA_DIR" start >/dev/null ||
		die "PostgreSQL did not start; see $PGDATA_DIR/server.log"
}

start_postgres() {
	local installed_now=0 cluster
	if ! pg_tool initdb >/dev/null && ! debian_cluster >/dev/null; then
		apt_install "$SERVICE_HINT" postgresql
		installed_now=1
	fi
	if cluster=$(debian_cluster); then
		local ver name
		read -r ver name <<<"$cluster"
		if [[ $installed_now -eq 1 ]]; then
			trust_local_tcp "/etc/postgresql/$ver/$name/pg_hba.conf"
			# The package may have started the cluster already: reload the new rules.
			pg_up && as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >&2 && return 0
		fi
		log "starting Debian cluster $ver/$name on port $PG_PORT"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 ||
			die "cannot start cluster $ver/$name: it belongs to user postgres and you are not root and sudo is absent.
  As root, run:  pg_ctlcluster $ver $name start"
		return 0
	fi
	start_own_cluster
}

# --------------------------------------------------------------------- main

if [[ $NEED_CGO -eq 1 ]] && ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
	apt_install "" gcc libc6-dev
fi

started=0
if ! redis_up; then
	start_redis
	started=1
fi
if ! pg_up; then
	start_postgres
	started=1
fi
if [[ $started -eq 1 ]]; then
	wait_for redis_up ||
		die "Redis does not answer on 127.0.0.1:$REDIS_PORT after ${SERVICES_TIMEOUT}s"
	wait_for pg_up ||
		die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT after ${SERVICES_TIMEOUT}s"
fi
pg_login_check
log "Redis answers on 127.0.0.1:$REDIS_PORT, PostgreSQL on 127.0.0.1:$PG_PORT"
