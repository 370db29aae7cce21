"""The installed console script works and explains itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SIAGA, *args], capture_output=True, text=True, timeout=60)


def test_help_lists_programs():
    r = run("--help")
    assert r.returncode == 0
    assert "protocol" in r.stdout


def test_protocol_schema_prints_every_payload():
    r = run("protocol", "schema")
    assert r.returncode == 0, r.stderr
    schemas = json.loads(r.stdout)
    for name in ("Incident", "CallRecord", "Ack", "Status", "Telemetry", "DesiredConfig",
                 "ReportedConfig", "Command", "CommandResult", "Dispatch"):
        assert schemas[name]["additionalProperties"] is False


def test_protocol_schema_unknown_model_is_clear_error():
    r = run("protocol", "schema", "Nope")
    assert r.returncode == 2
    assert "unknown model" in r.stderr
