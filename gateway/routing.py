"""Routing: which OPDs get a case, whether it goes out without an operator,
and which SLA applies. Pure functions of the site config, easy to test.

Order: the first rule matching the category (and the area, when the rule
names areas) wins; with no rule, the catalogue's default OPDs that the site
defines. Police OPDs are dropped while the police route is inactive (no MoU):
such a case becomes an operator phone hand-off.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.models import SiteConfig
from protocol.categories import CATALOGUE, Category
from protocol.reports import JUNK_CALL_TYPES, CallType, Source


@dataclass(frozen=True, slots=True)
class Route:
    opds: tuple[str, ...]
    auto: bool  # dispatch without an operator's triage
    routed: bool  # False for prank/test: stored and counted only
    handoff: bool  # no OPD can take it: the operator hands it off by phone
    sla_ack_min: float | None
    sla_resolve_min: float | None


def _area_match(rule_areas: list[str] | None, area: str | None) -> bool:
    if rule_areas is None:
        return True
    return area is not None and area.casefold() in {a.casefold() for a in rule_areas}


def opds_for(cfg: SiteConfig, category: Category | str, area: str | None, *,
             police_filter: bool = True) -> tuple[str, ...]:
    cat = Category(category)
    chosen: list[str] | None = None
    for rule in cfg.routing.rules:
        if cat in rule.categories and _area_match(rule.areas, area):
            chosen = list(rule.opds)
            break
    if chosen is None:
        known = {o.id for o in cfg.opds}
        chosen = [o for o in CATALOGUE[cat].default_opds if o in known]
    police = cfg.routing.police_opd or "polres"
    if police_filter and not cfg.routing.police_route_active:
        chosen = [o for o in chosen if o != police]
    return tuple(dict.fromkeys(chosen))


def handoff_opds(cfg: SiteConfig, category: Category | str, area: str | None) -> tuple[str, ...]:
    """The OPDs a hand-off case is phoned to: those the rules would pick but
    the system cannot reach (the police without an MoU)."""
    kept = opds_for(cfg, category, area)
    return tuple(o for o in opds_for(cfg, category, area, police_filter=False) if o not in kept)


def sla_for(cfg: SiteConfig, category: Category | str) -> tuple[float | None, float | None]:
    cat = Category(category)
    base = CATALOGUE[cat]
    over = cfg.routing.sla.get(cat)
    ack = over.ack_min if over and over.ack_min is not None else base.sla_ack_min
    res = over.resolve_min if over and over.resolve_min is not None else base.sla_resolve_min
    return (float(ack) if ack is not None else None, float(res) if res is not None else None)


def is_auto(cfg: SiteConfig, category: Category | str, source: Source | str) -> bool:
    cat, src = Category(category), Source(source)
    return any(cat in a.categories and src in a.sources for a in cfg.routing.auto_dispatch)


def route(cfg: SiteConfig, category: Category | str, source: Source | str, area: str | None,
          call_type: CallType | str | None = None) -> Route:
    """A ghost, prank, test or misdial call is never routed whatever its
    category; an information call is routed but never auto-dispatched (the
    operator answers it, and dispatches only if it turns out to need an OPD)."""
    cat = Category(category)
    ctype = CallType(call_type) if call_type is not None else None
    if not CATALOGUE[cat].routed or ctype in JUNK_CALL_TYPES:
        return Route((), False, False, False, None, None)
    opds = opds_for(cfg, cat, area)
    ack, res = sla_for(cfg, cat)
    auto = is_auto(cfg, cat, source) and ctype is not CallType.INFORMATION
    return Route(opds, auto, True, not opds, ack, res)
