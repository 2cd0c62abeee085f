#!/usr/bin/env bash
# Make sure the tools the tests need exist: redis-server + redis-cli (embedded launcher and
# topologies) and, best effort, promtool (checks deploy/prometheus/alerts.yml).
# Installs Debian packages through apt when running as root and something is missing.
set -euo pipefail
need=()
if ! { [ -n "${RFSDK_REDIS_SERVER:-}" ] && [ -x "${RFSDK_REDIS_SERVER}" ]; }; then
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
optional=()
command -v promtool >/dev/null 2>&1 || optional+=(prometheus)
if [ ${#need[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  echo "ensure-redis: apt-get install ${need[*]} ${optional[*]}" >&2
  apt-get update -qq || true
  if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if [ ${#optional[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null \
      || echo "ensure-redis: promtool not installed; the alert-rule check falls back to a schema check" >&2
  fi
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-redis: missing ${need[*]} and cannot install (not root or no apt-get)." >&2
  echo "ensure-redis: install Redis >= 7, or set RFSDK_REDIS_SERVER=/path/to/redis-server." >&2
  echo "ensure-redis: 'make demo' falls back to an in-process fake server; tests need the real one." >&2
fi
exit 0
