"""docs/config-reference.md is what the models say, and every key has a title."""

from __future__ import annotations

from siaga.config_reference import DOC, main, render


def test_every_config_key_is_described():
    _, missing = render()
    assert missing == [], f"give these fields a title or description: {missing}"


def test_committed_reference_is_current():
    text, _ = render()
    assert DOC.read_text() == text, "stale: run `python -m siaga.config_reference` and commit"
    assert main(["--check"]) == 0


def test_reference_lists_the_keys_operators_asked_about():
    text, _ = render()
    for key in ("`mosquitto.port`", "`mosquitto.bind`", "`mosquitto.persistence_dir`",
                "`mosquitto.pid_file`", "`mosquitto.run_as_user`", "`gateway.ingest.client_id`",
                "`broker.keepalive_s`", "`timings.loop_tick_s`", "`opds[].channels.webhook.secret.file`"):
        assert key in text, key
