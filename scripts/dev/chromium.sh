#!/usr/bin/env bash
# Makes sure a Chromium for the browser tests is installed.
#
#   scripts/dev/chromium.sh
#
# The browser tests (internal/browsertest) drive a headless Chromium. When
# none is found ($CHROMIUM, chromium, chromium-browser or google-chrome on
# PATH), Debian's `chromium` package is installed (needs root or sudo). A
# test tool's own browser download is not used: it needs a network this
# project cannot count on.
set -euo pipefail

log() { echo "chromium: $*" >&2; }

need=()
have_browser=0
if [[ -n ${CHROMIUM:-} ]] && [[ -x $CHROMIUM ]]; then
	have_browser=1
fi
for name in chromium chromium-browser google-chrome; do
	if command -v "$name" >/dev/null 2>&1; then
		have_browser=1
	fi
done
[[ $have_browser == 1 ]] || need+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [[ -z $(fc-list :lang=ko 2>/dev/null) ]]; then
	need+=(fonts-nanum)
fi
[[ ${#need[@]} == 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	log "${need[*]} missing and this is not a Debian-like system: install Chromium (set CHROMIUM to its path) and a Korean font"
	exit 1
fi
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "${need[*]} missing, and installing needs root. As root, run:"
		log "  apt-get update && apt-get install -y ${need[*]}"
		exit 1
	fi
}
log "installing ${need[*]} for the browser tests"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
