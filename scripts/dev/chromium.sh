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

LOG_NAME=chromium
# shellcheck source=scripts/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


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

apt_install "Or install Chromium yourself and set CHROMIUM to its path." "${need[@]}"
