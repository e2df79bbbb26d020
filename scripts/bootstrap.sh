#!/usr/bin/env bash
# Installs everything filmscore needs on a fresh Debian/Ubuntu machine:
#   system packages (ffmpeg, libchromaprint1) through apt when run as root (or with
#   passwordless sudo), otherwise it prints the exact command and stops;
#   a virtual environment in .venv with the pinned requirements (CPU torch pin).
# Re-running is cheap: nothing is reinstalled unless requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=()
{ command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; } || APT_PKGS+=(ffmpeg)
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep -q 'libchromaprint\.so\.1' || APT_PKGS+=(libchromaprint1)
if ! command -v python3 >/dev/null; then APT_PKGS+=(python3 python3-venv); fi

# Another apt/dpkg run (an unattended upgrade, a second make) holding apt's locks is waited for, up to
# 10 minutes (install through DPkg::Lock::Timeout; update, which does not honour it in apt 2.6, is
# retried); any other failure stops here, naming the packages, not later in a stage.
apt_get() {  # apt_get [sudo -n] -- ARGS...
  local pre=() err
  while [ "$1" != -- ]; do pre+=("$1"); shift; done; shift
  for _ in $(seq 60); do
    err=$(mktemp)
    if "${pre[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" 2> >(tee "$err" >&2); then
      rm -f "$err"; return 0
    fi
    sleep 0.2  # the tee above finishes writing
    if ! grep -q 'Could not get lock' "$err"; then rm -f "$err"; break; fi
    rm -f "$err"
    echo "bootstrap: another apt-get holds its lock; trying again in 10 s" >&2
    sleep 10
  done
  echo "bootstrap: apt-get $1 failed (see above); install the packages, then run the same make command again:" >&2
  echo "    sudo apt-get update && sudo apt-get install -y ${APT_PKGS[*]}" >&2
  exit 1
}
if [ ${#APT_PKGS[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${APT_PKGS[*]} with apt-get" >&2
    apt_get -- update
    apt_get -- install -y --no-install-recommends "${APT_PKGS[@]}"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "bootstrap: installing ${APT_PKGS[*]} with sudo apt-get" >&2
    apt_get sudo -n -- update
    apt_get sudo -n -- install -y --no-install-recommends "${APT_PKGS[@]}"
  else
    echo "bootstrap: missing system packages: ${APT_PKGS[*]}" >&2
    echo "run this once, then run the same make command again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${APT_PKGS[*]}" >&2
    exit 1
  fi
fi

PY=""
for cand in python3.11 python3.12 python3.10 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,12) else 1)'; then
    PY=$(command -v "$cand"); break
  fi
done
if [ -z "$PY" ]; then
  echo "bootstrap: needs Python 3.10 to 3.12 (essentia and torch wheels); install one, e.g. sudo apt-get install -y python3.11 python3.11-venv" >&2
  exit 1
fi

STAMP=.venv/.filmscore-installed
WANT=$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    echo "bootstrap: '$PY -m venv' failed; install the venv module: sudo apt-get install -y python3-venv" >&2; exit 1; }
fi
# The packages take about 2.1 GB in .venv (torch alone 0.75 GB): say so before pip runs out of
# room half-way ("[Errno 28] No space left on device").
# pip's temporary files (TMPDIR) need room for the largest wheel, not for the whole install.
for need in ".:$(( 2400 - $(du -sm .venv | cut -f1) ))" "${TMPDIR:-/tmp}:500"; do
  dir=${need%:*} NEED_MB=${need##*:}
  FREE_MB=$(df -Pm "$dir" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$FREE_MB" ] && [ "$FREE_MB" -lt "$NEED_MB" ]; then
    echo "bootstrap: $(cd "$dir" && pwd) has $FREE_MB MB free; installing the Python packages needs about $NEED_MB MB there" >&2
    echo "free some space there (or set TMPDIR to a roomier folder), then run the same make command again" >&2
    exit 1
  fi
done
echo "bootstrap: installing Python packages into .venv (first time: a few minutes)" >&2
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>/dev/null || true
# -c constraints.txt keeps the CPU build of torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
.venv/bin/dvc config --global core.analytics false >/dev/null 2>&1 || true
echo "$WANT" > "$STAMP"
echo "bootstrap: ready (.venv)" >&2
