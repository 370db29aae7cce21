"""Release metadata on its own (no processes): root -> targets delegation,
key rotation, expiry, malformed and oversized documents, version rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.agent.updsig import (
    METADATA_MAX_BYTES,
    UpdateRefused,
    canonical,
    parse_version,
    public_hex,
    sign_envelope,
    verify_root,
    verify_targets,
)

FILES = {"siaga112-2.0.0-py3-none-any.whl": {"length": 10, "sha256": "a" * 64}}


def _expires(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _root(key, targets, version=1, days=30):
    signed = {"_type": "root", "version": version, "targets_keys": [public_hex(k) for k in targets],
              "expires": _expires(days)}
    return canonical(sign_envelope(signed, [key]))


def _targets(key, version="2.0.0", days=30, files=FILES):
    signed = {"_type": "targets", "version": version, "requirement": "siaga112==" + version,
              "files": files, "expires": _expires(days)}
    return canonical(sign_envelope(signed, [key]))


def _reason(fn, *a, **kw) -> str:
    with pytest.raises(UpdateRefused) as exc:
        fn(*a, **kw)
    return exc.value.reason


def test_delegation_and_targets_key_rotation() -> None:
    root, old, new = (Ed25519PrivateKey.generate() for _ in range(3))
    pins = [public_hex(root)]
    r1 = verify_root(_root(root, [old], version=1), pins)
    t = verify_targets(_targets(old), r1)
    assert t.version == "2.0.0" and t.files["siaga112-2.0.0-py3-none-any.whl"].length == 10
    # rotation: root v2 names only the new key; the old key's manifests stop counting
    r2 = verify_root(_root(root, [new], version=2), pins, min_version=r1.version)
    assert _reason(verify_targets, _targets(old), r2) == "bad_signature"
    verify_targets(_targets(new), r2)
    # and the unit, having seen v2, refuses the old delegation replayed
    assert _reason(verify_root, _root(root, [old], version=1), pins, min_version=2) == "root_rollback"


def test_refusals() -> None:
    root, tk, other = (Ed25519PrivateKey.generate() for _ in range(3))
    pins = [public_hex(root)]
    r = verify_root(_root(root, [tk]), pins)
    assert _reason(verify_root, _root(other, [tk]), pins) == "bad_signature"  # not the pinned root
    assert _reason(verify_root, _root(root, [tk], days=-1), pins) == "expired"
    assert _reason(verify_targets, _targets(tk, days=-1), r) == "expired"
    assert _reason(verify_targets, _root(root, [tk]), r) == "bad_metadata"  # a root is not a manifest
    assert _reason(verify_targets, b"not json", r) == "bad_metadata"
    assert _reason(verify_targets, b" " * (METADATA_MAX_BYTES + 1), r) == "too_big"
    assert _reason(verify_targets, _targets(tk, files={"../etc/passwd": FILES[next(iter(FILES))]}), r) \
        == "bad_metadata"
    assert _reason(verify_targets, _targets(tk, files={"a.whl": {"length": 1, "sha256": "zz"}}), r) \
        == "bad_metadata"
    assert _reason(verify_targets, _targets(tk, version="2.0.0-evil"), r) == "bad_version"
    # a signature over other bytes: the signed part edited after signing
    doc = json.loads(_targets(tk))
    doc["signed"]["files"]["siaga112-2.0.0-py3-none-any.whl"]["length"] = 11
    assert _reason(verify_targets, json.dumps(doc).encode(), r) == "bad_signature"


def test_versions_compare_as_numbers(tmp_path: Path) -> None:
    assert parse_version("2.10.0") > parse_version("2.9.9")
    assert parse_version("2") == parse_version("2.0.0")
    for bad in ("", "v2", "2.0.0rc1", "1..2", "2.0.0.0.0"):
        assert _reason(parse_version, bad) == "bad_version"
