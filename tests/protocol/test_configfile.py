"""The config kit every program reads its YAML with: lines, keys, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from protocol.configfile import ConfigFileError, load_model, parse_model, read_secret, secret_path


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(1, ge=1)


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[_Inner] = []


def test_every_problem_with_file_line_and_key():
    text = "name: x\nitems:\n  - port: 2\n  - port: 0\n    colour: red\n"
    with pytest.raises(ConfigFileError) as e:
        parse_model(_Outer, text, filename="f.yaml")
    assert str(e.value).splitlines() == [
        "f.yaml:4: items.1.port: Input should be greater than or equal to 1",
        "f.yaml:5: items.1.colour: Extra inputs are not permitted",
    ]


def test_unreadable_empty_and_not_a_mapping(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_model(_Outer, tmp_path / "absent.yaml")
    with pytest.raises(ConfigFileError, match="mapping"):
        parse_model(_Outer, "", filename="e.yaml")
    assert parse_model(_Inner, "", empty_ok=True).port == 1
    with pytest.raises(ConfigFileError, match=r"^l.yaml:1: harus berupa mapping"):
        parse_model(_Outer, "- a\n", filename="l.yaml")


def test_each_program_raises_its_own_subclass():
    from firmware.agent.config import ConfigError as UnitError
    from gateway.errors import ConfigError as SiteError

    for error in (UnitError, SiteError):
        with pytest.raises(error) as e:
            parse_model(_Outer, "name: [\n", filename="s.yaml", error=error)
        assert isinstance(e.value, ConfigFileError) and e.value.errors[0][0] == "s.yaml"


def test_secret_paths_absolute_credential_or_next_to_the_file(tmp_path, monkeypatch):
    base = tmp_path / "etc"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert secret_path("/run/x/pw", base) == Path("/run/x/pw")
    assert secret_path("broker-password", base) == base / "broker-password"
    assert secret_path("secrets/a.webhook", base) == base / "secrets" / "a.webhook"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "broker-password").write_text("  from-systemd \n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert secret_path("broker-password", base) == creds / "broker-password"
    assert secret_path("secrets/a.webhook", base) == base / "secrets" / "a.webhook"  # a path, not a name
    assert read_secret(secret_path("broker-password", base)) == "from-systemd"


def test_the_gateway_finds_a_bare_secret_name_among_its_credentials(tmp_path, monkeypatch):
    from gateway.config import load_config

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "secret_damkar.webhook").write_text("damkar-0123456789abcdef\n")
    site = tmp_path / "site.yaml"
    site.write_text("site: {name: X, case_prefix: XX}\nopds:\n  - id: damkar\n    name: Damkar\n"
                    "    channels: {webhook: {url: 'https://d/', secret: {file: secret_damkar.webhook}}}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config(site)
    assert cfg.opd("damkar").channels.webhook.secret.resolve() == "damkar-0123456789abcdef"
