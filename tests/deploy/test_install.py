"""deploy/install.sh against a temporary root: the layout docs/install.md
promises, nothing touched twice, secrets root-only, boot files edited once.

Not exercised here (no live Pi, no running systemd): apt-get, the venv and
pip, daemon-reload/restart. The tests assert those are printed as skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.deploy.units import REPO, SYSTEMD_DIR, verify

SCRIPT = REPO / "deploy" / "install.sh"
DOC = REPO / "docs" / "install.md"
STOCK_CONFIG = "# For more options see config.txt docs\ndtparam=audio=on\ncamera_auto_detect=1\n\n[all]\n"
STOCK_CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=1a2b3c4d-02 rootfstype=ext4 "
                 "fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n")
AS_ROOT = os.geteuid() == 0


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                         timeout=120)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file, link and folder under root: kind, mode, owner, content hash, mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = "/" + str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest, st.st_mtime_ns)
    return out


def documented_layout(role: str) -> set[str]:
    text = DOC.read_text()
    block = re.search(rf"```text\n# layout: {role}\n(.*?)```", text, re.S)
    assert block, f"docs/install.md has no layout block for {role}"
    return {line.split()[0] for line in block.group(1).splitlines() if line.startswith("/")}


def files_and_links(root: Path) -> set[str]:
    return {k for k, v in snapshot(root).items() if v[0] in ("file", "link")}


def ids(root: Path, file: str, name: str) -> int:
    for line in (root / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"{name} not in {file}")


@pytest.fixture
def pi_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text(STOCK_CONFIG)
    (root / "boot" / "firmware" / "cmdline.txt").write_text(STOCK_CMDLINE)
    return root


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    b = tmp_path / "bundle" / "fb-kota-0012"
    b.mkdir(parents=True)
    (b / "unit.yaml").write_text("device_id: fb-kota-0012\nprofile: field\n")
    (b / "broker.password").write_text("s3cret-unit-pw\n")
    (b / "broker.password").chmod(0o600)
    return b


def test_unit_install_lays_out_the_documented_files_and_is_idempotent(pi_root: Path, bundle: Path) -> None:
    first = run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    assert "reboot needed" in first.stdout
    for skipped in ("apt-get install", "pip install", "systemctl daemon-reload"):
        assert re.search(rf"SKIPPED.*{skipped}", first.stdout), skipped
    assert files_and_links(pi_root) == documented_layout("unit")
    before = snapshot(pi_root)

    second = run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    assert "nothing changed" in second.stdout
    assert "changed:" not in second.stdout
    assert "reboot needed" not in second.stdout
    assert snapshot(pi_root) == before
    # a re-run without the bundle keeps the installed config
    assert "nothing changed" in run("--role", "unit", "--root", pi_root).stdout
    assert snapshot(pi_root) == before


def test_unit_install_contents(pi_root: Path, bundle: Path) -> None:
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    etc = pi_root / "etc"
    config = (pi_root / "boot/firmware/config.txt").read_text()
    assert config.startswith(STOCK_CONFIG.rstrip("\n"))
    assert config.count("enable_uart=1") == 1 and config.count("dtoverlay=disable-bt") == 1
    cmdline = (pi_root / "boot/firmware/cmdline.txt").read_text()
    assert "console=serial0" not in cmdline
    assert cmdline == STOCK_CMDLINE.replace("console=serial0,115200 ", "")

    assert (etc / "siaga/unit.yaml").read_bytes() == (bundle / "unit.yaml").read_bytes()
    assert (etc / "systemd/system/siaga-unit.service").read_bytes() == \
        (SYSTEMD_DIR / "siaga-unit.service").read_bytes()
    pw = (etc / "siaga/broker.password").stat()
    assert stat.S_IMODE(pw.st_mode) == 0o600
    cfg = (etc / "siaga/unit.yaml").stat()
    assert stat.S_IMODE(cfg.st_mode) == 0o640
    if AS_ROOT:  # owners come from the target root's own /etc/group
        assert (pw.st_uid, pw.st_gid) == (0, 0)
        assert (cfg.st_uid, cfg.st_gid) == (0, ids(pi_root, "group", "siaga"))
    group = (etc / "group").read_text()
    assert re.search(r"^gpio:x:\d+:siaga$", group, re.M)
    assert re.search(r"^dialout:x:\d+:siaga$", group, re.M)
    wants = etc / "systemd/system/multi-user.target.wants/siaga-unit.service"
    assert os.readlink(wants) == "/etc/systemd/system/siaga-unit.service"
    for masked in ("serial-getty@ttyS0.service", "serial-getty@ttyAMA0.service", "hciuart.service"):
        assert os.readlink(etc / "systemd/system" / masked) == "/dev/null"


def test_installed_unit_verifies(pi_root: Path, bundle: Path, tmp_path: Path) -> None:
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    text = (pi_root / "etc/systemd/system/siaga-unit.service").read_text()
    res = verify(text, "siaga-unit.service", tmp_path / "verify")
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_a_new_bundle_changes_exactly_the_password(pi_root: Path, bundle: Path) -> None:
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    before = snapshot(pi_root)
    (bundle / "broker.password").write_text("rotated-pw\n")
    res = run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    assert re.findall(r"changed: (\S+)", res.stdout) == ["/etc/siaga/broker.password"]
    after = snapshot(pi_root)
    assert {k for k in after if after[k] != before.get(k)} == {"/etc/siaga/broker.password"}
    assert (pi_root / "etc/siaga/broker.password").read_text() == "rotated-pw\n"


def test_loosened_mode_is_repaired(pi_root: Path, bundle: Path) -> None:
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    (pi_root / "etc/siaga/broker.password").chmod(0o644)
    res = run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    assert "changed: /etc/siaga/broker.password (mode/owner)" in res.stdout
    assert stat.S_IMODE((pi_root / "etc/siaga/broker.password").stat().st_mode) == 0o600


def test_an_old_siaga_block_in_config_txt_is_replaced_not_duplicated(pi_root: Path, bundle: Path) -> None:
    cfg = pi_root / "boot/firmware/config.txt"
    cfg.write_text(STOCK_CONFIG + "\n# --- siaga 112 (old) ---\nenable_uart=0\n# --- end siaga 112 ---\n")
    run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    text = cfg.read_text()
    assert "enable_uart=0" not in text and text.count("# --- siaga 112") == 1


def test_first_install_without_bundle_is_refused(pi_root: Path, tmp_path: Path) -> None:
    res = run("--role", "unit", "--root", pi_root, check=False)
    assert res.returncode != 0
    assert "--bundle is required" in res.stderr
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "unit.yaml").write_text("device_id: x\n")
    res = run("--role", "unit", "--root", pi_root, "--bundle", incomplete, check=False)
    assert res.returncode != 0 and "broker.password" in res.stderr
    assert not (pi_root / "etc").exists()  # refused before touching anything


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    res = run("--role", "toaster", "--root", tmp_path, check=False)
    assert res.returncode != 0 and "--role must be unit or gateway" in res.stderr
    res = run("--role", "unit", "--frobnicate", check=False)
    assert res.returncode != 0 and "unknown option: --frobnicate" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_gateway_install_layout_secrets_and_idempotence(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    site = tmp_path / "site.yaml"
    site.write_text("mode: production\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "broker.password").write_text("gw-pw\n")
    (secrets / "opd-damkar-webhook").write_text("hmac-key\n")
    first = run("--role", "gateway", "--root", root, "--site", site, "--secrets", secrets)
    assert re.search(r"SKIPPED.*pip install '.*\[gateway\]'", first.stdout)
    expected = documented_layout("gateway")
    expected.discard("/etc/siaga/gateway/secrets/<each")
    expected.add("/etc/siaga/gateway/secrets/opd-damkar-webhook")
    assert files_and_links(root) == expected
    for secret in ("etc/siaga/gateway/broker.password", "etc/siaga/gateway/secrets/opd-damkar-webhook"):
        assert stat.S_IMODE((root / secret).stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/siaga/gateway/secrets").stat().st_mode) == 0o700
    if AS_ROOT:
        assert (root / "etc/siaga/site.yaml").stat().st_gid == ids(root, "group", "siaga-gateway")
    before = snapshot(root)
    second = run("--role", "gateway", "--root", root, "--site", site, "--secrets", secrets)
    assert "nothing changed" in second.stdout
    assert snapshot(root) == before


def test_bullseye_boot_partition_at_boot(tmp_path: Path, bundle: Path) -> None:
    """Raspberry Pi OS before Bookworm keeps config.txt in /boot."""
    root = tmp_path / "old"
    (root / "boot").mkdir(parents=True)
    (root / "boot/config.txt").write_text(STOCK_CONFIG)
    (root / "boot/cmdline.txt").write_text(STOCK_CMDLINE)
    run("--role", "unit", "--root", root, "--bundle", bundle)
    assert "enable_uart=1" in (root / "boot/config.txt").read_text()
    assert "console=serial0" not in (root / "boot/cmdline.txt").read_text()
    assert not (root / "boot/firmware").exists()


def test_no_boot_partition_is_reported_not_invented(tmp_path: Path, bundle: Path) -> None:
    root = tmp_path / "noboot"
    root.mkdir()
    res = run("--role", "unit", "--root", root, "--bundle", bundle)
    assert "WARNING: no config.txt" in res.stdout
    assert not (root / "boot").exists()
    assert files_and_links(root) == {p for p in documented_layout("unit") if not p.startswith("/boot/")}


def test_a_bundle_naming_a_root_only_path_is_warned_about(pi_root: Path, bundle: Path) -> None:
    (bundle / "unit.yaml").write_text("device_id: fb-kota-0012\nprofile: field\nbroker:\n"
                                      "  password_file: /etc/siaga/broker.password\n")
    res = run("--role", "unit", "--root", pi_root, "--bundle", bundle)
    assert "WARNING: unit.yaml broker.password_file is a path (/etc/siaga/broker.password)" in res.stdout
    (bundle / "unit.yaml").write_text("device_id: fb-kota-0012\nprofile: field\nbroker:\n"
                                      "  password_file: broker-password\n")
    assert "WARNING" not in run("--role", "unit", "--root", pi_root, "--bundle", bundle).stdout
