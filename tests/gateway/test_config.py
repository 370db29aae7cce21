"""Site config: the Madiun example, errors with file:line, secrets, routing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import routing
from gateway.config import load_config, parse_config
from gateway.errors import ConfigError
from gateway.runtime import Gateway

EXAMPLE = Path(__file__).parents[2] / "examples" / "madiun.yaml"
SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


def with_secrets(tmp_path: Path) -> Path:
    """The example copied next to freshly made secret files."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    site = tmp_path / "madiun.yaml"
    shutil.copy(EXAMPLE, site)
    sec = tmp_path / "secrets"
    sec.mkdir()
    for name in ("broker.password", "dinas_pu.webhook", "bpbd.webhook", "damkar.webhook",
                 "dinkes.webhook", "satpol_pp.webhook", "dp3a.webhook", "polres.webhook",
                 "escalation.webhook"):
        (sec / name).write_text(f"{name}-0123456789abcdef-random\n")
    return site


def test_madiun_example_names_the_launch_opds_and_routes(tmp_path):
    cfg = load_config(with_secrets(tmp_path))
    assert {o.id for o in cfg.opds} == {"dinas_pu", "bpbd", "damkar", "dinkes", "satpol_pp", "dp3a",
                                        "polres"}
    assert cfg.insecure_secrets() == []
    assert cfg.opd("damkar").channels.webhook.secret.resolve().startswith("damkar.webhook")
    # no MoU yet: crime has no OPD (operator hand-off); traffic accidents go to PSC 119 only
    assert routing.route(cfg, "crime", "panel_call", None).handoff
    assert routing.opds_for(cfg, "traffic_accident", None) == ("dinkes",)
    cfg.routing.police_route_active = True
    assert routing.opds_for(cfg, "traffic_accident", None) == ("dinkes", "polres")
    r = routing.route(cfg, "fire", "field_button", None)
    assert r.auto and r.opds == ("damkar",) and r.sla_ack_min == 3
    assert not routing.route(cfg, "street_light", "field_button", None).auto
    assert not routing.route(cfg, "prank", "panel_call", None).routed


def test_area_rule_wins_over_general_rule(tmp_path):
    cfg = parse_config("""
site: {name: X, case_prefix: XX}
opds: [{id: bpbd, name: BPBD}, {id: dinas_pu, name: PU}]
routing:
  rules:
    - {categories: [flood], areas: [Taman], opds: [dinas_pu]}
    - {categories: [flood], opds: [bpbd]}
""")
    assert routing.opds_for(cfg, "flood", "taman") == ("dinas_pu",)
    assert routing.opds_for(cfg, "flood", "Kartoharjo") == ("bpbd",)
    assert routing.opds_for(cfg, "flood", None) == ("bpbd",)


@pytest.mark.parametrize(("text", "line", "key", "words"), [
    ("site: {name: X, case_prefix: XX}\nopds:\n  - id: a1\n    name: A\n    colour: red\n", 5,
     "opds.0.colour", "Extra inputs"),
    ("site: {name: X, case_prefix: xx}\nopds: [{id: a1, name: A}]\n", 1, "site.case_prefix", "pattern"),
    ("site: {name: X, case_prefix: XX}\nopds: [{id: a1, name: A}]\nrouting:\n  rules:\n"
     "    - {categories: [fire], opds: [nope]}\n", 1, "", "undefined OPD"),
    ("site: {name: X, case_prefix: XX}\nopds: [{id: a1, name: A}]\nrouting:\n  rules:\n"
     "    - {categories: [arson], opds: [a1]}\n", 5, "routing.rules.0.categories.0", "Input should be"),
    ("site: {name: X, case_prefix: XX}\nopds: [{id: a1, name: A}\n", 3, "", "invalid YAML"),
])
def test_errors_name_file_line_and_key(text, line, key, words):
    with pytest.raises(ConfigError) as e:
        parse_config(text, filename="site.yaml")
    f, ln, k, msg = e.value.errors[0]
    assert (f, ln, k) == ("site.yaml", line, key)
    assert words in msg
    assert str(e.value).startswith(f"site.yaml:{line}:")


def test_check_config_cli_prints_file_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: {name: X, case_prefix: XX}\nopds:\n  - id: a1\n    name: A\n    colour: red\n")
    r = subprocess.run([SIAGA, "gateway", "check-config", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert f"{bad}:5: opds.0.colour: Extra inputs are not permitted" in r.stderr
    ok = subprocess.run([SIAGA, "gateway", "check-config", str(with_secrets(tmp_path))],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "Kota Madiun" in ok.stdout
    line = next(n for n, t in enumerate(EXAMPLE.read_text().splitlines(), 1) if "file: secrets/damkar" in t)
    # a fresh clone: the example's secret files do not exist; listed, skipped, and it passes
    fresh = subprocess.run([SIAGA, "gateway", "check-config", str(EXAMPLE)], capture_output=True,
                           text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr
    assert "10 berkas rahasia belum ada / secret files absent" in fresh.stdout
    assert f"{EXAMPLE}:{line}: belum ada, tidak diperiksa / absent, not checked: " \
           f"opds[2].channels.webhook.secret: " in fresh.stderr
    # on the gateway host they must exist
    nosec = subprocess.run([SIAGA, "gateway", "check-config", "--require-secrets", str(EXAMPLE)],
                           capture_output=True, text=True, timeout=60)
    assert nosec.returncode == 1 and "cannot read secret file" in nosec.stderr
    assert f"{EXAMPLE}:{line}: opds[2].channels.webhook.secret: cannot read" in nosec.stderr
    # an existing but weak secret fails either way, with its line
    site = with_secrets(tmp_path / "weak")
    (site.parent / "secrets" / "bpbd.webhook").write_text("changeme\n")
    weak = subprocess.run([SIAGA, "gateway", "check-config", str(site)], capture_output=True, text=True,
                          timeout=60)
    assert weak.returncode == 1
    bpbd = next(n for n, t in enumerate(EXAMPLE.read_text().splitlines(), 1) if "file: secrets/bpbd" in t)
    assert f"{site}:{bpbd}: opds[1].channels.webhook.secret: secret is empty, a default" in weak.stderr


def test_production_refuses_weak_or_default_secrets(tmp_path):
    site = with_secrets(tmp_path)
    (tmp_path / "secrets" / "damkar.webhook").write_text("changeme\n")
    cfg = load_config(site)
    # the escalation ladder's webhook uses the same file: both are named
    assert cfg.insecure_secrets() == [
        "opds[2].channels.webhook.secret: secret is empty, a default, or shorter than 16",
        "opds[2].escalation[1].webhook.secret: secret is empty, a default, or shorter than 16"]
    from gateway.errors import InsecureConfig

    with pytest.raises(InsecureConfig) as e:
        Gateway(cfg).start()
    assert "changeme" not in str(e.value)  # never echo a secret
    cfg.broker.username = None
    assert any("anonymous" in b for b in cfg.insecure_secrets())
    from gateway.config.models import Mode

    cfg.mode = Mode.DEMO
    Gateway(cfg).check_secrets()  # demo accepts them


def test_secret_values_are_not_in_repr(tmp_path):
    cfg = parse_config("""
site: {name: X, case_prefix: XX}
opds:
  - id: a1
    name: A
    channels: {webhook: {url: "http://x/", secret: {value: very-secret-value-123456}}}
""")
    assert "very-secret-value" not in repr(cfg)
