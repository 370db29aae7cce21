#!/usr/bin/env bash
# Siaga 112 installer for a Raspberry Pi unit (panel / field box) or the
# gateway host. See docs/install.md for what it lays out and why.
#
#   deploy/install.sh --role unit    --bundle DIR          [--root DIR] [--no-system]
#   deploy/install.sh --role gateway --site FILE --secrets DIR [--root DIR] [--no-system]
#
# Idempotent: a file is rewritten only when its content, mode or owner differ,
# so a second run with the same inputs changes nothing (not even mtimes).
# With --root other than / (a fake root in tests, or an SD card mounted on a
# workstation) the steps that need the live Pi (apt-get, venv + pip,
# daemon-reload, starting the service) are not run; they are printed as
# "DILEWATI / SKIPPED" so nothing is silently left out.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

ROLE=""
ROOT="/"
BUNDLE=""
SITE=""
SECRETS=""
SOURCE="$REPO"
VENV="/opt/siaga/venv"
SYSTEM=1
CHANGED=0
REBOOT=0

say() { printf '%s\n' "$*"; }
die() { printf 'GAGAL / FAILED: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Pemakaian / usage:
  install.sh --role unit    --bundle DIR               [--root DIR] [--no-system] [--source PATH]
  install.sh --role gateway --site FILE --secrets DIR  [--root DIR] [--no-system] [--source PATH]

  --role      unit (Pi panel / field box) atau / or gateway
  --bundle    folder bundel dari `siaga admin device add` (unit.yaml, broker.password [, ca.crt])
              / the provisioned bundle folder; optional on re-runs when /etc/siaga/unit.yaml exists
  --site      site.yaml gateway / the gateway's site file
  --secrets   folder rahasia gateway (broker.password + file lain) / gateway secrets folder
  --root      akar sistem berkas (bawaan /) / filesystem root (default /); not / implies --no-system
  --no-system lewati apt, venv, pip, systemctl / skip apt, venv, pip, systemctl on the live system
  --source    yang dipasang pip (folder atau wheel) / what pip installs (default: this repository)
  --venv      lokasi venv / venv path (default /opt/siaga/venv)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --role) ROLE=${2:?}; shift 2 ;;
    --root) ROOT=${2:?}; shift 2 ;;
    --bundle) BUNDLE=${2:?}; shift 2 ;;
    --site) SITE=${2:?}; shift 2 ;;
    --secrets) SECRETS=${2:?}; shift 2 ;;
    --source) SOURCE=${2:?}; shift 2 ;;
    --venv) VENV=${2:?}; shift 2 ;;
    --no-system) SYSTEM=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "opsi tidak dikenal / unknown option: $1" ;;
  esac
done

case "$ROLE" in
  unit|gateway) ;;
  *) usage >&2; die "--role harus unit atau gateway / --role must be unit or gateway" ;;
esac
[ -d "$ROOT" ] || die "--root $ROOT bukan folder / is not a directory"
ROOT=$(cd "$ROOT" && pwd)
if [ "$ROOT" != "/" ]; then SYSTEM=0; fi
R=${ROOT%/}   # prefix for absolute target paths; empty for /

changed() { CHANGED=$((CHANGED + 1)); say "  berubah / changed: $1"; }
skipped() { say "  DILEWATI / SKIPPED (--root $ROOT / --no-system): $*"; }

# -- owners are looked up in the target root's own passwd/group --------------
id_in_root() {  # file name -> numeric id from $R/etc/{passwd,group}
  local file=$1 name=$2 id
  [ "$name" = root ] && { echo 0; return; }
  id=$(awk -F: -v n="$name" '$1 == n { print $3; exit }' "$R/etc/$file" 2>/dev/null || true)
  [ -n "$id" ] || die "$name tidak ada di / missing in $R/etc/$file (systemd-sysusers?)"
  echo "$id"
}

owner_ok() {  # path user group -> 0 when the owner already matches (or we cannot chown)
  [ "$(id -u)" = 0 ] || return 0
  [ "$(stat -c '%u:%g' "$1")" = "$(id_in_root passwd "$2"):$(id_in_root group "$3")" ]
}

