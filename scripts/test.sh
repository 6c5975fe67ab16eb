#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, builds,
# lints, and runs every suite with node's test runner. Fails when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# System programs the suites use. Real parts, not mocks: a redis-server the
# harness starts on a free port, Chromium for the stats page, real BitTorrent
# clients for the end-to-end suite, opentracker for the benchmark smoke run,
# luacheck for the Redis store's Lua scripts, Prometheus to scrape the metrics,
# openssl to make the TLS tests' certificates and curl as a real HTTPS client.
need_pkgs=()
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
command -v aria2c >/dev/null || need_pkgs+=(aria2)
command -v transmission-daemon >/dev/null || need_pkgs+=(transmission-daemon)
command -v transmission-remote >/dev/null || need_pkgs+=(transmission-cli)
command -v mktorrent >/dev/null || need_pkgs+=(mktorrent)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v opentracker >/dev/null || need_pkgs+=(opentracker)
command -v luacheck >/dev/null || need_pkgs+=(lua-check)
command -v prometheus >/dev/null || need_pkgs+=(prometheus)
command -v systemd-analyze >/dev/null || need_pkgs+=(systemd)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "test: missing system packages. Install them, then run again:" >&2
    echo "  sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

npm install --no-audit --no-fund --loglevel=error
# A clean build: compiled tests of deleted sources must not linger in dist/ and run.
rm -rf dist
npx tsc -p tsconfig.json
npx biome check .

# The benchmark is not a test (figures vary with the machine); CI only checks
# that its smoke run still works end to end against every tracker it finds.
node dist/bench/run.js --quick

rm -rf test-artifacts && mkdir -p test-artifacts
# Files run in parallel (the end-to-end suites mostly wait on clients); every
# test carries its own bounded waits, and --test-timeout is the backstop.
node --test --test-concurrency=4 --test-timeout=300000 dist/test/

# The HTTP fast path uses Node internals, so it serves by default only on the
# Node majors it is tested on: TESTED_NODE_MAJORS in
# src/transport/http/tcp-handles.ts (package.json's engines names the same).
# The run above used this machine's node; the HTTP transport tests (and the
# CLI's) run again under every other tested major, from npm's `node` package
# installed into .ci-node/<major>/ (git-ignored; npm keeps it up to date).
this_major=$(node -p 'process.versions.node.split(".")[0]')
majors=$(node --input-type=module -e "
  const { TESTED_NODE_MAJORS } = await import('./dist/src/transport/http/tcp-handles.js');
  console.log(TESTED_NODE_MAJORS.join(' '));")
for major in $majors; do
  [ "$major" = "$this_major" ] && continue
  dir=.ci-node/$major
  echo "test: the HTTP transport under Node $major"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "node@$major"
  other_node=$dir/node_modules/.bin/node
  [ "$("$other_node" -p 'process.versions.node.split(".")[0]')" = "$major" ] || {
    echo "test: $other_node is not Node $major" >&2
    exit 1
  }
  "$other_node" --test --test-concurrency=4 --test-timeout=300000 \
    dist/test/transport/http-*.test.js dist/test/cli.test.js
done

