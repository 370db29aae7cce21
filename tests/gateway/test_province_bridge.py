"""Two city brokers bridged to a province broker, from the generated config.

Real parts throughout: three Mosquitto processes (the cities' configs carry
the bridge ``gen-config`` writes, TLS to the province, each city with its own
province user confined to its branch), a city gateway per city with a real
OPD webhook, and a province subscriber that decodes the contract and keeps
every case once by id (the bridge delivers at least once).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from central.broker.bridge import BridgeConfig
from central.broker.files import DEFAULT_BROKER_USER, broker_ids
from protocol.codec import decode, encode
from protocol.fleet import Status
from protocol.mqtt import BrokerSettings, connect, make_client
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.central.test_broker_config import self_signed
from tests.gateway.support import incident, register, site_config, wait_for
from tests.support.broker import Broker
from tests.support.mqtt import TestClient

CITIES = ("kota-a", "kota-b")
_CITY_TOPIC = re.compile(r"^siaga/v1/city/([^/]+)/(dev/.+)$")


class Province:
    """What a province gateway needs from the bridge: every case, once,
    with its city; anything else arriving is recorded as ``foreign``."""

    def __init__(self, broker: Broker, ca: Path, password: str) -> None:
        from protocol.codec import decode_device_message

        self._decode = decode_device_message
        self.cases: dict[str, tuple[str, str]] = {}  # id -> (city, device)
        self.deliveries = 0
        self.foreign: list[str] = []
        self._lock = threading.Lock()
        s = BrokerSettings(host=broker.host, port=broker.port, username="province", password=password,
                           tls=True, ca_file=ca, session_expiry_s=600)
        self.client = make_client("province-view", s)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_a: c.subscribe("#", 1)
        self.client.on_subscribe = lambda *_a: subscribed.set()
        connect(self.client, s, clean_start=False)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("province view: no SUBACK")

    def _on_message(self, _c, _u, msg) -> None:
        m = _CITY_TOPIC.match(msg.topic)
        with self._lock:
            if not m:
                self.foreign.append(msg.topic)
                return
            parsed, record = self._decode(f"siaga/v1/{m.group(2)}", msg.payload)
            self.deliveries += 1
            self.cases.setdefault(record.id, (m.group(1), parsed.device))

    def ids(self) -> set[str]:
        with self._lock:
            return set(self.cases)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _acked(unit: TestClient, want: set[str]) -> bool:
    got: set[str] = getattr(unit, "acked", set())
    while not unit.messages.empty():
        got |= {i.id for i in decode(Ack, unit.messages.get().payload).stored}
    unit.acked = got  # type: ignore[attr-defined]
    return want <= got


def test_cities_bridged_to_a_province_work_alone_when_cut_and_catch_up(
        broker_dir, tmp_path, opd_server, start_gateway):
    cert, key = self_signed(broker_dir)
    ids = broker_ids(DEFAULT_BROKER_USER)
    if os.geteuid() == 0 and ids:  # the broker reads its key after dropping to its user
        os.chown(key, 0, ids[1])
        key.chmod(0o640)
    pw = {c: f"bridge-{c}-pw-0123456789" for c in CITIES}
    province = Broker(broker_dir / "province", secure=True, tls_cert=cert, tls_key=key,
                      users={"province": "province-pw-0123", **{f"bridge-{c}": pw[c] for c in CITIES}},
                      services={"province": "read", **{f"bridge-{c}": f"city:{c}" for c in CITIES}})
    province.start()
    cities, gateways, units = {}, {}, {}
    view = None
    try:
        for c in CITIES:
            pw_file = broker_dir / f"{c}.bridge.pw"
            pw_file.write_text(pw[c] + "\n")
            bridge = BridgeConfig(city=c, host="127.0.0.1", port=province.port, username=f"bridge-{c}",
                                  password_file=pw_file, ca_file=cert, keepalive_s=5,
                                  restart_base_s=1, restart_cap_s=2)
            cities[c] = Broker(broker_dir / c, bridge=bridge)
            assert "remote_password" in cities[c].conf_path.read_text()
            assert cities[c].conf_path.stat().st_mode & 0o007 == 0  # holds a password
            cities[c].start()
            (tmp_path / c).mkdir()
            gateways[c] = start_gateway(site_config(tmp_path / c, cities[c], hooks={"damkar": opd_server.url},
                                                    instance=f"gw-{c}"))
            register(gateways[c].db, "box-01")  # the same device id in both cities
            units[c] = TestClient(cities[c], f"box-01-{c}").start()
            units[c].subscribe(device_topic("box-01", DeviceTopic.ACK))
        view = Province(province, cert, "province-pw-0123")

        sent: dict[str, set[str]] = {c: set() for c in CITIES}

        def press(n: int, seq0: int) -> None:
            for c in CITIES:
                for i in range(n):
                    msg = incident("box-01", seq=seq0 + i, description=f"Kebakaran {c} {i}")
                    units[c].publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
                    sent[c].add(msg.id)
                # a unit's status and the city's acks and dispatch stay in the city
                units[c].publish(device_topic("box-01", DeviceTopic.STATUS),
                                encode(Status(device="box-01", state="online", profile="field")))

        press(5, 1)
        every = set().union(*sent.values())
        assert wait_for(lambda: view.ids() == every, timeout=30)
        assert {c: {i for i, (city, _d) in view.cases.items() if city == c} for c in CITIES} == sent
        assert {d for _c, d in view.cases.values()} == {"box-01"}

        # the link is cut: each city stores, acks and dispatches alone
        province.stop()
        before = len(opd_server.hits)
        press(10, 100)
        for c in CITIES:
            assert wait_for(lambda c=c: _acked(units[c], sent[c]), timeout=30)
            with gateways[c].db.session() as s:
                from sqlalchemy import text

                assert s.execute(text("SELECT count(*) FROM incidents")).scalar() == len(sent[c])
        assert wait_for(lambda: len(opd_server.hits) >= before + 20, timeout=30)
        assert view.ids() == every  # nothing reached the province meanwhile

        # the link returns: the cities' queues drain, every case once at the province
        province.start()
        every = set().union(*sent.values())
        assert wait_for(lambda: view.ids() == every, timeout=60)
        assert {c: {i for i, (city, _d) in view.cases.items() if city == c} for c in CITIES} == sent
        assert view.deliveries >= len(every)
        assert view.foreign == []  # no unit status, ack or gateway state from the cities
    except BaseException:
        for b in (*cities.values(), province):
            print(b.workdir, b.log_path.read_text() if b.log_path.exists() else "")
        raise
    finally:
        if view:
            view.stop()
        for u in units.values():
            u.stop()
        for gw in gateways.values():
            gw.stop()
        for b in (*cities.values(), province):
            b.kill()
