"""Commands: MQTT 5 request/response, the state machine, the offline queue."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from gateway.fleet.commands import CmdState, CommandService, run_command
from gateway.fleet.errors import CommandTimeout
from gateway.fleet.link import Link
from gateway.fleet.sql import utcnow
from tests.central.conftest import provision, wait_for
from tests.central.unit_double import UnitDouble


def test_ping_and_self_test_return_results(site):
    unit = UnitDouble(site.broker, "box-1", provision(site, "box-1")).start()
    svc = CommandService(site.db)
    with Link(site.settings.broker).start() as link:
        rec = run_command(svc, link, "box-1", "ping", {}, timeout_s=10)
        assert rec.state == CmdState.SUCCEEDED and rec.result == {"pong": True}
        assert rec.sent_at and rec.delivered_at and rec.finished_at
        rec = run_command(svc, link, "box-1", "self_test", {}, timeout_s=10)
        assert rec.state == CmdState.SUCCEEDED and rec.result["checks"]["modem"] is True
        rec = run_command(svc, link, "box-1", "dance", {"fast": True}, timeout_s=10)
        assert rec.state == CmdState.FAILED and "unknown command" in rec.error
    unit.stop()


def test_offline_unit_times_out_cleanly_and_never_runs_it_later(site):
    pw = provision(site, "box-2")
    unit = UnitDouble(site.broker, "box-2", pw).start()
    unit.stop()  # persistent session: the broker would queue for it
    svc = CommandService(site.db)
    with Link(site.settings.broker).start() as link, pytest.raises(CommandTimeout, match="box-2"):
        run_command(svc, link, "box-2", "ping", {}, timeout_s=1.0)
    rec = svc.list(device="box-2")[0]
    assert rec.state == CmdState.TIMED_OUT and rec.delivered_at is None
    # the unit returns after the command's expiry: it must not run it
    back = UnitDouble(site.broker, "box-2", pw).start()
    time.sleep(0.5)
    assert rec.id not in back.ran
    back.stop()


def test_queued_command_waits_for_unit_then_runs_once(site, fleet):
    pw = provision(site, "box-3")
    svc = fleet.commands
    rec = svc.create("box-3", "ping", timeout_s=10, expires_at=utcnow() + timedelta(hours=1))
    assert rec.state == CmdState.QUEUED
    time.sleep(0.3)  # a few ticks: the unit is not online
    assert svc.get(rec.id).state == CmdState.QUEUED
    unit = UnitDouble(site.broker, "box-3", pw).start()
    done = wait_for(lambda: svc.get(rec.id).state == CmdState.SUCCEEDED)
    r = svc.get(rec.id)
    assert done, r
    assert r.sent_at and r.delivered_at and r.result == {"pong": True}
    assert unit.ran == [rec.id]
    unit.stop()


def test_queued_command_expires_if_unit_stays_away(site, fleet):
    provision(site, "box-4")
    svc = fleet.commands
    rec = svc.create("box-4", "reboot", timeout_s=10, expires_at=utcnow() + timedelta(seconds=0.3))
    assert wait_for(lambda: svc.get(rec.id).state == CmdState.EXPIRED)
    assert svc.get(rec.id).sent_at is None


def test_reply_for_unknown_command_or_other_device_is_not_applied(site):
    from protocol.fleet import CommandResult, CommandStatus

    svc = CommandService(site.db)
    rec = svc.create("box-5", "ping", timeout_s=5)
    other = CommandResult(device="box-6", seq=1, command_id=rec.id, status=CommandStatus.OK)
    assert svc.record_result(other) is None
    assert svc.get(rec.id).state == CmdState.QUEUED


def test_sweep_times_out_sent_commands(site):
    svc = CommandService(site.db)
    rec = svc.create("box-7", "ping", timeout_s=5)
    with Link(site.settings.broker).start() as link:
        svc.send(link, rec.id, unit_online=False)
    assert svc.get(rec.id).state == CmdState.SENT
    assert svc.sweep(utcnow() + timedelta(seconds=2)) == []
    changed = svc.sweep(utcnow() + timedelta(seconds=6))
    assert [c.id for c in changed] == [rec.id]
    assert svc.get(rec.id).state == CmdState.TIMED_OUT


def test_a_command_is_sent_once_even_if_two_senders_race(site):
    unit = UnitDouble(site.broker, "box-8", provision(site, "box-8")).start()
    svc = CommandService(site.db)
    rec = svc.create("box-8", "ping", timeout_s=10)
    with Link(site.settings.broker).start() as a, Link(site.settings.broker).start() as b:
        first = svc.send(a, rec.id, unit_online=True)
        second = svc.send(b, rec.id, unit_online=True)
    assert first.state in (CmdState.DELIVERED, CmdState.SUCCEEDED)
    assert second.sent_at == first.sent_at or second.state == CmdState.SUCCEEDED
    time.sleep(0.3)
    assert unit.received == [rec.id]  # one delivery
    unit.stop()
