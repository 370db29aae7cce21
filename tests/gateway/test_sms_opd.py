"""Dispatch by SMS to an OPD's duty phone over the simulated GSM network and
the officer's replies: TERIMA / SELESAI move the case, TOLAK declines that
OPD's part, an unregistered number is refused and counted (real gateway, broker, SQLite, modem driver)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from firmware.sim import ModemSimulator
from firmware.sim.network import GsmNetwork
from gateway.config.models import AutoDispatch
from gateway.runtime import Gateway
from gateway.sms.opd import decline_reason, dispatch_text
from gateway.store.models import Incident, Outbox
from protocol import smsfallback as wire
from protocol.categories import Category
from protocol.ids import new_id
from protocol.reports import Source
from tests.gateway.support import register, site_config, wait_for

CENTRE, BOX, DUTY, STRANGER = "+6281100000112", "+6281100000001", "+6281300000001", "+6285700000009"
MASTER = "sms-master-secret-for-tests-0123456789"


@pytest.fixture
def world(tmp_path, broker):
    net = GsmNetwork(sms_delay_s=0.05, call_delay_s=0.02)
    centre = net.attach(CENTRE, ModemSimulator("sim800", ring_interval=0.5, boot_delay=0.05))
    url = centre.start_tcp()
    extra = (f"sms:\n  modem: {{url: '{url}', watchdog_interval_s: 30}}\n"
             f"  master_key: {{value: '{MASTER}'}}\n")
    cfg = site_config(tmp_path, broker, extra=extra)
    cfg.routing.auto_dispatch.append(AutoDispatch(categories=[Category.FIRE], sources=[Source.SMS]))
    cfg.opd("damkar").channels.sms = ["081300000001"]  # local format: matched normalised
    gw = Gateway(cfg).start()
    register(gw.db, "box-o", area="Taman")
    try:
        yield net, gw
    finally:
        gw.stop()
        centre.stop()
        net.close()


def _case_from_box(net, gw) -> Incident:
    msg_id = new_id()
    key = wire.device_key(MASTER.encode(), "box-o")
    net.phone(BOX).send(CENTRE, wire.encode(wire.FallbackSms("box-o", msg_id, 1, Category.FIRE, False), key))

    def got():
        with gw.db.session() as s:
            return s.scalar(select(Incident).where(Incident.id == msg_id))
    return wait_for(got, timeout=20)


def _status(gw, pk: int) -> str:
    with gw.db.session() as s:
        return s.get(Incident, pk).status


def test_dispatch_sms_and_replies_drive_the_case(world):
    net, gw = world
    inc = _case_from_box(net, gw)
    duty = net.phone(DUTY)
    text = wait_for(lambda: duty.texts(), timeout=20)[0]
    assert text.startswith(f"SIAGA112 {inc.case_no}: Kebakaran") and f"TERIMA {inc.pk}" in text
    with gw.db.session() as s:
        row = s.scalar(select(Outbox).where(Outbox.incident_pk == inc.pk))
        assert (row.channel, row.status) == ("sms:0", "delivered")
    net.phone(STRANGER).send(CENTRE, f"TERIMA {inc.pk}")
    wait_for(lambda: gw.metrics.sms.labels(result="unregistered_number")._value.get() == 1, timeout=20)
    assert _status(gw, inc.pk) == "dispatched"
    duty.send(CENTRE, f"terima {inc.pk}")
    wait_for(lambda: _status(gw, inc.pk) == "acknowledged", timeout=20)
    duty.send(CENTRE, f"SELESAI {inc.pk}")
    wait_for(lambda: _status(gw, inc.pk) == "resolved", timeout=20)
    with gw.db.session() as s:
        vias = [(t.event, t.via, t.opd) for t in s.get(Incident, inc.pk).transitions]
    assert ("acknowledge", "sms", "damkar") in vias and ("resolve", "sms", "damkar") in vias
    assert gw.metrics.sms.labels(result="reply")._value.get() == 2


def test_decline_is_a_real_decline_and_a_wrong_code_is_refused(world):
    net, gw = world
    inc = _case_from_box(net, gw)
    duty = net.phone(DUTY)
    wait_for(lambda: duty.texts(), timeout=20)
    duty.send(CENTRE, f"TOLAK {inc.pk} armada sedang di lokasi lain")
    duty.send(CENTRE, f"TERIMA {inc.pk + 999}")
    wait_for(lambda: gw.metrics.sms.labels(result="not_assigned")._value.get() == 1, timeout=20)
    # the only OPD declined: the case is back in the operators' queue with the reason
    wait_for(lambda: _status(gw, inc.pk) == "triaged", timeout=20)
    with gw.db.session() as s:
        case = s.get(Incident, inc.pk)
        part = next(a for a in case.assignments if a.opd == "damkar")
        assert (part.status, part.decline_reason, part.decline_note) == (
            "declined", "other", "armada sedang di lokasi lain")
        assert case.attention == "ditolak oleh / declined by damkar: other (armada sedang di lokasi lain)"
        rows = [(t.event, t.via, t.opd) for t in case.transitions]
    assert ("decline", "sms", "damkar") in rows
    # a declined part takes no more steps: refused and counted
    duty.send(CENTRE, f"TERIMA {inc.pk}")
    wait_for(lambda: gw.metrics.sms.labels(result="illegal_step")._value.get() == 1, timeout=20)
    assert _status(gw, inc.pk) == "triaged"


@pytest.mark.parametrize(("text", "reason"), [
    ("bukan wilayah kami", "not_ours"), ("Penuh, semua armada keluar", "no_capacity"),
    ("duplikat", "duplicate"), ("no_capacity", "no_capacity"), ("hujan deras", "other"), (None, "other")])
def test_decline_reason_from_the_first_word(text, reason):
    assert decline_reason(text).value == reason


def test_dispatch_text_fits_and_names_the_reply_code():
    payload = ('{"v":1,"id":"X","case":"MDN-2026-000123","incident_id":"Y","opd":"damkar",'
               '"category":"fire","priority":1,"source":"sms","device":"box-1",'
               '"location":{"label":"Jl. Pahlawan 12","area":"Taman"},"received_at":"2026-11-30T00:00:00Z"}')
    text = dispatch_text(payload, 123)
    assert "MDN-2026-000123" in text and "Jl. Pahlawan 12, Taman" in text and "TOLAK 123" in text
    assert len(text) <= 160


def test_sms_dispatch_retries_then_dead_letters_like_a_webhook(world):
    net, gw = world
    net.set_coverage(CENTRE, False)
    wait_for(lambda: not net.modems[CENTRE].registered)
    key = wire.device_key(MASTER.encode(), "box-o")
    out = gw.sms.intake.handle(BOX, wire.encode(wire.FallbackSms("box-o", new_id(), 2, Category.FIRE, False),
                                                key))
    assert out.result == "accepted"

    def row():
        with gw.db.session() as s:
            r = s.scalar(select(Outbox).where(Outbox.channel == "sms:0"))
            return r if r is not None and r.status == "dead" else None
    dead = wait_for(row, timeout=60)
    assert dead.attempts == 3 and "sms" in (dead.last_error or "")
    assert net.phone(DUTY).texts() == []
