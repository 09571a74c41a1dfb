#!/usr/bin/env bash
# Idempotent machine + venv setup for kprobe on Debian 12 (run as root).
# Each step checks before it acts, so a second run only verifies.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: must run as root (apt packages, kernel headers link, tracefs mount)" >&2
  exit 1
fi

# --- Debian packages -------------------------------------------------------
# bcc from Debian (never the unrelated PyPI "bcc"); headers for bcc's compiler;
# tools the tests and testbed drive for real.
APT_PACKAGES=(python3-bpfcc bpfcc-tools linux-headers-amd64 nftables iproute2 strace
              sqlite3 chromium nodejs npm linux-perf util-linux procps openssl gcc libc6-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if [ "$p" = nodejs ] || [ "$p" = npm ]; then
    command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Kernel headers for bcc ------------------------------------------------
# Only where the running kernel has no build dir: link the newest installed
# Debian headers. Struct offsets that differ are taken from BTF at run time.
KDIR="/lib/modules/$(uname -r)"
if [ ! -e "$KDIR/build" ]; then
  hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$hdr" ]; then
    echo "setup: no /usr/src/linux-headers-*-amd64 after installing linux-headers-amd64" >&2
    exit 1
  fi
  mkdir -p "$KDIR"
  ln -sfn "$hdr" "$KDIR/build"
  log "linked $KDIR/build -> $hdr"
fi
# Debian splits headers: <ver>-amd64 (build) includes <ver>-common (source),
# which holds include/linux/kconfig.h that bcc needs.
if [ ! -e "$KDIR/source/include/linux/kconfig.h" ]; then
  common=$(readlink -f "$KDIR/build" | sed 's/-amd64$/-common/')
  if [ -e "$common/include/linux/kconfig.h" ]; then
    ln -sfn "$common" "$KDIR/source"
    log "linked $KDIR/source -> $common"
  fi
fi

# --- tracefs ---------------------------------------------------------------
if [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing
  log "mounted tracefs on /sys/kernel/tracing"
fi

# --- Python venv -----------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
# Debian's bcc package, and only it, made importable inside the venv.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p .venv/debian-bcc
ln -sfn /usr/lib/python3/dist-packages/bcc .venv/debian-bcc/bcc
echo "$PWD/.venv/debian-bcc" > "$site/debian_bcc.pth"

stamp=.venv/.kprobe-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing kprobe with dev extras"
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

# The replay recorder's syscall-buffer library (replay/sysbuf.py), preloaded into recorded programs.
lib=replay/preload/libkprobe_sysbuf.so
if [ ! -f "$lib" ] || [ replay/preload/kprobe_sysbuf.c -nt "$lib" ]; then
  log "building $lib"
  cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$lib" replay/preload/kprobe_sysbuf.c
fi

# Neo4j's own Cypher parser, which the causal tests run every Neo4j statement through.
if [ ! -d tests/cypher/node_modules/@neo4j-cypher/language-support ]; then
  log "installing the Cypher parser (tests/cypher)"
  npm ci --prefix tests/cypher --no-audit --no-fund --loglevel=error >/dev/null
fi

# The Grafana plugin's node_modules (only when missing or its package-lock.json changed).
bash scripts/plugin.sh install

.venv/bin/python -c 'import bcc, kprobe' || { echo "setup: venv cannot import bcc/kprobe" >&2; exit 1; }
log "ok"
