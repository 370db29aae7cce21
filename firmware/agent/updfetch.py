"""Fetching and installing a release: resumable downloads, a fresh slot venv.

Why resumable: a field box on 2G may lose its link many times during a
download of a few megabytes; each retry continues with an HTTP ``Range``
request from the bytes already on disk. Every read is capped at the length
the signed manifest gives, so a hostile or broken server cannot fill the SD
card (endless data), and nothing downloaded is installed before its sha256
matches the manifest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from firmware.agent.updsig import METADATA_MAX_BYTES, FileInfo, UpdateRefused

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


def _context(ca_file: Path | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else None


def fetch_small(url: str, *, timeout: float, ca_file: Path | None = None) -> bytes:
    """A metadata document, refused past METADATA_MAX_BYTES."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=_context(ca_file)) as r:  # noqa: S310
            data = r.read(METADATA_MAX_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise UpdateRefused("download_failed", f"{url}: {exc}") from None
    if len(data) > METADATA_MAX_BYTES:
        raise UpdateRefused("too_big", f"{url}: more than {METADATA_MAX_BYTES} bytes")
    return data


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_once(url: str, part: Path, info: FileInfo, *, timeout: float, ca_file: Path | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have > info.length:
        part.unlink()
        have = 0
    if have == info.length:
        return
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout, context=_context(ca_file)) as r:  # noqa: S310
        if have and r.status != 206:
            have = 0  # the server ignored the range: start over
        mode = "ab" if have else "wb"
        with open(part, mode) as f:
            left = info.length - have
            while left > 0:
                block = r.read(min(CHUNK, left))
                if not block:
                    break
                f.write(block)
                left -= len(block)
            if left == 0 and r.read(1):
                raise UpdateRefused("too_long", f"{url}: more data than the manifest's {info.length} bytes")
            f.flush()
            os.fsync(f.fileno())
    if part.stat().st_size < info.length:
        raise ConnectionError(f"{url}: cut at {part.stat().st_size}/{info.length} bytes")


def download(url: str, dest: Path, info: FileInfo, *, timeout: float, retries: int,
             ca_file: Path | None = None, on_retry: Callable[[int, str], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` (via ``dest.part``), resuming after cuts;
    the finished file's length and sha256 must match ``info``."""
    if dest.exists() and dest.stat().st_size == info.length and sha256_file(dest) == info.sha256:
        return dest
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch_once(url, part, info, timeout=timeout, ca_file=ca_file)
            break
        except UpdateRefused:
            part.unlink(missing_ok=True)
            raise
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # range not satisfiable: our part is bad, start over
                part.unlink(missing_ok=True)
            elif 400 <= exc.code < 500:
                raise UpdateRefused("download_failed", f"{url}: HTTP {exc.code}") from None
            err = f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError, ConnectionError) as exc:
            err = str(exc)
        attempt += 1
        if attempt > retries:
            raise UpdateRefused("download_failed", f"{url}: gave up after {retries} retries ({err})")
        if on_retry:
            on_retry(attempt, err)
        time.sleep(min(5.0, 0.2 * attempt))
    if sha256_file(part) != info.sha256:
        part.unlink(missing_ok=True)
        raise UpdateRefused("bad_hash", f"{dest.name}: sha256 differs from the signed manifest")
    os.replace(part, dest)
    return dest


def install_slot(slot: Path, wheels: Path, requirement: str, *, python: Path | None = None,
                 system_site_packages: bool = False, shared: list[Path] | None = None,
                 pip_python: Path | None = None, timeout: float = 900.0) -> None:
    """Build a complete venv in ``slot`` from the verified wheels only
    (``--no-index``: nothing is fetched on the unit).

    The venv is made without pip (seconds faster on a Pi) and filled by the
    running slot's pip through ``pip --python``; a bundle carries a pip wheel,
    so every slot can install the next one."""
    if slot.exists():
        shutil.rmtree(slot)
    base = str(python) if python else str(getattr(sys, "_base_executable", sys.executable))
    flags = ["--without-pip", *(["--system-site-packages"] if system_site_packages else [])]
    _run([base, "-m", "venv", *flags, str(slot)], timeout)
    if shared:
        site = next((slot / "lib").glob("python*/site-packages"))
        (site / "_siaga_shared.pth").write_text("".join(f"{p}\n" for p in shared))
    target = str(slot / "bin" / "python")
    _run([str(pip_python or sys.executable), "-m", "pip", "--python", target, "install", "--no-index",
          "--find-links", str(wheels), "--no-cache-dir", "--disable-pip-version-check", "--no-input",
          "--quiet", *requirement.split()], timeout)
    # the slot must import the agent before anyone switches to it
    _run([target, "-I", "-c", "import firmware.agent.main, siaga"], timeout)


def _run(cmd: list[str], timeout: float) -> None:
    # only the bundle counts: no site pip.conf (extra indexes, find-links, constraints)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpdateRefused("install_failed", f"{cmd[0]}: {exc}") from None
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["?"]
        raise UpdateRefused("install_failed", f"{' '.join(cmd[:4])}: exit {p.returncode}: {tail[0][:150]}")
