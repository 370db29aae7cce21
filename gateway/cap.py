"""Cases as OASIS CAP 1.2 alerts, and an Atom feed of recent cases.

The mapping (category, urgency, severity, certainty, response type) is
documented in docs/opd-integration.md; keep the two together. CAP's
``sent`` pattern allows no fraction and no ``Z``: times are written in the
site's time zone with a ``+hh:mm`` offset.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.store.models import Incident
from protocol.categories import CATALOGUE, Category, Priority

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
C = Category
#: our category -> (CAP categories, CAP severity)
CATEGORY_MAP: dict[Category, tuple[tuple[str, ...], str]] = {
    C.MEDICAL: (("Health", "Rescue"), "Severe"),
    C.FIRE: (("Fire", "Rescue"), "Severe"),
    C.TRAFFIC_ACCIDENT: (("Transport", "Rescue"), "Severe"),
    C.NATURAL_DISASTER: (("Geo",), "Extreme"),
    C.FALLEN_TREE: (("Infra", "Safety"), "Moderate"),
    C.FLOOD: (("Met",), "Severe"),
    C.STREET_LIGHT: (("Infra",), "Minor"),
    C.CRIME: (("Security",), "Moderate"),
    C.DRUGS: (("Security",), "Minor"),
    C.DOMESTIC_VIOLENCE: (("Safety", "Security"), "Severe"),
    C.SECURITY_DISTURBANCE: (("Security",), "Minor"),
    C.TERRORISM: (("Security", "CBRNE"), "Extreme"),
    C.OTHER: (("Other",), "Unknown"),
    C.PRANK: (("Other",), "Unknown"),
    C.TEST: (("Other",), "Unknown"),
}
URGENCY = {Priority.CRITICAL: "Immediate", Priority.HIGH: "Immediate", Priority.NORMAL: "Expected",
           Priority.LOW: "Future", Priority.NONE: "Unknown"}
RESPONSE = {"received": "Assess", "triaged": "Assess", "dispatched": "Execute",
            "acknowledged": "Execute", "on_scene": "Execute", "resolved": "AllClear",
            "closed": "AllClear", "rejected": "None"}
DONE = frozenset({"resolved", "closed"})


def cap_time(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).replace(microsecond=0).isoformat()


def sender(cfg: SiteConfig) -> str:
    return f"siaga112.{cfg.site.case_prefix.lower()}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        e.text = text
    return e


def certainty(inc: Incident) -> str:
    """Observed once a person has verified it (typed in by an operator, or
    triaged); Likely for a unit's unverified report; Unlikely when rejected."""
    if inc.status == "rejected":
        return "Unlikely"
    if inc.source == "operator" or inc.status != "received":
        return "Observed"
    return "Likely"


def alert_element(inc: Incident, cfg: SiteConfig, *, identifier_suffix: str | None = None) -> ET.Element:
    tz = ZoneInfo(cfg.site.timezone)
    cat = Category(inc.category)
    info = CATALOGUE[cat]
    cap_cats, severity = CATEGORY_MAP[cat]
    ident = inc.case_no or inc.id
    if identifier_suffix:
        ident = f"{ident}.{identifier_suffix}"
    alert = ET.Element(f"{{{NS}}}alert")
    _sub(alert, "identifier", ident)
    _sub(alert, "sender", sender(cfg))
    _sub(alert, "sent", cap_time(inc.updated_at or inc.received_at, tz))
    _sub(alert, "status", "Test" if cat is C.TEST else "Actual")
    _sub(alert, "msgType", "Alert")
    _sub(alert, "source", f"Siaga 112 {cfg.site.name}")
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", "Hanya untuk OPD dan petugas 112 / city agencies and 112 staff only")
    _sub(alert, "incidents", inc.case_no or inc.id)
    el = _sub(alert, "info")
    _sub(el, "language", "id-ID")
    for c in cap_cats:
        _sub(el, "category", c)
    _sub(el, "event", info.label_id)
    _sub(el, "responseType", RESPONSE.get(inc.status, "Monitor"))
    _sub(el, "urgency", "Past" if inc.status in DONE else URGENCY[info.priority])
    _sub(el, "severity", severity)
    _sub(el, "certainty", certainty(inc))
    code = _sub(el, "eventCode")
    _sub(code, "valueName", "siaga112:category")
    _sub(code, "value", cat.value)
    _sub(el, "effective", cap_time(inc.received_at, tz))
    _sub(el, "senderName", f"Call centre 112 {cfg.site.name}")
    _sub(el, "headline", f"{info.label_id} / {info.label_en}: {inc.case_no or inc.id}")
    if inc.description:
        _sub(el, "description", inc.description)
    params = [("siaga112:case", inc.case_no or inc.id), ("siaga112:status", inc.status),
              ("siaga112:source", inc.source), ("siaga112:priority", str(inc.priority))]
    for a in inc.assignments:
        params.append(("siaga112:opd", f"{a.opd} {a.status}" + (f" ({a.responder})" if a.responder else "")))
    for name, value in params:
        p = _sub(el, "parameter")
        _sub(p, "valueName", name)
        _sub(p, "value", value)
    area = _sub(el, "area")
    _sub(area, "areaDesc", ", ".join(x for x in (inc.location_label, inc.area) if x)
         or inc.device_id or "Tidak diketahui / unknown")
    if inc.lat is not None and inc.lon is not None:
        _sub(area, "circle", f"{inc.lat:.6f},{inc.lon:.6f} 0.1")
    return alert


def alert_xml(inc: Incident, cfg: SiteConfig, *, identifier_suffix: str | None = None) -> bytes:
    """One case as a CAP 1.2 ``<alert>`` document."""
    ET.register_namespace("", NS)
    return ET.tostring(alert_element(inc, cfg, identifier_suffix=identifier_suffix),
                       encoding="utf-8", xml_declaration=True)


def atom_feed(incs: Iterable[Incident], cfg: SiteConfig, base_url: str) -> bytes:
    """An Atom feed of cases, each entry carrying its CAP alert as content
    (the way CAP feeds of alerting authorities are published)."""
    tz = ZoneInfo(cfg.site.timezone)
    ET.register_namespace("", ATOM)
    ET.register_namespace("cap", NS)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    sub(feed, "id", f"urn:siaga112:{cfg.site.case_prefix.lower()}:cases")
    sub(feed, "title", f"Siaga 112 {cfg.site.name}: kasus terbaru / recent cases")
    sub(feed, "updated", cap_time(utcnow(), tz))
    sub(sub(feed, "author"), "name", f"Call centre 112 {cfg.site.name}")
    sub(feed, "link", rel="self", href=f"{base_url}/api/feed/cap.atom")
    for inc in incs:
        e = sub(feed, "entry")
        sub(e, "id", f"urn:siaga112:case:{inc.case_no or inc.id}")
        sub(e, "title", f"{CATALOGUE[Category(inc.category)].label_id}: {inc.case_no} ({inc.status})")
        sub(e, "updated", cap_time(inc.updated_at or inc.received_at, tz))
        sub(e, "link", rel="alternate", type="application/cap+xml",
            href=f"{base_url}/api/incidents/{inc.id}/cap")
        content = sub(e, "content", type="application/cap+xml")
        content.append(alert_element(inc, cfg))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
