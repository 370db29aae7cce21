"""Helpers for checking systemd units with the real systemd-analyze.

``systemd-analyze verify`` refuses a unit whose ExecStart binary does not
exist, and reports unknown keys or bad values only as warnings with exit
code 0. So :func:`verify` points ExecStart at a real executable in a temp
directory and treats *any* output as a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
VENV_SIAGA = "/opt/siaga/venv/bin/siaga"


def analyze() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:  # the bootstrap installs systemd; fail loudly rather than skip
        pytest.fail("systemd-analyze tidak ada / missing: run scripts/bootstrap.sh")
    return exe


def fake_siaga(tmp: Path) -> Path:
    exe = tmp / "bin" / "siaga"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return exe


def verify(unit_text: str, name: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Write the unit (ExecStart moved to a fake executable) and verify it."""
    unit_dir = tmp / "units"
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / name
    path.write_text(unit_text.replace(VENV_SIAGA, str(fake_siaga(tmp))))
    return subprocess.run([analyze(), "verify", str(path)], capture_output=True, text=True,
                          cwd=unit_dir, timeout=60)


def directives(unit_text: str) -> dict[str, list[str]]:
    """'Section.Key' -> every value (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in unit_text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out
