#!/usr/bin/env bash
# scripts/ci/rules.sh — what `make rules` runs: checks the Prometheus alert
# rules of deploy/monitoring and runs their unit tests with promtool, and
# checks the compose deployment's Prometheus configuration,
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
# The compose Prometheus configuration, with its rule file where compose
# mounts it replaced by the file itself. (The Kubernetes one uses
# kubernetes_sd_configs, which Debian's build of promtool does not know;
# go test ./deploy/ checks that it parses.)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/etc/prometheus/alerts.yml|$PWD/deploy/monitoring/alerts.yml|" deploy/compose/prometheus.yml >"$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml"
