"""Health watch: presence, lateness, fault episodes and notices, bad input."""

from __future__ import annotations

import http.server
import json
import threading
import time
from datetime import timedelta
from typing import ClassVar

from gateway.fleet.commands import CmdState, run_command
from gateway.fleet.link import Inbound, Link
from gateway.fleet.notify import Notice, WebhookNotifier
from gateway.fleet.sql import utcnow
from protocol.codec import encode
from protocol.fleet import Status
from tests.central.conftest import provision, start_ingest, wait_for
from tests.central.unit_double import UnitDouble
from tests.support.mqtt import TestClient


def _faults(fleet, device, fault=None):
    rows = fleet.health.faults(device)
    return [r for r in rows if fault is None or r["fault"] == fault]


def _notices(fleet, device, fault):
    return [(n.kind, n.fault) for n in fleet.health.notifier.sent if n.device == device and n.fault == fault]


def test_stuck_button_and_weak_signal_are_one_episode_each(site, fleet):
    unit = UnitDouble(site.broker, "box-1", provision(site, "box-1"), heartbeat_s=0.05,
                      telemetry={"faults": ["stuck_button:sos"], "signal_dbm": -113,
                                 "registration": "home"}).start()
    assert wait_for(lambda: fleet.counters["applied_telemetry"] >= 8)
    assert len(_faults(fleet, "box-1", "stuck_button:sos")) == 1
    weak = _faults(fleet, "box-1", "weak_signal")
    assert len(weak) == 1 and weak[0]["detail"] == "-113 dBm"
    assert wait_for(lambda: _notices(fleet, "box-1", "stuck_button:sos") == [("fault", "stuck_button:sos")])

    unit.telemetry = {"signal_dbm": -70, "registration": "home"}  # released, signal back
    assert wait_for(lambda: all(r["closed_at"] for r in _faults(fleet, "box-1")))
    assert wait_for(lambda: _notices(fleet, "box-1", "stuck_button:sos")
                    == [("fault", "stuck_button:sos"), ("recovered", "stuck_button:sos")])
    n = fleet.counters["applied_telemetry"]
    assert wait_for(lambda: fleet.counters["applied_telemetry"] >= n + 5)
    assert len(_faults(fleet, "box-1", "stuck_button:sos")) == 1  # no new episode, no new notice
    assert len(_notices(fleet, "box-1", "stuck_button:sos")) == 2
    unit.stop()


def test_derived_faults_from_thresholds(site, fleet):
    UnitDouble(site.broker, "box-2", provision(site, "box-2"), heartbeat_s=0.05,
               telemetry={"registration": "searching", "outbox_depth": 500, "storage_free_mb": 3.0}).start()
    want = {"not_registered", "outbox_growing", "storage_low"}
    assert wait_for(lambda: want <= {r["fault"] for r in fleet.health.open_faults("box-2")})


def test_crash_fires_will_offline_once_then_recovers(site, fleet):
    pw = provision(site, "box-3")
    unit = UnitDouble(site.broker, "box-3", pw).start()
    assert wait_for(lambda: (fleet.health.presence("box-3") or {}).get("online") == 1)
    unit.crash()
    assert wait_for(lambda: _faults(fleet, "box-3", "offline"))
    p = fleet.health.presence("box-3")
    assert p["online"] == 0 and p["status_reason"] == "will"
    # the lateness check must not open a second episode on top of the will
    fleet.health.tick(utcnow() + timedelta(hours=1))
    assert len(_faults(fleet, "box-3", "offline")) == 1
    UnitDouble(site.broker, "box-3", pw).start()
    assert wait_for(lambda: _faults(fleet, "box-3", "offline")[0]["closed_at"])
    assert wait_for(lambda: _notices(fleet, "box-3", "offline") == [("fault", "offline"),
                                                                    ("recovered", "offline")])


def test_clean_stop_is_recorded_as_a_stop_not_a_fault(site, fleet):
    unit = UnitDouble(site.broker, "box-9", provision(site, "box-9")).start()
    assert wait_for(lambda: (fleet.health.presence("box-9") or {}).get("online") == 1)
    unit.stop()  # the agent's own last words: offline, reason shutdown
    assert wait_for(lambda: (fleet.health.presence("box-9") or {}).get("online") == 0)
    assert fleet.health.presence("box-9")["status_reason"] == "shutdown"
    assert wait_for(lambda: [e["kind"] for e in fleet.health.events("box-9")][:1] == ["stopped"])
    fleet.health.tick(utcnow() + timedelta(hours=1))  # offline already: no lateness episode either
    assert _faults(fleet, "box-9", "offline") == []
    assert fleet.health.flush_notices() == 0 and _notices(fleet, "box-9", "offline") == []