set_owner() {
  [ "$(id -u)" = 0 ] || return 0
  chown -h "$(id_in_root passwd "$2"):$(id_in_root group "$3")" "$1"
}

ensure_dir() {  # target-path mode user group
  local d=$R$1
  if [ ! -d "$d" ]; then
    mkdir -p "$d"; chmod "$2" "$d"; set_owner "$d" "$3" "$4"; changed "$1/"
    return
  fi
  if [ "$(stat -c %a "$d")" != "${2#0}" ] || ! owner_ok "$d" "$3" "$4"; then
    chmod "$2" "$d"; set_owner "$d" "$3" "$4"; changed "$1/ (mode/owner)"
  fi
}

put() {  # source target-path mode [user [group]]
  local src=$1 dest=$R$2 mode=$3 user=${4:-root} group=${5:-root} tmp
  [ -f "$src" ] || die "tidak ada / missing: $src"
  mkdir -p "$(dirname "$dest")"
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$src" "$dest"; then
    if [ "$(stat -c %a "$dest")" != "${mode#0}" ] || ! owner_ok "$dest" "$user" "$group"; then
      chmod "$mode" "$dest"; set_owner "$dest" "$user" "$group"; changed "$2 (mode/owner)"
    fi
    return
  fi
  tmp=$(mktemp "$dest.XXXXXX")
  cat "$src" > "$tmp"
  chmod "$mode" "$tmp"
  set_owner "$tmp" "$user" "$group"
  mv -f "$tmp" "$dest"
  changed "$2"
}

put_text() {  # target-path mode user group  (content on stdin)
  local tmp
  tmp=$(mktemp)
  cat > "$tmp"
  put "$tmp" "$1" "$2" "$3" "$4"
  rm -f "$tmp"
}

systemctl_root() {  # enable/mask through systemctl's offline mode; reports only real changes
  local verb=$1 unit=$2 link
  case "$verb" in
    enable) link="$R/etc/systemd/system/multi-user.target.wants/$unit" ;;
    mask) link="$R/etc/systemd/system/$unit" ;;
  esac
  if [ -L "$link" ]; then return; fi
  systemctl --root="$ROOT" --quiet "$verb" "$unit" 2>/dev/null \
    || die "systemctl --root $verb $unit"
  [ -L "$link" ] || die "systemctl $verb $unit made no link at $link"
  changed "${link#"$R"} ($verb)"
}

sysusers() {  # conf file already placed under $R/etc/sysusers.d
  command -v systemd-sysusers >/dev/null || die "systemd-sysusers tidak ada / missing"
  local before after
  before=$(cat "$R/etc/passwd" "$R/etc/group" 2>/dev/null | md5sum || true)
  systemd-sysusers --root="$ROOT" "$R/etc/sysusers.d/$1" >/dev/null
  after=$(cat "$R/etc/passwd" "$R/etc/group" 2>/dev/null | md5sum || true)
  [ "$before" = "$after" ] || changed "/etc/passwd, /etc/group ($1)"
}

docs() {
  put "$REPO/docs/install.md" /usr/share/doc/siaga/install.md 0644
  put "$REPO/docs/hardware.md" /usr/share/doc/siaga/hardware.md 0644
}

