"""The suite's own broker: real messages, restart mid-test, ACL refusals."""

from __future__ import annotations

import queue
import time

import pytest

from central.broker.passwords import hash_password, verify_password
from protocol.codec import decode, encode
from protocol.reports import Incident, Source
from protocol.topics import device_filter, device_topic
from tests.support.mqtt import TestClient


def _incident(device: str, seq: int) -> Incident:
    return Incident(device=device, seq=seq, category="fire", source=Source.FIELD_BUTTON)


def test_publish_and_receive_through_private_broker(broker):
    sub = TestClient(broker, "sub").start()
    sub.subscribe(device_filter("incident"))
    pub = TestClient(broker, "box-1").start()
    sent = _incident("box-1", 1)
    pub.publish(device_topic("box-1", "incident"), encode(sent))
    got = sub.get()
    assert got.topic == "siaga/v1/dev/box-1/incident"
    assert decode(Incident, got.payload) == sent
    pub.stop()
    sub.stop()


def test_persistent_session_survives_broker_restart(broker):
    """A QoS 1 subscriber with a persistent session gets what was published
    while it was away, across a broker restart (persistence on)."""
    sub = TestClient(broker, "gw-persistent", clean_start=False).start()
    sub.subscribe(device_filter("incident"), qos=1)
    sub.stop()  # offline; the broker keeps its session and queue

    pub = TestClient(broker, "box-2").start()
    for seq in range(5):
        pub.publish(device_topic("box-2", "incident"), encode(_incident("box-2", seq)))
    pub.stop()

    broker.restart()
    assert broker.running

    sub2 = TestClient(broker, "gw-persistent", clean_start=False).start()
    seqs = [decode(Incident, m.payload).seq for m in sub2.drain(quiet=1.0)]
    assert seqs == [0, 1, 2, 3, 4]
    sub2.stop()


def test_client_reconnects_after_broker_restart(broker):
    """paho's loop reconnects by itself once the broker is back."""
    c = TestClient(broker, "box-3", clean_start=False).start()
    c.client.reconnect_delay_set(0.05, 0.5)
    broker.stop()
    deadline = time.monotonic() + 5
    while c.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not c.connected.is_set()
    broker.start()
    assert c.connected.wait(10), "client did not reconnect after restart"
    c.stop()


def test_generated_password_hash_accepted_by_real_broker(secure_broker):
    secure_broker.add_user("box-7", "s3cret-box-7")
    secure_broker.reload()
    ok = TestClient(secure_broker, "box-7", username="box-7", password="s3cret-box-7")
    assert not ok.try_start().is_failure
    ok.stop()
    bad = TestClient(secure_broker, "box-7b", username="box-7", password="wrong")
    assert bad.try_start().is_failure
    bad.stop()
    anon = TestClient(secure_broker, "anon")
    assert anon.try_start().is_failure
    anon.stop()


def test_hash_roundtrip():
    h = hash_password("abc")
    assert h.startswith("$7$101$")
    assert verify_password("abc", h)
    assert not verify_password("abd", h)


def test_device_user_refused_outside_its_branch(secure_broker):
    secure_broker.add_user("box-a", "pw-a")
    secure_broker.add_user("box-b", "pw-b")
    secure_broker.reload()

    gw = TestClient(secure_broker, "gw", username="gateway", password="gateway-test-pw").start()
    gw.subscribe("siaga/v1/#")

    a = TestClient(secure_broker, "box-a", username="box-a", password="pw-a").start()
    # its own branch, allowed direction: delivered
    a.publish(device_topic("box-a", "incident"), encode(_incident("box-a", 1)))
    assert gw.get().topic == "siaga/v1/dev/box-a/incident"
    # spoofing another unit's branch: the broker drops it (MQTT 5 PUBACK 135)
    info = a.publish(device_topic("box-b", "incident"), encode(_incident("box-b", 1)))
    assert info.rc == 0
    # a unit may not write its own ack either (wrong direction)
    a.publish(device_topic("box-a", "ack"), b"{}")
    with pytest.raises(queue.Empty):
        gw.get(timeout=1.0)

    # Mosquitto 2.0 grants the SUBACK but never delivers what the ACL forbids:
    # box-a listening on box-b's commands hears nothing, its own it hears.
    a.subscribe(device_topic("box-b", "cmd"))
    a.subscribe(device_topic("box-a", "cmd"))
    gw.publish(device_topic("box-b", "cmd"), b'{"name": "reboot"}')
    gw.publish(device_topic("box-a", "cmd"), b'{"name": "ping"}')
    got = a.get()
    assert got.topic == "siaga/v1/dev/box-a/cmd"
    with pytest.raises(queue.Empty):
        a.get(timeout=0.5)
    a.stop()
    gw.stop()


