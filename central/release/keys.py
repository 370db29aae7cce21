"""Release keys and signed metadata on the admin host (docs/updates.md).

Why files and not a key server: the root key lives on an offline machine
(or an encrypted USB stick) and is used a few times a year; the targets key
signs each release. Both are PEM (PKCS#8) files, optionally encrypted with a
passphrase from an environment variable, never from the command line.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.agent.updfetch import sha256_file
from firmware.agent.updsig import (
    DEFAULT_STORE_COMPAT,
    UpdateRefused,
    canonical,
    parse_version,
    public_hex,
    sign_envelope,
    verify_root,
    verify_targets,
)
from gateway.fleet.errors import ReleaseError

PASSPHRASE_ENV = "SIAGA_KEY_PASSPHRASE"  # noqa: S105 -- the variable name, not a secret


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (0600) and ``<path>.pub``; returns the public hex."""
    if path.exists():
        raise ReleaseError(f"kunci sudah ada / key exists, not overwritten: {path}")
    key = Ed25519PrivateKey.generate()
    pw = _passphrase()
    enc = serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_hex(key)
    Path(f"{path}.pub").write_text(pub + "\n")
    return pub


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=_passphrase())
    except (OSError, ValueError, TypeError) as exc:
        raise ReleaseError(f"kunci tidak terbaca / cannot read key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError(f"{path}: not an Ed25519 key")
    return key


def read_pub(text_or_path: str) -> str:
    p = Path(text_or_path)
    value = p.read_text().strip() if p.exists() else text_or_path.strip()
    try:
        if len(bytes.fromhex(value)) != 32:
            raise ValueError
    except ValueError:
        raise ReleaseError(f"kunci publik tidak sah / not an Ed25519 public key (hex): "
                           f"{text_or_path}") from None
    return value


def _expires(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def sign_root(repo: Path, root_key: Path, targets_pubs: list[str], *, version: int | None = None,
              expires_days: float = 365.0) -> dict[str, Any]:
    """Write ``repo/root.json``: the root key delegates to these targets keys."""
    key = load_key(root_key)
    current = repo / "root.json"
    if version is None:
        version = 1
        if current.exists():
            version = int(json.loads(current.read_text())["signed"]["version"]) + 1
    signed = {"_type": "root", "version": version, "expires": _expires(expires_days),
              "targets_keys": [read_pub(p) for p in targets_pubs], "threshold": 1,
              "root_key": public_hex(key)}
    doc = sign_envelope(signed, [key])
    repo.mkdir(parents=True, exist_ok=True)
    verify_root(canonical(doc), [public_hex(key)])
    write_json(current, doc)
    return doc


def sign_release(repo: Path, version: str, targets_key: Path, *, expires_days: float = 90.0,
                 requirement: str | None = None, store_compat: int = DEFAULT_STORE_COMPAT) -> dict[str, Any]:
    """Write ``repo/<version>/targets.json`` over every file of the bundle and
    check it against ``repo/root.json`` (a key the root does not delegate to fails here)."""
    parse_version(version)
    rel = repo / version
    files = sorted(p for p in rel.glob("*") if p.is_file() and p.name != "targets.json"
                   and not p.name.endswith(".tmp"))
    if not files:
        raise ReleaseError(f"tidak ada berkas / no bundle files in {rel} (run `release build` first)")
    key = load_key(targets_key)
    if requirement is None:  # a bundle with pip installs it too (the next slot needs it)
        requirement = f"siaga112[firmware]=={version}"
        if any(p.name.startswith("pip-") for p in files):
            requirement += " pip"
    signed = {"_type": "targets", "version": version, "expires": _expires(expires_days),
              "requirement": requirement,
              "store_compat": store_compat,
              "files": {p.name: {"length": p.stat().st_size, "sha256": sha256_file(p)} for p in files}}
    doc = sign_envelope(signed, [key])
    root_path = repo / "root.json"
    if not root_path.exists():
        raise ReleaseError(f"{root_path} missing: sign the delegation first (`release delegate`)")
    root_doc = json.loads(root_path.read_text())
    try:
        root = verify_root(root_path.read_bytes(), [root_doc["signed"]["root_key"]])
        verify_targets(canonical(doc), root)
    except UpdateRefused as exc:  # e.g. a targets key the root does not delegate to
        raise ReleaseError(f"tanda tangan ditolak / a unit would refuse this: {exc}") from None
    write_json(rel / "targets.json", doc)
    return doc