def test_late_heartbeat_marks_offline(site, fleet):
    unit = UnitDouble(site.broker, "box-4", provision(site, "box-4"), heartbeat_s=0.05).start()
    assert wait_for(lambda: fleet.counters["applied_telemetry"] >= 2)
    unit.hang()  # connected, silent: no will will fire
    n = -1
    while n != fleet.counters["applied_telemetry"]:  # let a heartbeat in flight land first
        n = fleet.counters["applied_telemetry"]
        time.sleep(0.3)
    window = fleet.health.heartbeat_window("box-4")
    assert window == timedelta(seconds=60 * 2.5)  # default heartbeat, default factor
    assert fleet.health.tick(utcnow() + window / 2) == []
    assert fleet.health.tick(utcnow() + window + timedelta(seconds=1)) == ["box-4"]
    assert fleet.health.presence("box-4")["status_reason"] == "heartbeat_late"
    assert "heartbeat late" in _faults(fleet, "box-4", "offline")[0]["detail"]
    assert fleet.health.tick(utcnow() + window * 3) == []  # already offline: no new episode
    assert len(_faults(fleet, "box-4", "offline")) == 1


def test_power_restored_is_recorded(site, fleet):
    pw = provision(site, "box-5")
    c = TestClient(site.broker, "box-5", username="box-5", password=pw).start()
    c.publish("siaga/v1/dev/box-5/status",
              encode(Status(device="box-5", state="online", reason="power_restored", boot_id="b9")),
              retain=True)
    assert wait_for(lambda: [e for e in fleet.health.events("box-5") if e["kind"] == "power_restored"])
    ev = next(e for e in fleet.health.events("box-5") if e["kind"] == "power_restored")
    assert "b9" in ev["detail"]
    c.stop()


def test_failed_self_test_is_a_fault_until_one_passes(site, fleet):
    unit = UnitDouble(site.broker, "box-6", provision(site, "box-6"),
                      self_test={"ok": False, "checks": {"modem": True, "sim": {"ok": False}}}).start()
    with Link(site.settings.broker).start() as link:
        rec = run_command(fleet.commands, link, "box-6", "self_test", {}, timeout_s=10)
        assert rec.state == CmdState.SUCCEEDED  # the command ran; the box is what failed
        assert wait_for(lambda: _faults(fleet, "box-6", "self_test_failed"))
        assert _faults(fleet, "box-6", "self_test_failed")[0]["detail"] == "checks.sim"
        unit.self_test_result = {"ok": True, "checks": {"modem": True, "sim": True}}
        run_command(fleet.commands, link, "box-6", "self_test", {}, timeout_s=10)
        assert wait_for(lambda: _faults(fleet, "box-6", "self_test_failed")[0]["closed_at"])
    unit.stop()


