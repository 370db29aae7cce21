"""Singleton roles: the SLA watch runs on one instance and moves to a
survivor when its holder stops; /readyz says who holds what."""

from __future__ import annotations

import httpx

from gateway.roles import Roles
from gateway.store.db import Database
from tests.gateway.support import provisioner, site_config, wait_for


def roles_of(gw) -> list[str]:
    r = httpx.get(f"{gw.url}/readyz", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["roles"]


def test_sla_role_is_held_once_and_moves_to_a_survivor(broker, tmp_path, start_gateway, db_url):
    a = start_gateway(site_config(tmp_path, broker, instance="gw-a", db_url=db_url))
    b = start_gateway(site_config(tmp_path, broker, instance="gw-b", db_url=db_url))
    assert roles_of(a) == ["dispatch", "ingest", "rollups", "sla"]
    assert roles_of(b) == ["dispatch", "ingest"]
    assert a.sla._thread.is_alive() and b.sla._thread is None  # b never started a watch
    a.stop()
    wait_for(lambda: {"sla", "rollups"} <= set(roles_of(b)), timeout=5)  # role_check_s is 0.2 s here
    assert b.sla._thread.is_alive() and b.rollups._thread.is_alive() and b.alive()


def test_a_lost_database_connection_gives_the_role_up(db_url, pg_databases):
    """A role whose lock cannot be confirmed is stopped (never run twice)."""
    db = Database(db_url)
    db.migrate()
    events: list[str] = []
    r1, r2 = Roles(db, check_s=60), Roles(db, check_s=60)
    r1.add("x", lambda: events.append("start-1"), lambda: events.append("stop-1"))
    r2.add("x", lambda: events.append("start-2"), lambda: events.append("stop-2"))
    r1.check()
    r2.check()
    assert r1.held() == ["x"] and r2.held() == [] and events == ["start-1"]
    r1.roles["x"].lock.release()  # the lock is gone (connection dropped, file closed)
    r1.check()
    assert r1.held() == [] and events[-1] == "stop-1"
    r2.check()
    assert r2.held() == ["x"] and events[-1] == "start-2"
    r1.stop()
    r2.stop()
    assert events[-1] == "stop-2"
    db.dispose()


def test_fleet_watch_runs_on_one_instance_and_moves_to_a_survivor(tmp_path, broker, start_gateway):
    from protocol.fleet import Profile
    from tests.gateway.support import api_client, central_yaml, fleet_watch_sees, make_user

    central = central_yaml(tmp_path, broker)
    gws = []
    for name in ("gw-a", "gw-b"):
        cfg = site_config(tmp_path, broker, instance=name)
        cfg.gateway.fleet_config = central
        gws.append(start_gateway(cfg))
    a, b = gws
    assert "fleet" in roles_of(a) and "fleet" not in roles_of(b)
    provisioner(a).add_device("box-9", profile=Profile.FIELD, reload=False)
    a.stop()
    wait_for(lambda: "fleet" in roles_of(b), timeout=5)
    # the survivor's watch is live: a unit going offline opens a fault there
    admin = api_client(b.url, make_user(b.db, "adm", "admin"))
    fleet_watch_sees(broker, admin, "box-9")
    admin.close()
