"""`siaga admin release ...` as the real console script: keys, delegation,
bundle, signature; then the repository served by `release serve` answers a
byte range. Refusals exit 2 with a reason."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from firmware.agent.updsig import verify_root, verify_targets
from tests.updates.support import make_wheel

SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


def admin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SIAGA, "admin", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def test_keys_bundle_sign_and_serve(tmp_path: Path) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    pw = {"SIAGA_KEY_PASSPHRASE": "rahasia-offline"}
    r = admin("release", "keygen", str(keys / "root.key"), env=pw)
    assert r.returncode == 0, r.stderr
    root_pub = (keys / "root.key.pub").read_text().strip()
    assert root_pub in r.stdout and b"ENCRYPTED" in (keys / "root.key").read_bytes()
    assert (keys / "root.key").stat().st_mode & 0o777 == 0o600
    assert admin("release", "keygen", str(keys / "targets.key")).returncode == 0
    again = admin("release", "keygen", str(keys / "targets.key"))
    assert again.returncode == 2 and "not overwritten" in again.stderr
    # without the passphrase the encrypted root key cannot be used
    bad = admin("release", "delegate", "--repo", str(repo), "--root-key", str(keys / "root.key"),
                "--targets-pub", str(keys / "targets.key.pub"))
    assert bad.returncode == 2 and "cannot read key" in bad.stderr
    ok = admin("release", "delegate", "--repo", str(repo), "--root-key", str(keys / "root.key"),
               "--targets-pub", str(keys / "targets.key.pub"), env=pw)
    assert ok.returncode == 0 and "root.json v1" in ok.stdout, ok.stderr

    wheel = make_wheel("1.4.0", tmp_path / "wheels")
    wrong = admin("release", "build", "1.5.0", "--repo", str(repo), "--wheel", str(wheel), "--no-deps")
    assert wrong.returncode == 2 and "need exactly one siaga112 wheel of version 1.5.0" in wrong.stderr
    built = admin("release", "build", "1.4.0", "--repo", str(repo), "--wheel", str(wheel), "--no-deps")
    assert built.returncode == 0, built.stderr
    # a key the root never delegated to cannot sign a release
    assert admin("release", "keygen", str(keys / "rogue.key")).returncode == 0
    rogue = admin("release", "sign", "1.4.0", "--repo", str(repo), "--targets-key", str(keys / "rogue.key"))
    assert rogue.returncode == 2 and "bad_signature" in rogue.stderr
    assert not (repo / "1.4.0" / "targets.json").exists()
    signed = admin("release", "sign", "1.4.0", "--repo", str(repo), "--targets-key",
                   str(keys / "targets.key"))
    assert signed.returncode == 0, signed.stderr
    root = verify_root((repo / "root.json").read_bytes(), [root_pub])
    t = verify_targets((repo / "1.4.0" / "targets.json").read_bytes(), root)
    assert t.version == "1.4.0" and t.requirement == "siaga112[firmware]==1.4.0"
    assert t.files[wheel.name].length == wheel.stat().st_size
    # releases are immutable
    rebuilt = admin("release", "build", "1.4.0", "--repo", str(repo), "--wheel", str(wheel), "--no-deps")
    assert rebuilt.returncode == 2 and "immutable" in rebuilt.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen([SIAGA, "admin", "release", "serve", "--repo", str(repo), "--host", "127.0.0.1",
                            "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/1.4.0/{wheel.name}"
        deadline = time.monotonic() + 20
        while True:
            try:
                req = urllib.request.Request(url, headers={"Range": "bytes=100-"})
                with urllib.request.urlopen(req, timeout=5) as resp:
                    assert resp.status == 206
                    assert resp.headers["Content-Range"] == f"bytes 100-{t.files[wheel.name].length - 1}/" \
                                                            f"{t.files[wheel.name].length}"
                    assert resp.read() == wheel.read_bytes()[100:]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/root.json", timeout=5) as resp:
            assert json.loads(resp.read())["signed"]["_type"] == "root"
    finally:
        srv.terminate()
        srv.wait(10)
