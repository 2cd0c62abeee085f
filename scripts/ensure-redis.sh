#!/usr/bin/env bash
# Make sure a redis-server binary exists for the embedded launcher and the test topologies.
# Installs Debian's redis-server through apt when running as root and it is missing.
set -euo pipefail
if [ -n "${RFSDK_REDIS_SERVER:-}" ] && [ -x "${RFSDK_REDIS_SERVER}" ]; then exit 0; fi
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-redis: installing redis-server and redis-tools with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  exit 0
fi
echo "ensure-redis: no redis-server found and cannot install it (not root or no apt-get)." >&2
echo "ensure-redis: install Redis >= 7, or set RFSDK_REDIS_SERVER=/path/to/redis-server." >&2
echo "ensure-redis: 'make demo' falls back to an in-process fake server; tests need the real one." >&2
exit 0
