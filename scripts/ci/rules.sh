#!/usr/bin/env bash
# scripts/ci/rules.sh — what `make rules` runs: checks the Prometheus alert
# rules of deploy/monitoring and runs their unit tests with promtool,
# installing Debian's prometheus package (which ships promtool) when it is
# missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LOG_NAME=rules
# shellcheck source=../dev/lib.sh
source scripts/dev/lib.sh
if ! command -v promtool >/dev/null 2>&1; then
	apt_install "Or install promtool from https://prometheus.io/download/ and put it on PATH." prometheus
fi
promtool check rules deploy/monitoring/alerts.yml
(cd deploy/monitoring && promtool test rules alerts_test.yml)