check_password_file() {  # the agent (user siaga) cannot read a root-only path
  local value
  value=$(sed -n 's/^[[:space:]]*password_file:[[:space:]]*//p' "$1" | tr -d "\"'" | head -n 1)
  case "$value" in
    */*) say "  PERINGATAN / WARNING: unit.yaml broker.password_file is a path ($value);" \
             "the agent runs as 'siaga' and reads the password as the systemd credential" \
             "'broker-password': set 'password_file: broker-password' in the bundle" ;;
  esac
}

# -- Raspberry Pi boot partition: UART on, serial console off ----------------
boot_dir() {
  if [ -f "$R/boot/firmware/config.txt" ]; then echo /boot/firmware
  elif [ -f "$R/boot/config.txt" ]; then echo /boot
  fi
}

pi_boot() {
  local boot tmp
  boot=$(boot_dir)
  if [ -z "$boot" ]; then
    say "  PERINGATAN / WARNING: no config.txt under $ROOT/boot/firmware or $ROOT/boot: UART not configured"
    return
  fi
  # config.txt: replace our marked block (or append it), leave the rest alone.
  tmp=$(mktemp)
  awk '
    /^# --- siaga 112 / { skip = 1; next }
    /^# --- end siaga 112 ---/ { skip = 0; next }
    skip { next }
    /^[[:space:]]*$/ { blank++; next }
    { while (blank > 0) { print ""; blank-- } print }
  ' "$R$boot/config.txt" > "$tmp"
  { echo; cat "$HERE/files/config-txt.block"; } >> "$tmp"
  if ! cmp -s "$tmp" "$R$boot/config.txt"; then REBOOT=1; fi
  put "$tmp" "$boot/config.txt" "$(stat -c %a "$R$boot/config.txt")"
  rm -f "$tmp"
  # cmdline.txt: drop the serial console so the modem owns the UART.
  if [ -f "$R$boot/cmdline.txt" ]; then
    tmp=$(mktemp)
    tr ' ' '\n' < "$R$boot/cmdline.txt" | tr -d '\r' \
      | grep -v -E '^(console=(serial0|serial1|ttyAMA0|ttyS0)(,.*)?|kgdboc=.*)$' | grep -v '^$' \
      | paste -s -d ' ' > "$tmp"
    if ! cmp -s "$tmp" "$R$boot/cmdline.txt"; then REBOOT=1; fi
    put "$tmp" "$boot/cmdline.txt" "$(stat -c %a "$R$boot/cmdline.txt")"
    rm -f "$tmp"
  fi
}

# -- live-system steps ---------------------------------------------------------
source_changed() {  # is anything in the source newer than the last pip install?
  local marker="$VENV/.siaga-installed"
  [ -f "$marker" ] || return 0
  if [ -d "$SOURCE" ]; then
    [ -n "$(find "$SOURCE" \( -name .git -o -name .venv -o -name build \) -prune -o \
              -type f -newer "$marker" -print -quit)" ]
  else
    [ "$SOURCE" -nt "$marker" ]
  fi
}

venv_install() {  # extra
  local extra=$1
  if [ "$SYSTEM" = 0 ]; then
    skipped "python3 -m venv --system-site-packages $VENV; $VENV/bin/pip install '${SOURCE}[${extra}]'"
    return
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv --system-site-packages "$VENV"; changed "$VENV (venv)"
  fi
  if ! "$VENV/bin/python" -c 'import siaga' 2>/dev/null || source_changed; then
    "$VENV/bin/pip" install --quiet "${SOURCE}[${extra}]"
    touch "$VENV/.siaga-installed"; changed "$VENV (pip install siaga112[$extra])"
  fi
}

apt_install() {
  if [ "$SYSTEM" = 0 ]; then skipped "apt-get install -y $*"; return; fi
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  changed "apt: ${missing[*]}"
}

start_service() {  # unit
  if [ "$SYSTEM" = 0 ]; then skipped "systemctl daemon-reload; systemctl restart $1"; return; fi
  systemctl daemon-reload
  if [ "$CHANGED" -gt 0 ]; then systemctl restart "$1"; else systemctl start "$1"; fi
}

# -- roles ---------------------------------------------------------------------
install_unit() {
  say "Memasang agen unit / installing the unit agent into $ROOT"
  if [ -z "$BUNDLE" ] && [ ! -f "$R/etc/siaga/unit.yaml" ]; then
    die "--bundle wajib pada pemasangan pertama / --bundle is required on the first install"
  fi
  if [ -n "$BUNDLE" ]; then
    [ -f "$BUNDLE/unit.yaml" ] || die "$BUNDLE/unit.yaml tidak ada / missing"
    [ -f "$BUNDLE/broker.password" ] || die "$BUNDLE/broker.password tidak ada / missing"
  fi
  apt_install python3-venv python3-lgpio polkitd
  put "$HERE/files/sysusers-siaga.conf" /etc/sysusers.d/siaga.conf 0644
  sysusers siaga.conf
  ensure_dir /etc/siaga 0755 root root
  if [ -n "$BUNDLE" ]; then
    put "$BUNDLE/unit.yaml" /etc/siaga/unit.yaml 0640 root siaga
    check_password_file "$BUNDLE/unit.yaml"
    put "$BUNDLE/broker.password" /etc/siaga/broker.password 0600 root root
    if [ -f "$BUNDLE/ca.crt" ]; then put "$BUNDLE/ca.crt" /etc/siaga/ca.crt 0644; fi
  fi
  put "$REPO/systemd/siaga-unit.service" /etc/systemd/system/siaga-unit.service 0644
  # the boot guard lives outside the A/B slots: updates never replace it (docs/updates.md)
  ensure_dir /opt/siaga 0755 root root
  put "$REPO/firmware/agent/bootguard.py" /opt/siaga/bootguard.py 0644
  put "$REPO/systemd/system.conf.d/siaga-watchdog.conf" /etc/systemd/system.conf.d/siaga-watchdog.conf 0644
  put "$REPO/systemd/journald.conf.d/siaga-sdcard.conf" /etc/systemd/journald.conf.d/siaga-sdcard.conf 0644
  put "$HERE/files/50-siaga-reboot.rules" /etc/polkit-1/rules.d/50-siaga-reboot.rules 0644
  pi_boot
  systemctl_root mask serial-getty@ttyS0.service
  systemctl_root mask serial-getty@ttyAMA0.service
  systemctl_root mask hciuart.service
  systemctl_root enable siaga-unit.service
  docs
  venv_install firmware
  start_service siaga-unit.service
}

install_gateway() {
  say "Memasang gateway / installing the gateway into $ROOT"
  if [ -z "$SITE" ] && [ ! -f "$R/etc/siaga/site.yaml" ]; then
    die "--site wajib pada pemasangan pertama / --site is required on the first install"
  fi
  if [ -n "$SECRETS" ] && [ ! -d "$SECRETS" ]; then
    die "--secrets $SECRETS bukan folder / is not a directory"
  fi
  apt_install python3-venv mosquitto
  put "$HERE/files/sysusers-siaga-gateway.conf" /etc/sysusers.d/siaga-gateway.conf 0644
  sysusers siaga-gateway.conf
  ensure_dir /etc/siaga 0755 root root
  ensure_dir /etc/siaga/gateway 0700 root root
  ensure_dir /etc/siaga/gateway/secrets 0700 root root
  if [ -n "$SITE" ]; then put "$SITE" /etc/siaga/site.yaml 0640 root siaga-gateway; fi
  if [ -n "$SECRETS" ]; then
    local f
    for f in "$SECRETS"/*; do
      [ -f "$f" ] || continue
      if [ "$(basename "$f")" = broker.password ]; then
        put "$f" /etc/siaga/gateway/broker.password 0600
      else
        put "$f" "/etc/siaga/gateway/secrets/$(basename "$f")" 0600
      fi
    done
  fi
  # the gateway's database folder (systemd's StateDirectory= makes the same), so that
  # `sudo -u siaga-gateway siaga gateway migrate` works before the first start
  ensure_dir /var/lib/siaga-gateway 0750 siaga-gateway siaga-gateway
  put "$REPO/systemd/siaga-gateway.service" /etc/systemd/system/siaga-gateway.service 0644
  # the web process (docs/deploy-scale.md): installed, enabled by the operator when wanted
  put "$REPO/systemd/siaga-gateway-web.service" /etc/systemd/system/siaga-gateway-web.service 0644
  put "$REPO/systemd/mosquitto.service.d/siaga.conf" /etc/systemd/system/mosquitto.service.d/siaga.conf 0644
  systemctl_root enable siaga-gateway.service
  docs
  venv_install gateway
  if [ ! -f "$R/etc/siaga/gateway/broker.password" ]; then
    say "CATATAN / NOTE: /etc/siaga/gateway/broker.password belum ada / not there yet: the next"
    say "  step of docs/install.md creates it (siaga admin broker user gateway --password-file ...)"
  fi
  start_service siaga-gateway.service
}

"install_$ROLE"
if [ "$CHANGED" = 0 ]; then
  say "Tidak ada perubahan / nothing changed"
else
  say "$CHANGED perubahan / changes"
fi
if [ "$REBOOT" = 1 ]; then
  say "Reboot diperlukan agar UART aktif / reboot needed for the UART settings"
fi
