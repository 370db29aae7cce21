"""A plain HTML fleet page for the gateway's staff console (``/fleet``).

Server-rendered, no JavaScript, refreshes itself: readable on any browser in
the control room. Everything shown is escaped. The JSON API in
:mod:`central.api` is the source for richer UIs.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from central.context import Central

_STYLE = """body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.offline{background:#fdd}.fault{color:#a00;font-weight:bold}.ok{color:#070}"""


def _state(r: dict[str, Any]) -> str:
    if r["revoked"]:
        return "dicabut / revoked"
    if not r["enabled"]:
        return "nonaktif / disabled"
    return "daring / online" if r["online"] else "luring / offline"


def render_fleet(rows: list[dict[str, Any]], faults: list[dict[str, Any]]) -> str:
    head = ["id", "profil / profile", "status", "terakhir terlihat / last seen", "sinyal / signal",
            "outbox", "gangguan / faults", "konfigurasi / config"]
    body = []
    for r in rows:
        cls = "" if r["online"] or not r["enabled"] else ' class="offline"'
        cells = [r["id"], r["profile"], _state(r), r["last_seen"] or "-",
                 "-" if r["signal_dbm"] is None else f"{r['signal_dbm']} dBm",
                 "-" if r["outbox_depth"] is None else str(r["outbox_depth"])]
        tds = "".join(f"<td>{escape(str(c))}</td>" for c in cells)
        flt = ", ".join(r["faults"])
        tds += f'<td class="{"fault" if flt else "ok"}">{escape(flt or "-")}</td>'
        tds += f"<td>{escape(r['config'])}</td>"
        body.append(f"<tr{cls}>{tds}</tr>")
    fl = "".join(
        f"<tr><td>{escape(f['device'])}</td><td>{escape(f['fault'])}</td><td>{escape(f['detail'])}</td>"
        f"<td>{escape(f['opened_at'])}</td></tr>" for f in faults)
    return (
        "<!doctype html><html lang=id><head><meta charset=utf-8>"
        '<meta http-equiv="refresh" content="10"><title>Armada / Fleet - Siaga 112</title>'
        f"<style>{_STYLE}</style></head><body><h1>Armada / Fleet</h1>"
        f"<p>{len(rows)} perangkat / devices, {sum(1 for r in rows if r['online'])} daring / online, "
        f"{len(faults)} gangguan terbuka / open faults</p>"
        "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(body)
        + "</table><h2>Gangguan terbuka / open faults</h2><table><tr><th>id</th><th>gangguan / fault</th>"
        "<th>rincian / detail</th><th>sejak / since</th></tr>" + fl + "</table></body></html>")


def make_pages_router(central: Central) -> APIRouter:
    router = APIRouter(tags=["fleet-pages"])

    @router.get("/fleet", response_class=HTMLResponse, summary="Fleet page (HTML)")
    def fleet_page() -> str:
        rows = [central.device_row(d) for d in central.registry.list()]
        return render_fleet(rows, central.health.open_faults())

    return router
