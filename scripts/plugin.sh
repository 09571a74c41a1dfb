#!/usr/bin/env bash
# The Grafana plugin's npm steps (grafana_plugin/), for setup and tests.
#   scripts/plugin.sh install   npm install, only when node_modules is missing or package-lock.json changed
#   scripts/plugin.sh check     install, then build, console build, typecheck, lint, jest
# `npm ci` cannot run here (the lockfile names @swc/core builds for other platforms that the
# registry mirror does not serve); `npm install` with the committed lockfile leaves it unchanged.
set -euo pipefail
cd "$(dirname "$0")/../grafana_plugin"

install() {
  local stamp=node_modules/.kprobe-lock.sha256
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "plugin: npm install (node_modules missing or package-lock.json changed)"
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
}

case "${1:-check}" in
  install) install ;;
  check)
    install
    npm run --silent build
    npm run --silent build:console
    npm run --silent typecheck
    npm run --silent lint
    npm run --silent test:ci
    ;;
  *) echo "usage: scripts/plugin.sh [install|check]" >&2; exit 2 ;;
esac
