"""Bad input from the wire: clear rejection plus a counter, never a crash."""

from __future__ import annotations

import sqlite3

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from protocol.codec import encode
from protocol.reports import Ack, AckItem, Incident, Rejection
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentThread, Responder, base_config, wait_for
from tests.support.mqtt import TestClient

PINS = DEFAULT_PINS["field"]
DEV = "box-bad"


def test_bad_acks_are_counted_and_a_rejected_id_is_not_retried(tmp_path, broker, mock_pins):
    responder = Responder(broker, client_id="gw-bad", ack=False).start()  # stores, never acks
    gw = TestClient(broker, "gw-bad-acks").start()
    agent = Agent(UnitConfig.model_validate(base_config(tmp_path, broker, device_id=DEV,
                                                        timings={"same_incident_s": 0})))
    run = AgentThread(agent).start()
    ack_topic = device_topic(DEV, DeviceTopic.ACK)
    try:
        run.wait_connected()
        pin = mock_pins.pin(PINS["button_fire"])
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: responder.of_kind(Incident), what="incident sent")
        (inc,) = responder.of_kind(Incident)
        gw.publish(ack_topic, b"\xff\xfe not json")
        gw.publish(ack_topic, b'{"stored": [{"id": "not-a-ulid"}]}')
        gw.publish(ack_topic, encode(Ack(stored=[AckItem(id="01ARZ3NDEKTSV4RRFFQ69G5FAV")])))  # unknown id
        gw.publish(ack_topic, encode(Ack(rejected=[Rejection(id=inc.id, reason="invalid")])))
        wait_for(lambda: agent.outbox.rejected == 1, what="rejection applied")
        n = responder.received
        # the rejected incident is not resent, and the agent keeps working
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: len(responder.of_kind(Incident)) == 2, what="next incident")
        assert agent.rejected_messages == 2
        assert responder.received == n + 1
    finally:
        run.stop()
        gw.stop()
        responder.stop()
    db = sqlite3.connect(agent.cfg.storage.path)
    assert db.execute("SELECT state, error FROM outbox WHERE id = ?", [inc.id]).fetchone() == \
        ("rejected", "invalid")