def test_revoked_user_refused_after_reload(secure_broker):
    secure_broker.add_user("box-r", "pw-r")
    secure_broker.reload()
    c = TestClient(secure_broker, "box-r", username="box-r", password="pw-r")
    assert not c.try_start().is_failure
    c.stop()
    secure_broker.remove_user("box-r")
    secure_broker.reload()
    c2 = TestClient(secure_broker, "box-r2", username="box-r", password="pw-r")
    assert c2.try_start().is_failure
    c2.stop()


def _uid_of(pid: int) -> int:
    from pathlib import Path

    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(ln for ln in status if ln.startswith("Uid:")).split()[2])  # effective uid


def test_broker_runs_as_its_own_user_on_group_readable_files(secure_broker):
    """As in production: `user mosquitto` in the config; started as root it
    drops to that user, which reads passwd and acl through its group."""
    import os
    import stat

    from central.broker.files import DEFAULT_BROKER_USER, broker_ids

    assert f"user {DEFAULT_BROKER_USER}" in secure_broker.conf_path.read_text().splitlines()
    if os.geteuid() != 0:
        pytest.skip("only root starts a broker that drops privileges")  # the non-root run is the rest
    uid, gid = broker_ids(DEFAULT_BROKER_USER)
    assert _uid_of(secure_broker.proc.pid) == uid
    for name in ("passwd", "acl"):
        st = (secure_broker.workdir / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, 0o640), name


def test_rewrite_keeps_owner_and_mode(tmp_path):
    """An operator's chown/chmod survives every rewrite (`siaga admin device add`)."""
    import os
    import stat

    from central.broker.files import DEFAULT_BROKER_USER, broker_ids, write_broker_file
    from central.broker.passwords import write_password_file

    p = tmp_path / "passwd"
    write_password_file(p, {"a": hash_password("x")}, broker_user=DEFAULT_BROKER_USER)
    st = p.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    ids = broker_ids(DEFAULT_BROKER_USER)
    if os.geteuid() == 0:
        assert st.st_gid == ids[1]
        os.chown(p, ids[0], ids[1])  # the operator hands it to the broker's user
    p.chmod(0o600)
    write_password_file(p, {"a": hash_password("x"), "b": hash_password("y")},
                        broker_user=DEFAULT_BROKER_USER)
    st2 = p.stat()
    assert stat.S_IMODE(st2.st_mode) == 0o600 and (st2.st_uid, st2.st_gid) == (p.stat().st_uid, st.st_gid)
    if os.geteuid() == 0:
        assert st2.st_uid == ids[0]
    assert sorted(line.split(":")[0] for line in p.read_text().split()) == ["a", "b"]
    write_broker_file(tmp_path / "acl", "x\n", user=DEFAULT_BROKER_USER)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_password_file_unreadable_to_the_broker_user_is_named(broker_dir):
    """Root-only 0600 (what the old code wrote) cannot be read once the broker
    dropped to its user: the harness says which file, before Mosquitto fails."""
    import os

    from central.broker.process import BrokerStartError
    from tests.support.broker import Broker

    if os.geteuid() != 0:
        pytest.skip("only root starts a broker that drops privileges")
    b = Broker(broker_dir / "b", secure=True, users={"gateway": "pw"}, services={"gateway": "readwrite"})
    os.chown(b.workdir / "passwd", 0, 0)
    (b.workdir / "passwd").chmod(0o600)
    with pytest.raises(BrokerStartError, match=r"cannot read.*passwd"):
        b.start()
