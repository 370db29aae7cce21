"""Building a release bundle: every wheel a unit needs, in one directory.

Why wheels built on the admin host: a unit never reaches PyPI (and has no
compiler); the updater installs with ``pip --no-index`` from exactly the
signed files. For a Pi built elsewhere, ``--platform``/``--python-version``
make ``pip download`` fetch the binary wheels of the Pi's architecture.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from firmware.agent.updsig import parse_version
from gateway.fleet.errors import ReleaseError

PROJECT = "siaga112"


def wheel_version(wheel: Path) -> str:
    """The version in a wheel's file name (``name-version-...whl``)."""
    parts = wheel.name.split("-")
    if len(parts) < 5 or not wheel.name.endswith(".whl"):
        raise ReleaseError(f"bukan wheel / not a wheel file name: {wheel.name}")
    return parts[1]


def _pip(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise ReleaseError(f"pip {args[0]} gagal / failed: {(p.stderr or p.stdout).strip()[-600:]}")


_MISSING = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")


def _download_for(out: Path, reqs: list[str], platform: str | None, python_version: str | None) -> None:
    """``pip download --only-binary`` for another platform. A dependency that
    exists only as an sdist is built here with ``pip wheel --no-deps`` and
    accepted if that gives a pure-Python (``none-any``) wheel; then retry."""
    args = ["download", "--dest", str(out), "--find-links", str(out), "--only-binary=:all:",
            *(["--platform", platform] if platform else []),
            *(["--python-version", python_version] if python_version else []), *reqs]
    for _ in range(10):
        try:
            _pip(args)
            return
        except ReleaseError as exc:
            m = _MISSING.search(str(exc))
            if not m:
                raise
            name = m.group(1)
            _pip(["wheel", "--no-deps", "--wheel-dir", str(out), name])
            norm = name.replace("-", "_").lower()
            built = [p for p in out.glob("*.whl") if p.name.lower().startswith(norm + "-")]
            if not built or not all(p.name.endswith("-none-any.whl") for p in built):
                raise ReleaseError(f"{name}: tidak ada wheel untuk platform / no wheel for {platform} and "
                                   "it is not pure Python; build it on the target and pass --wheel") from None
    raise ReleaseError("terlalu banyak dependensi tanpa wheel / too many sdist-only dependencies")


def build(repo: Path, version: str, *, project: Path | None = None, wheels: list[Path] | None = None,
          deps: bool = True, platform: str | None = None, python_version: str | None = None) -> list[Path]:
    """Write ``repo/<version>/*.whl``; returns the files. The project's wheel comes
    from ``wheels`` (already built) or ``pip wheel --no-deps project``; its
    dependencies (the ``[firmware]`` extra) from the pip cache / index, here."""
    parse_version(version)
    out = repo / version
    if (out / "targets.json").exists():
        raise ReleaseError(f"{out} sudah ditandatangani / already signed: releases are immutable, "
                           "use a new version")
    out.mkdir(parents=True, exist_ok=True)
    for w in wheels or []:
        shutil.copy2(w, out / w.name)
    if not any(p.name.startswith(f"{PROJECT}-") for p in out.glob("*.whl")):
        if project is None:
            raise ReleaseError("beri --project atau --wheel / give --project or --wheel")
        _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(project)])
    own = [p for p in out.glob(f"{PROJECT}-*.whl")]
    if len(own) != 1 or wheel_version(own[0]) != version:
        found = ", ".join(p.name for p in own) or "none"
        raise ReleaseError(f"wheel {PROJECT} versi {version} diperlukan / need exactly one {PROJECT} "
                           f"wheel of version {version}, found: {found}")
    with zipfile.ZipFile(own[0]) as z:
        if not any(n.startswith("firmware/agent/") for n in z.namelist()):
            raise ReleaseError(f"{own[0].name} holds no firmware.agent")
    if deps:
        # pip itself too: the next slot is installed by this slot's pip
        reqs = [f"{PROJECT}[firmware]=={version}", "pip"]
        if platform or python_version:
            _download_for(out, reqs, platform, python_version)
        else:
            _pip(["wheel", "--wheel-dir", str(out), "--find-links", str(out), *reqs])
    return sorted(p for p in out.iterdir() if p.is_file() and p.name != "targets.json")
