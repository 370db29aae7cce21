"""An old central.db (central's own SQLite file before the fleet moved into
the gateway's database) carried over with `siaga admin import-central-db`."""

from __future__ import annotations

import sqlite3

from tests.central.conftest import provision
from tests.central.test_cli import admin_inproc
from tests.central.test_real_agent import central_yaml

#: the tables of the old file, as central/db.py created them (what an upgrade finds)
OLD_SCHEMA = """
CREATE TABLE devices (id TEXT PRIMARY KEY, profile TEXT NOT NULL, location TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL);
CREATE TABLE credentials (user TEXT PRIMARY KEY, kind TEXT NOT NULL, hash TEXT, access TEXT,
    revoked INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL);
CREATE TABLE groups (device TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (device, name));
CREATE TABLE desired (device TEXT PRIMARY KEY, version INTEGER NOT NULL, settings TEXT NOT NULL,
    issued_at TEXT NOT NULL, published_at TEXT);
CREATE TABLE faults (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, fault TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '', opened_at TEXT NOT NULL, closed_at TEXT,
    notified_open INTEGER NOT NULL DEFAULT 0, notified_close INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
CREATE TABLE presence (device TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0, last_seen TEXT);
"""


def test_old_central_db_is_imported_once(site, tmp_path):
    provision(site, "box-1")  # already in the gateway's database: kept as it is
    old = tmp_path / "old-central.db"
    conn = sqlite3.connect(old)
    conn.executescript(OLD_SCHEMA)
    t = "2026-01-02T03:04:05.000+00:00"
    conn.executemany("INSERT INTO devices VALUES (?, ?, ?, ?, ?)",
                     [("box-1", "field", "", 1, t), ("box-old", "panel", '{"label":"Meja 2"}', 0, t)])
    conn.executemany("INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)",
                     [("box-1", "unit", "$7$old", None, 0, t), ("box-old", "unit", "$7$x", None, 0, t)])
    conn.execute("INSERT INTO groups VALUES ('box-old', 'north')")
    conn.execute("INSERT INTO desired VALUES ('box-old', 4, '{\"volume\":20}', ?, ?)", (t, t))
    conn.execute("INSERT INTO faults (device, fault, opened_at) VALUES ('box-old', 'offline', ?)", (t,))
    conn.execute("INSERT INTO events (device, kind, detail, at) "
                 "VALUES ('box-old', 'provisioned', 'by cli', ?)", (t,))
    conn.execute("INSERT INTO presence VALUES ('box-old', 1, ?)", (t,))
    conn.commit()
    conn.close()

    conf = central_yaml(site, tmp_path)
    r = admin_inproc(conf, "import-central-db", str(old))
    assert r.returncode == 0, r.stderr
    for want in ("devices: 1 ", "fleet_credentials: 1 ", "fleet_faults: 1 "):
        assert want in r.stdout, r.stdout
    c = site.central
    assert c.registry.get("box-old").enabled is False
    assert c.registry.get("box-old").location.label == "Meja 2"
    assert c.prov.groups_of("box-old") == ["north"]
    assert c.config.desired("box-old").version == 4
    assert [f["fault"] for f in c.health.open_faults("box-old")] == ["offline"]
    assert [e["kind"] for e in c.health.events("box-old")] == ["provisioned"]
    assert not c.prov.is_revoked("box-old")
    # box-1's credentials in the gateway's database win over the old file's
    assert site.db.one("SELECT hash FROM fleet_credentials WHERE username='box-1'")["hash"] != "$7$old"
    assert c.health.presence("box-old")["online"] is False  # presence comes from the units again

    again = admin_inproc(conf, "import-central-db", str(old))
    assert again.returncode == 0 and all(line.split(": ")[1].startswith("0 ")
                                         for line in again.stdout.splitlines()), again.stdout
    assert admin_inproc(conf, "import-central-db", str(tmp_path / "nope.db")).returncode == 2
