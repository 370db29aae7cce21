"""Dispatch to OPD duty phones by SMS, and their replies.

Why SMS: many OPDs have no system that takes a webhook, but their duty
officers have phones. Each registered number of an OPD gets its own outbox
row (channel ``sms:<index>`` into ``channels.sms``), so one dead phone
retries and dead-letters on its own, under the webhook rules. The text is
Bahasa Indonesia and names the reply code, the case's database key::

    SIAGA112 MDN-2026-000123: Kebakaran (prioritas 1) di Jl. Pahlawan 12, Taman.
    Balas TERIMA 123 / TIBA 123 / SELESAI 123 / TOLAK 123 alasan

A reply moves that OPD's part of the case (``lifecycle.opd_step``; ``TOLAK``
is a real decline, see :func:`apply_reply`) and is accepted only from a
number registered for an OPD the case is assigned to.
"""

from __future__ import annotations

import json
import logging
import re

from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.config.models import SiteConfig
from gateway.errors import IllegalTransition
from gateway.store.models import Incident
from protocol.categories import CATALOGUE, Category

log = logging.getLogger("gateway.sms")

REPLY_RE = re.compile(r"^\s*(TERIMA|TIBA|SELESAI|TOLAK)\s+(\d{1,9})(?:\s+(.*))?$", re.I | re.S)


def normalise(number: str) -> str:
    n = re.sub(r"[\s-]", "", number)
    if n.startswith("0") and len(n) > 4:
        return "+62" + n[1:]
    if n.startswith("62") and len(n) > 8:
        return "+" + n
    return n


def sms_channels(cfg: SiteConfig, opd: str) -> list[str]:
    """Outbox channel names for an OPD's SMS numbers (none without a centre modem)."""
    o = cfg.opd(opd)
    if cfg.sms is None or o is None:
        return []
    return [f"sms:{i}" for i in range(len(o.channels.sms))]


def number_for(cfg: SiteConfig, opd: str, channel: str) -> str | None:
    o = cfg.opd(opd)
    try:
        return o.channels.sms[int(channel.split(":", 1)[1])] if o else None
    except (IndexError, ValueError):
        return None


def dispatch_text(payload: str, reply_code: int | str) -> str:
    """The SMS for one dispatch (from the outbox row's ``Dispatch`` JSON)."""
    d = json.loads(payload)
    cat = CATALOGUE[Category(d["category"])]
    loc = d.get("location") or {}
    place = ", ".join(x for x in (loc.get("label"), loc.get("area")) if x) or d.get("device") or "-"
    return (f"SIAGA112 {d['case']}: {cat.label_id} (prioritas {d['priority']}) di {place}. "
            f"Balas TERIMA {reply_code} / TIBA {reply_code} / SELESAI {reply_code} / "
            f"TOLAK {reply_code} alasan")


def opds_of_number(cfg: SiteConfig, number: str) -> list[str]:
    n = normalise(number)
    return [o.id for o in cfg.opds if any(normalise(x) == n for x in o.channels.sms)]


#: first word of a ``TOLAK`` reason -> decline reason (anything else: ``other``)
DECLINE_WORDS: dict[str, lifecycle.DeclineReason] = {
    **{r.value: r for r in lifecycle.DeclineReason},
    "bukan": lifecycle.DeclineReason.NOT_OURS,  # "bukan wilayah/wewenang kami"
    "penuh": lifecycle.DeclineReason.NO_CAPACITY,
    "sibuk": lifecycle.DeclineReason.NO_CAPACITY,
    "duplikat": lifecycle.DeclineReason.DUPLICATE,
    "ganda": lifecycle.DeclineReason.DUPLICATE,
}


def decline_reason(note: str | None) -> lifecycle.DeclineReason:
    """The reason a ``TOLAK`` text gives by its first word; ``other`` when
    none (the whole text is kept as the decline's note either way)."""
    first = (note or "").split(maxsplit=1)[0].lower().strip(".,:;") if note else ""
    return DECLINE_WORDS.get(first, lifecycle.DeclineReason.OTHER)


def apply_reply(session: Session, inc: Incident, opd: str, word: str, note: str | None,
                actor: str) -> None:
    """The one place a reply word meets the lifecycle: TERIMA/TIBA/SELESAI
    are the OPD's steps, ``TOLAK <code> alasan`` declines that OPD's part
    through the cases service (reason from the text's first word, see
    :data:`DECLINE_WORDS`; the text is the note)."""
    step = {"TERIMA": lifecycle.OpdStep.ACKNOWLEDGE, "TIBA": lifecycle.OpdStep.ON_SCENE,
            "SELESAI": lifecycle.OpdStep.RESOLVE, "TOLAK": lifecycle.OpdStep.DECLINE}[word]
    reason = decline_reason(note) if step is lifecycle.OpdStep.DECLINE else None
    lifecycle.opd_step(session, inc, opd, step, actor=actor, via="sms", note=note, reason=reason)


def handle_reply(cfg: SiteConfig, session: Session, number: str, text: str):
    """An OPD officer's reply, or None when ``text`` is not one (then it is a report)."""
    from gateway.sms.intake import Outcome

    m = REPLY_RE.match(text)
    if m is None:
        return None
    word, code, note = m.group(1).upper(), int(m.group(2)), (m.group(3) or "").strip() or None
    opds = opds_of_number(cfg, number)
    if not opds:
        return Outcome("unregistered_number", detail=f"{word} {code} from {number}")
    inc = session.get(Incident, code)
    mine = [a.opd for a in inc.assignments if a.opd in opds] if inc is not None else []
    if not mine or inc is None:
        return Outcome("not_assigned", detail=f"{word} {code} from {number}")
    try:
        apply_reply(session, inc, mine[0], word, note, actor=f"sms:{normalise(number)}")
    except IllegalTransition as exc:
        return Outcome("illegal_step", case=inc.case_no, detail=str(exc))
    log.info("Balasan OPD / OPD reply %s %s from %s (%s)", word, inc.case_no, number, mine[0])
    return Outcome("reply", case=inc.case_no, detail=word)
