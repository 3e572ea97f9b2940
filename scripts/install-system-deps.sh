#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (Prometheus, promtool, Alertmanager, amtool,
# Chromium, PostgreSQL's server programs, docker-compose for `config` validation, openssl for test
# certificates) when they are missing. Fails loudly when it cannot: tests that need them must not skip.
set -euo pipefail

# Debian keeps PostgreSQL's programs off the PATH, in /usr/lib/postgresql/<version>/bin.
has_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
has_postgres || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${need[*]} and apt-get is not available." >&2
  echo "install-system-deps: install them with your package manager (Debian names: ${need[*]}), then re-run." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "install-system-deps: missing ${need[*]}; installing needs root (or passwordless sudo)." >&2
    echo "install-system-deps: run: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
echo "install-system-deps: installing ${need[*]} (Debian packages)…" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
for bin in prometheus promtool prometheus-alertmanager amtool chromium docker-compose; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "install-system-deps: $bin is still missing after apt-get install." >&2
    exit 1
  fi
done
if ! has_postgres; then
  echo "install-system-deps: /usr/lib/postgresql/*/bin/initdb is still missing after apt-get install." >&2
  exit 1
fi