def test_bad_input_is_counted_never_crashes(site, fleet):
    pw = provision(site, "box-7")
    before = dict(fleet.counters)
    fleet.handle(Inbound("siaga/v1/dev/box-7/telemetry", b"{not json", False, None))
    fleet.handle(Inbound("siaga/v1/dev/box-7/telemetry",
                         b'{"id":"01KAQ40D3M2E8W6ZK1P7R9T5QH","device":"box-8","seq":1}', False, None))
    fleet.handle(Inbound("siaga/v1/dev/nobody-1/status", encode(Status(device="nobody-1", state="online")),
                         False, None))
    fleet.handle(Inbound("siaga/v1/dev/box-7/telemetry",
                         b'{"id":"01KAQ40D3M2E8W6ZK1P7R9T5QH","device":"box-7","seq":1,"x":1}', False, None))
    assert fleet.counters["rejected_malformed_json"] == before.get("rejected_malformed_json", 0) + 1
    assert fleet.counters["rejected_device_mismatch"] == 1
    assert fleet.counters["rejected_unknown_device"] == 1
    assert fleet.counters["rejected_invalid"] == 1
    # a disabled unit's messages are refused by the watch as well as the broker
    site.prov.disable("box-7")
    fleet.handle(Inbound("siaga/v1/dev/box-7/status", encode(Status(device="box-7", state="online")),
                         False, None))
    assert fleet.counters["rejected_disabled_device"] == 1
    assert fleet._thread.is_alive()
    del pw


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    fail_first = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(503)
        else:
            _Hook.received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_webhook_notices_retry_until_delivered(site):
    from central.settings import HealthSettings
    from gateway.fleet.desired import ConfigService
    from gateway.fleet.health import HealthWatch

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Hook.received, _Hook.fail_first = [], 1
    try:
        hook = WebhookNotifier(f"http://127.0.0.1:{srv.server_port}/hook")
        watch = HealthWatch(site.db, ConfigService(site.db), HealthSettings(), hook)
        assert watch.open_fault("box-9", "door_tamper", "lid open")
        assert not watch.open_fault("box-9", "door_tamper", "lid open")
        assert watch.flush_notices() == 0  # 503: kept pending
        assert watch.flush_notices() == 1
        assert watch.flush_notices() == 0  # once per episode edge
        assert [(b["device"], b["fault"], b["kind"]) for b in _Hook.received] == [
            ("box-9", "door_tamper", "fault")]
        assert "GANGGUAN / FAULT" in _Hook.received[0]["text"]
        watch.close_fault("box-9", "door_tamper")
        assert watch.flush_notices() == 1
        assert _Hook.received[-1]["kind"] == "recovered"
    finally:
        srv.shutdown()
    assert Notice("d", "f", "event", "", "now").text().startswith("[Siaga 112] INFO")


def test_self_test_outcome_names_failed_checks():
    from gateway.fleet.service import self_test_outcome
    from protocol.fleet import CommandResult, CommandStatus
    from protocol.ids import new_id

    def res(result, status=CommandStatus.OK, error=None):
        return CommandResult(device="box-1", seq=1, command_id=new_id(), status=status, result=result,
                             error=error)

    agent_style = {"modem": {"at": True, "sim_ready": False}, "outputs": {"led_fault": True, "buzzer": False},
                   "storage_writable": True, "ok": False}
    assert self_test_outcome(res(agent_style)) == (False, "modem.sim_ready, outputs.buzzer")
    assert self_test_outcome(res({"ok": True, "outputs": {"led": True}})) == (True, "")
    assert self_test_outcome(res({}, CommandStatus.ERROR, "modem silent")) == (False, "modem silent")


def test_restarted_watch_gets_what_happened_while_it_was_down(site):
    """The ingest keeps presence while the watch is down; a new watch turns
    what it stored into the episode."""
    from gateway.fleet.notify import MemoryNotifier
    from gateway.fleet.service import FleetService

    site.settings.health.tick_s = 0.1
    ingest = start_ingest(site)
    pw = provision(site, "box-8")
    unit = UnitDouble(site.broker, "box-8", pw).start()
    first = FleetService(site.db, site.registry, site.settings, notifier=MemoryNotifier()).start()
    second = None
    try:
        assert wait_for(lambda: (first.health.presence("box-8") or {}).get("online") is True)
        first.stop()
        unit.crash()  # the will reaches the ingest while the watch is down
        assert wait_for(lambda: first.health.presence("box-8")["status_reason"] == "will")
        assert not _faults(first, "box-8", "offline")
        second = FleetService(site.db, site.registry, site.settings, notifier=MemoryNotifier()).start()
        assert wait_for(lambda: _faults(second, "box-8", "offline"))
        assert second.health.presence("box-8")["online"] is False
    finally:
        if second is not None:
            second.stop()
        ingest.stop()


def test_outbox_growing_by_threshold_or_trend_with_hysteresis(site):
    from central.settings import HealthSettings
    from gateway.fleet.desired import ConfigService
    from gateway.fleet.health import HealthWatch
    from gateway.fleet.notify import MemoryNotifier

    w = HealthWatch(site.db, ConfigService(site.db), HealthSettings(outbox_max=50, outbox_rising_beats=3),
                    MemoryNotifier())
    seq = [w.outbox_fault("a", d) is not None for d in (0, 2, 4, 6, 6, 7, 5, 4, 3, 2)]
    # rising on 3 heartbeats -> open at 6; stays open through the wobble until back to 6 // 2
    assert seq == [False, False, False, True, True, True, True, True, False, False]
    assert w.outbox_fault("b", 51) == "depth 51"  # over the threshold at once
    assert w.outbox_fault("b", 30) == "depth 30"
    assert w.outbox_fault("b", 25) is None
