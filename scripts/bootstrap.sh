#!/usr/bin/env bash
# Prepare a fresh Debian-like machine for Siaga 112: a venv with every extra,
# and the system tools the tests and the demo start themselves (mosquitto,
# PostgreSQL's initdb/pg_ctl, systemd-analyze). Idempotent: a second run with nothing changed does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*" >&2; }
die() { say "GAGAL / FAILED: $*"; exit 1; }

# 1. Python 3.11+ with venv.
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || die "Python 3.11 atau lebih baru tidak ada / Python 3.11+ not found. Pasang / install: sudo apt-get install python3 python3-venv"

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Memasang / installing: $* (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; then
      apt-get update -q >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
        || die "apt-get install $* gagal / failed"
    fi
  else
    die "Perlu dipasang / please install: sudo apt-get install $*"
  fi
}

# 2. System packages: the broker the tests start, and systemd-analyze for unit checks.
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto
  # The demo and the tests start their own broker; the packaged system service is not needed.
fi
# Started as root, the broker drops to user mosquitto (Debian's package creates
# it; a broker installed otherwise may lack it): the tests run it that way too.
if [ "$(id -u)" = 0 ] && ! getent passwd mosquitto >/dev/null; then
  say "Membuat pengguna / creating user mosquitto"
  useradd --system --user-group --no-create-home --home-dir /var/lib/mosquitto \
    --shell /usr/sbin/nologin mosquitto
fi
# PostgreSQL: the tests start a private cluster of their own (initdb + pg_ctl
# on a temporary Unix socket), never a server the machine runs.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql
  # The packaged service is not needed by the tests (they never use it).
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  apt_install systemd
fi
# A real browser for the page tests (Playwright drives Debian's Chromium; it
# never downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  apt_install chromium
fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi

# 3. The venv, reinstalled only when pyproject.toml changed.
if [ ! -x .venv/bin/python ]; then
  say "Membuat venv / creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.siaga-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "Memasang paket Python / installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[firmware,gateway,central,dev]"
  echo "$want" > "$stamp"
fi
