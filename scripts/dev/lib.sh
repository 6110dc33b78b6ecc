# Shared by the set-up scripts: messages, running as root, installing Debian
# packages. Source it after setting LOG_NAME (the prefix of every message).
# shellcheck shell=bash

log() { echo "${LOG_NAME:-setup}: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# as_root runs a command as root: directly when we are root, else through sudo.
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		return 1
	fi
}

can_be_root() { [[ $EUID -eq 0 ]] || command -v sudo >/dev/null 2>&1; }

APT_UPDATED=0
# apt_install HINT PACKAGE... installs Debian packages, running apt-get update
# once first; when it cannot, it stops and says what to do, adding HINT.
apt_install() {
	local hint=$1
	shift
	if ! command -v apt-get >/dev/null 2>&1; then
		die "$* missing and this is not a Debian-like system: install $* with your package manager and run this again.${hint:+
  $hint}"
	fi
	if ! can_be_root; then
		die "$* missing, and installing it needs root: you are not root and sudo is absent.
  As root, run:  apt-get update && apt-get install -y $*
  then run this again.${hint:+
  $hint}"
	fi
	if [[ $APT_UPDATED -eq 0 ]]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		APT_UPDATED=1
	fi
	log "installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}
