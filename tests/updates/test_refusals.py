"""Done-when: a bundle with a bad signature, a wrong hash, an older version
(rollback attack), a truncated or over-long download, or an expired manifest
is refused before anything runs -- checked on a real agent process, which
never restarts and never builds a slot."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from central.release.keys import generate_key, load_key
from firmware.agent.updsig import sign_envelope
from tests.updates.support import Supervisor, factory_install, state, unit_config, wait_for

DEV = "box-001"


def _refused(centre: Any, version: str, url: str | None = None) -> str:
    args = {"version": version} | ({"url": url} if url else {})
    res = centre.command(DEV, "update", args)
    if res.status != "ok":  # refused at once, from the command alone
        return res.error or ""
    wait_for(lambda: (centre.update_state(DEV) or ("", ""))[:2] == (version, "failed"), 60,
             what=f"{version} refused")
    return centre.update_state(DEV)[2] or ""


def _wheel(repo: Path, version: str) -> Path:
    return repo / version / f"siaga112-{version}-py3-none-any.whl"


def test_bad_bundles_are_refused_before_anything_runs(tmp_path: Path, broker: Any, release: Any,
                                                      centre: Any) -> None:
    repo = release.repo
    release.publish("1.0.0")
    # bad signature: the manifest edited after signing (one more file, a bigger length)
    release.publish("2.0.0")
    doc = json.loads((repo / "2.0.0" / "targets.json").read_text())
    doc["signed"]["expires"] = "2099-01-01T00:00:00+00:00"
    (repo / "2.0.0" / "targets.json").write_text(json.dumps(doc))
    # signed, but by a key the root never delegated to
    rogue = tmp_path / "keys" / "rogue.key"
    generate_key(rogue)
    release.publish("2.0.1")
    signed = json.loads((repo / "2.0.1" / "targets.json").read_text())["signed"]
    (repo / "2.0.1" / "targets.json").write_text(json.dumps(sign_envelope(signed, [load_key(rogue)])))
    # wrong hash: same length, one byte changed after signing
    release.publish("2.1.0")
    w = _wheel(repo, "2.1.0")
    data = bytearray(w.read_bytes())
    data[100] ^= 0xFF
    w.write_bytes(bytes(data))
    # truncated on the server for good: every retry ends short
    release.publish("2.2.0")
    w = _wheel(repo, "2.2.0")
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    # endless data: the server sends more than the manifest's length
    release.publish("2.3.0")
    w = _wheel(repo, "2.3.0")
    w.write_bytes(w.read_bytes() + b"\0" * 1_000_000)
    # rollback attack: the signed 0.9.0 manifest served as 2.4.0
    release.publish("0.9.0")
    (repo / "2.4.0").mkdir()
    for f in (repo / "0.9.0").iterdir():
        shutil.copy(f, repo / "2.4.0" / f.name)
    # freeze: a manifest that expired
    release.publish("2.5.0", expires_days=2 / 86400)

    upd = tmp_path / "update"
    factory_install(release, upd, "1.0.0")
    cfg = unit_config(tmp_path, broker, release, download_retries=2)
    sup = Supervisor(cfg, upd, tmp_path / "agent.log").start()
    try:
        wait_for(lambda: centre.firmware(DEV) == "1.0.0", 60, what="v1 online")
        time.sleep(2.5)  # let 2.5.0's two-second manifest expire
        cases = {"2.0.0": "bad_signature", "2.0.1": "bad_signature", "2.1.0": "bad_hash",
                 "2.2.0": "download_failed", "2.3.0": "too_long", "2.4.0": "mix_and_match",
                 "2.5.0": "expired", "0.9.0": "rollback", "1.0.0": "rollback"}
        for version, reason in cases.items():
            error = _refused(centre, version)
            assert reason in error, (version, error)
            # the refusal may reach the centre a moment before the updater writes its phase
            wait_for(lambda: state(upd).get("phase") in ("failed", None, "idle", "confirmed"), 15,
                     what=f"{version}: the updater settled")
            assert not (upd / "slots" / "b").exists(), f"{version}: a slot was built"
        assert sup.starts == 1, "the agent restarted"
        assert centre.firmware(DEV) == "1.0.0"
        # nothing of a refused download stays where pip could find it
        for version in ("2.1.0", "2.2.0", "2.3.0"):
            assert not list((upd / "download").glob(f"{version}/*.whl")), version
    finally:
        sup.stop()
