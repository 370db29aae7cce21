"""The cases service: the only writer of case statuses, OPD assignments and
audit rows, used by the MQTT intake, the API, the OPD callbacks and the timers.

A case: ``received -> triaged -> dispatched -> acknowledged -> on_scene ->
resolved -> closed``, and ``rejected`` (prank, test, duplicate) from
received/triaged. Each OPD of a case has an :class:`Assignment` with its own
status (``dispatched -> acknowledged -> on_scene -> resolved``, or
``declined`` with a reason, or ``withdrawn`` by an operator who re-routed).
From dispatch on, the case status follows its assignments (:func:`settle`):
the most advanced open one, ``resolved`` when every remaining one is
resolved, back to ``triaged`` (the operators' queue) when every OPD declined.
Every change writes a :class:`Transition` row; illegal steps raise
:class:`IllegalTransition` (HTTP 409) with the reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.dispatch.payloads import channels, dispatch_payload, escalation_payload, outbox_rows
from gateway.errors import IllegalTransition
from gateway.routing import Route
from gateway.store.db import table
from gateway.store.models import Assignment, Incident, Outbox, Transition
from protocol.reports import JUNK_CALL_TYPES

__all__ = ["channels", "dispatch_payload", "escalation_payload"]  # re-exported for callers


class Status(enum.StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class RejectReason(enum.StrEnum):
    PRANK = "prank"
    TEST = "test"
    DUPLICATE = "duplicate"
    GHOST = "ghost"
    MISDIAL = "misdial"


class OpdStep(enum.StrEnum):
    ACKNOWLEDGE = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVE = "resolved"
    DECLINE = "declined"
    RESPONDER = "responder"  # name or change who handles it


class AStatus(enum.StrEnum):
    """Status of one OPD's part of a case."""

    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class DeclineReason(enum.StrEnum):
    NOT_OURS = "not_ours"
    NO_CAPACITY = "no_capacity"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ResponderKind(enum.StrEnum):
    TEAM = "team"
    VEHICLE = "vehicle"
    PERSON = "person"


S = Status
A = AStatus
ALLOWED: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.TRIAGED, S.REJECTED}),
    S.TRIAGED: frozenset({S.DISPATCHED, S.REJECTED}),
    # from here on the assignments move the case (settle), forward and back
    S.DISPATCHED: frozenset({S.ACKNOWLEDGED, S.RESOLVED, S.TRIAGED}),
    S.ACKNOWLEDGED: frozenset({S.ON_SCENE, S.RESOLVED, S.DISPATCHED, S.TRIAGED}),
    S.ON_SCENE: frozenset({S.RESOLVED, S.ACKNOWLEDGED, S.DISPATCHED, S.TRIAGED}),
    S.RESOLVED: frozenset({S.CLOSED, S.DISPATCHED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
}
OPEN_FOR_OPD = frozenset({S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE})
#: cases not finished yet (the KPIs' open backlog)
OPEN_CASE = frozenset({S.RECEIVED, S.TRIAGED}) | OPEN_FOR_OPD
#: cases an operator may add OPDs to or re-route
ASSIGNABLE = frozenset({S.TRIAGED, S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE, S.RESOLVED})
#: what an OPD may do to its assignment in each assignment status
OPD_STEPS: dict[AStatus, tuple[OpdStep, ...]] = {
    A.DISPATCHED: (OpdStep.ACKNOWLEDGE, OpdStep.DECLINE),
    A.ACKNOWLEDGED: (OpdStep.ON_SCENE, OpdStep.RESOLVE, OpdStep.RESPONDER, OpdStep.DECLINE),
    A.ON_SCENE: (OpdStep.RESOLVE, OpdStep.RESPONDER),
}
GONE = frozenset({A.DECLINED.value, A.WITHDRAWN.value})
#: parts an OPD still owes work on (SLA and ladders watch these)
OPEN_PARTS = (A.DISPATCHED.value, A.ACKNOWLEDGED.value, A.ON_SCENE.value)
_RANK = {A.DISPATCHED.value: 0, A.ACKNOWLEDGED.value: 1, A.ON_SCENE.value: 2}
SYSTEM_VIA = "rules"  # the via of rows the routing rules write, whatever the intake channel


def _word(kind: str, code: str) -> str:
    from gateway.catalogue import label  # the catalogue reads this module's enums

    return label(kind, code)


def _to(cfg: SiteConfig, opds: tuple[str, ...] | list[str]) -> str:
    """``ke / to Dinas Pemadam Kebakaran, BPBD``: audit notes name OPDs as people know them."""
    return "ke / to " + ", ".join((o.name if (o := cfg.opd(x)) else x) for x in opds)


def audit(session: Session, inc: Incident, *, to: str, actor: str, via: str, event: str = "status",
          opd: str | None = None, note: str | None = None, from_status: str | None = None) -> None:
    now = utcnow()
    session.add(Transition(incident_pk=inc.pk, from_status=from_status, to_status=to, event=event,
                           at=now, actor=actor, via=via, opd=opd, note=note))
    inc.updated_at = now


def event(session: Session, inc: Incident, name: str, *, actor: str, via: str,
          opd: str | None = None, note: str | None = None) -> None:
    """An audit row that does not change the case status."""
    audit(session, inc, to=inc.status, from_status=inc.status, event=name, actor=actor, via=via,
          opd=opd, note=note)


def move(session: Session, inc: Incident, to: Status | str, *, actor: str, via: str,
         note: str | None = None, opd: str | None = None) -> None:
    """One status change, checked against :data:`ALLOWED`."""
    to = Status(to)
    cur = Status(inc.status)
    if to not in ALLOWED[cur]:
        allowed = ", ".join(sorted(ALLOWED[cur])) or "none (final state)"
        raise IllegalTransition(
            f"tidak boleh / not allowed: {cur} -> {to}; from {cur} only: {allowed}"
        )
    inc.status = to.value
    audit(session, inc, to=to.value, from_status=cur.value, actor=actor, via=via, note=note, opd=opd)


def reject(session: Session, inc: Incident, reason: RejectReason | str, *, actor: str, via: str,
           note: str | None = None) -> None:
    reason = RejectReason(reason)
    move(session, inc, S.REJECTED, actor=actor, via=via, note=note or reason.value)
    inc.reject_reason = reason.value


def add_note(session: Session, inc: Incident, text: str, *, actor: str, via: str) -> None:
    """A note on the case page (author and time are the audit row's)."""
    event(session, inc, "note", actor=actor, via=via, note=text)


def hand_off(session: Session, inc: Incident, *, to: str | None, note: str, actor: str, via: str) -> None:
    """No OPD of the system takes this case (police without an MoU, "other"):
    the operator phoned it through, and the case is closed here."""
    if not (inc.handoff and inc.status in (S.RECEIVED, S.TRIAGED) and not _active(inc)):
        raise IllegalTransition("bukan kasus serah-telepon / not waiting for a phone hand-off")
    frm, inc.status = inc.status, S.CLOSED.value
    audit(session, inc, to=S.CLOSED, from_status=frm, event="handoff", actor=actor, via=via,
          opd=to, note=note)


def merge_duplicate(session: Session, dup: Incident, into: Incident, *, actor: str, via: str,
                    note: str | None = None) -> None:
    """Another report of the same event: ``dup`` is rejected as a duplicate
    pointing to ``into`` (with the reports merged into it before); both
    timelines say so."""
    if dup.pk == into.pk or into.duplicate_of is not None:
        raise IllegalTransition("gabungkan ke kasus utama, bukan ke dirinya atau ke duplikat "
                                "/ merge into a main case, not itself or a duplicate")
    if into.status == S.REJECTED:
        raise IllegalTransition("kasus utama sudah ditolak / the main case is rejected")
    reject(session, dup, RejectReason.DUPLICATE, actor=actor, via=via,
           note=f"duplikat dari / duplicate of {into.case_no}" + (f": {note}" if note else ""))
    dup.duplicate_of = into.id
    session.execute(update(Incident).where(Incident.duplicate_of == dup.id).values(duplicate_of=into.id))
    event(session, into, "duplicate", actor=actor, via=via, note=f"{dup.case_no} digabung / merged"
          + (f" ({dup.caller})" if dup.caller else ""))


# -- new cases (one path for MQTT and typed-in cases) ------------------------

def initial_status(route: Route) -> Status:
    """Where a new case starts: the routing rules decide."""
    if not route.routed:
        return S.REJECTED
    if route.auto:
        return S.TRIAGED if route.handoff else S.DISPATCHED
    return S.RECEIVED


def reject_reason(row: dict[str, Any]) -> str:
    """Why a new case is never routed: its junk call type, else its category."""
    ctype = row.get("call_type")
    return str(ctype) if ctype in JUNK_CALL_TYPES else str(row["category"])


@dataclass
class NewCase:
    """A case just inserted (``row``: its column values, ``status`` set by
    :func:`initial_status`); ``actor``/``via`` say who reported it,
    ``note`` how (on its first audit row)."""

    pk: int
    case_no: str
    row: dict[str, Any]
    route: Route
    actor: str
    via: str
    note: str | None = None


def open_cases(session: Session, cfg: SiteConfig, cases: list[NewCase], now: datetime) -> int:
    """Audit rows, assignments and outbox rows of new cases, in three bulk
    INSERTs (the intake's group commit; the API passes one case). Returns
    the number of outbox rows."""
    audits: list[dict[str, Any]] = []
    assigns: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []

    def au(pk: int, frm: str | None, to: str, actor: str, via: str, ev: str = "status",
           note: str | None = None) -> None:
        audits.append(dict(incident_pk=pk, from_status=frm, to_status=to, event=ev, at=now,
                           actor=actor, via=via, opd=None, note=note))

    for c in cases:
        au(c.pk, None, S.RECEIVED, c.actor, c.via, note=c.note)
        status = Status(c.row["status"])
        if status is S.REJECTED:
            au(c.pk, S.RECEIVED, S.REJECTED, "system", SYSTEM_VIA,
               note=f"{_word('reject', reject_reason(c.row))}: dicatat dan dihitung, tidak dikirim ke OPD "
                    "/ stored and counted, never routed")
        elif status in (S.TRIAGED, S.DISPATCHED):
            au(c.pk, S.RECEIVED, S.TRIAGED, "system", SYSTEM_VIA,
               note="aturan kirim otomatis / auto-dispatch rule")
            if c.route.handoff:
                au(c.pk, S.TRIAGED, S.TRIAGED, "system", SYSTEM_VIA, ev="handoff",
                   note="tidak ada OPD di sistem: operator meneruskan lewat telepon "
                        "/ no OPD for this case: operator phone hand-off")
                continue
            au(c.pk, S.TRIAGED, S.DISPATCHED, "system", SYSTEM_VIA, note=_to(cfg, c.route.opds))
            inc = Incident(**c.row, pk=c.pk, case_no=c.case_no)  # transient: payload source
            for opd in c.route.opds:
                assigns.append(dict(incident_pk=c.pk, opd=opd, dispatched_at=now, status=A.DISPATCHED.value,
                                    sla_ack_min=c.route.sla_ack_min, sla_resolve_min=c.route.sla_resolve_min))
                outbox += outbox_rows(cfg, inc, opd, now)
    # Core, inline: no statement fetches generated keys back (the intake sends
    # these in one pipeline with its COMMIT, gateway.store.db.Database.pipeline)
    session.execute(insert(table(Transition)).inline(), audits)
    if assigns:
        session.execute(insert(table(Assignment)).inline(), assigns)
    if outbox:
        session.execute(insert(table(Outbox)).inline(), outbox)
    return len(outbox)


def open_case(session: Session, cfg: SiteConfig, route: Route, row: dict[str, Any], *, actor: str,
              via: str, now: datetime, note: str | None = None) -> tuple[Incident, int]:
    """One new case (typed in, or a unit's SMS): inserted and numbered, then
    opened by :func:`open_cases` like the intake's batches. ``row`` holds the
    report's columns; status and routing columns come from ``route``.
    Returns the case and its number of outbox rows."""
    from gateway.intake import case_number  # the intake imports this module

    st = initial_status(route)
    row = {**row, "status": st.value, "handoff": route.handoff, "escalated": False,
           "reject_reason": reject_reason(row) if st is S.REJECTED else None,
           "sla_ack_min": route.sla_ack_min, "sla_resolve_min": route.sla_resolve_min}
    inc = Incident(**row)
    session.add(inc)
    session.flush()
    inc.case_no = case_number(cfg.site.case_prefix, now.year, inc.pk)
    n = open_cases(session, cfg, [NewCase(inc.pk, inc.case_no, row, route, actor, via, note)], now)
    session.flush()
    return inc, n


# -- assignments -------------------------------------------------------------

def _active(inc: Incident) -> list[Assignment]:
    return [a for a in inc.assignments if a.status not in GONE]


def derived(inc: Incident) -> Status | None:
    """The case status its assignments give (None: no OPD clock, e.g. a
    phone hand-off, or a case that never had an OPD)."""
    if not inc.assignments:
        return None
    active = _active(inc)
    if not active:
        return S.TRIAGED
    open_ = [a for a in active if a.status != A.RESOLVED]
    if not open_:
        return S.RESOLVED
    return Status(max(open_, key=lambda a: _RANK[a.status]).status)


def settle(session: Session, inc: Incident, *, actor: str, via: str, opd: str | None = None) -> None:
    """Move the case to what its assignments say (once dispatched)."""
    if Status(inc.status) not in OPEN_FOR_OPD | {S.RESOLVED}:
        return
    target = derived(inc)
    if target is not None and target.value != inc.status:
        move(session, inc, target, actor=actor, via=via, opd=opd,
             note=inc.attention if target is S.TRIAGED else None)


def assign(session: Session, cfg: SiteConfig, inc: Incident, opds: tuple[str, ...] | list[str], *,
           actor: str, via: str, note: str | None = None, withdraw: str | None = None) -> list[str]:
    """Give the case to more OPDs, or re-route (``withdraw`` one OPD's part
    and give it to others); from triaged this is the dispatch. An OPD that
    had declined and is sent the case again gets its decline marked wrong.
    Returns the outbox ids written."""
    cur = Status(inc.status)
    if cur not in ASSIGNABLE:
        raise IllegalTransition(f"kasus berstatus / case is {cur}: OPDs can be given a case that is "
                                f"triaged, dispatched, acknowledged, on scene or resolved")
    if inc.call_type in JUNK_CALL_TYPES:
        raise IllegalTransition(f"Panggilan bertipe {inc.call_type} tidak pernah dikirim ke OPD / "
                                f"a {inc.call_type} call never reaches an OPD")
    opds = list(dict.fromkeys(opds))
    unknown = [o for o in opds if cfg.opd(o) is None]
    if unknown:
        raise IllegalTransition(f"OPD tidak dikenal / unknown OPD: {', '.join(unknown)}")
    mine = {a.opd: a for a in inc.assignments}
    busy = [o for o in opds if o in mine and mine[o].status not in GONE]
    if busy:
        raise IllegalTransition(f"sudah ditugaskan / already assigned: {', '.join(busy)}")
    if withdraw is not None:
        old = mine.get(withdraw)
        if old is None or old.status in GONE or old.status == A.RESOLVED:
            raise IllegalTransition(f"tidak bisa dialihkan / {withdraw} has no open part to re-route")
        if not opds:
            raise IllegalTransition("sebutkan OPD tujuan / name the OPD(s) to re-route to")
        old.status = A.WITHDRAWN.value
        event(session, inc, "withdraw", actor=actor, via=via, opd=withdraw,
              note=note or f"dialihkan / re-routed: {_to(cfg, opds)}")
    now = utcnow()
    if cur is S.TRIAGED:
        move(session, inc, S.DISPATCHED, actor=actor, via=via,
             note=note or (_to(cfg, opds) if opds else "diteruskan lewat telepon / phone hand-off"))
    for a in inc.assignments:
        if a.status == A.DECLINED and a.rerouted_at is None:
            a.rerouted_at = now
    rows: list[dict[str, Any]] = []
    for opd in opds:
        old = mine.get(opd)
        if old is None:
            part = Assignment(incident_pk=inc.pk, opd=opd, sla_ack_min=inc.sla_ack_min,
                              sla_resolve_min=inc.sla_resolve_min)
            session.add(part)
            inc.assignments.append(part)
        else:  # sent back after a decline or a re-route: a fresh clock
            part = old
            part.decline_wrong = part.decline_wrong or part.status == A.DECLINED
            part.acknowledged_at = part.on_scene_at = part.resolved_at = None
            part.responder = part.responder_kind = None
        part.status = A.DISPATCHED.value
        part.dispatched_at = now
        if cur is not S.TRIAGED:
            event(session, inc, "assign", actor=actor, via=via, opd=opd,
                  note="decline marked wrong: sent back" if old is not None and part.decline_wrong else note)
        rows += outbox_rows(cfg, inc, opd, now)
    if rows:
        session.execute(insert(Outbox), rows)
    inc.attention = None
    session.flush()
    settle(session, inc, actor=actor, via=via)
    return [r["id"] for r in rows]


dispatch = assign  # triaged -> dispatched is the first assignment


def _assignment(inc: Incident, opd: str) -> Assignment:
    for a in inc.assignments:
        if a.opd == opd:
            return a
    raise IllegalTransition(f"kasus ini tidak untuk / case not assigned to OPD {opd!r}")


def _refuse(a: Assignment, step: OpdStep) -> IllegalTransition:
    st, opd = AStatus(a.status), a.opd
    if st is A.DECLINED:
        return IllegalTransition(f"sudah ditolak / {opd} declined this case")
    if st is A.WITHDRAWN:
        return IllegalTransition(f"dialihkan / the case was re-routed away from {opd}")
    if st is A.RESOLVED:
        return IllegalTransition(f"sudah selesai / already resolved by {opd}")
    if step is OpdStep.ACKNOWLEDGE:
        return IllegalTransition(f"sudah diterima / already acknowledged by {opd}")
    if st is A.DISPATCHED:
        return IllegalTransition(f"terima dulu / {opd} must acknowledge first")
    if step is OpdStep.ON_SCENE:
        return IllegalTransition(f"sudah di lokasi / {opd} already on scene")
    return IllegalTransition(f"tidak boleh / {opd} cannot {step} now")


def opd_step(session: Session, inc: Incident, opd: str, step: OpdStep | str, *, actor: str, via: str,
             note: str | None = None, reason: DeclineReason | str | None = None,
             responder: str | None = None, responder_kind: ResponderKind | str | None = None) -> None:
    """An OPD acknowledges (naming its responder), arrives, resolves,
    declines (with a reason) its part of a case, or changes its responder."""
    step = OpdStep(step)
    cur = Status(inc.status)
    if cur not in OPEN_FOR_OPD:
        raise IllegalTransition(f"kasus berstatus / case is {cur}: OPD steps need it dispatched")
    a = _assignment(inc, opd)
    if step not in OPD_STEPS.get(AStatus(a.status), ()):
        raise _refuse(a, step)
    now = utcnow()
    if step is OpdStep.DECLINE:
        if reason is None:
            raise IllegalTransition("alasan wajib / a reason is needed: not_ours, no_capacity, "
                                    "duplicate or other")
        why = DeclineReason(reason)
        a.status, a.declined_at, a.decline_reason, a.decline_note = A.DECLINED.value, now, why.value, note
        a.rerouted_at = None
        inc.attention = f"ditolak oleh / declined by {opd}: {why.value}" + (f" ({note})" if note else "")
        event(session, inc, "decline", actor=actor, via=via, opd=opd, note=inc.attention)
    elif step is OpdStep.RESPONDER:
        if not responder:
            raise IllegalTransition("sebutkan petugas / name the responder (team, vehicle or person)")
    elif step is OpdStep.ACKNOWLEDGE:
        a.status, a.acknowledged_at = A.ACKNOWLEDGED.value, now
        event(session, inc, "acknowledge", actor=actor, via=via, opd=opd, note=note)
    elif step is OpdStep.ON_SCENE:
        a.status, a.on_scene_at = A.ON_SCENE.value, now
        event(session, inc, "on_scene", actor=actor, via=via, opd=opd, note=note)
    else:
        a.status, a.resolved_at = A.RESOLVED.value, now
        event(session, inc, "resolve", actor=actor, via=via, opd=opd, note=note)
    if responder and step is not OpdStep.DECLINE:
        kind = ResponderKind(responder_kind or ResponderKind.TEAM)
        a.responder, a.responder_kind = responder[:200], kind.value
        event(session, inc, "responder", actor=actor, via=via, opd=opd,
              note=f"{_word('responder_kind', kind.value)}: {a.responder}")
    settle(session, inc, actor=actor, via=via, opd=opd)


# -- what may happen next (served by the API, read by the pages) -------------

#: case-level actions of staff, by case status ("rejected:<reason>" carries the reason)
#: ``type:<call type>`` types the call as junk (POST .../call-type), which rejects the case
JUNK_TYPING = tuple(f"type:{t}" for t in ("prank", "ghost", "test", "misdial"))
STAFF_ACTIONS: dict[Status, tuple[str, ...]] = {
    S.RECEIVED: ("triaged", *JUNK_TYPING),
    S.TRIAGED: ("dispatched", "rejected:duplicate", *JUNK_TYPING),
    S.RESOLVED: ("closed",),
}


def case_actions(inc: Incident, *, staff: bool) -> list[str]:
    """Next case-level steps for this user: statuses to move to, plus
    ``assign`` (add an OPD) when OPDs can be given the case."""
    if not staff:
        return []
    cur = Status(inc.status)
    out = list(STAFF_ACTIONS.get(cur, ()))
    if cur in (S.RECEIVED, S.TRIAGED):
        out.append("merge")
    if inc.handoff and cur in (S.RECEIVED, S.TRIAGED) and not _active(inc):
        out.append("handoff")
    if cur in ASSIGNABLE:
        out.append("assign")
    return out


def assignment_actions(inc: Incident, a: Assignment, *, staff: bool, opd: str | None,
                       opd_steps: bool = True) -> list[str]:
    """Next steps on one OPD's part: the OPD's own steps for its user (staff
    may act for an OPD, a supervisor never: ``opd_steps``), and ``reroute``
    for staff."""
    if Status(inc.status) not in OPEN_FOR_OPD:
        return []
    out: list[str] = []
    if (staff and opd_steps) or opd == a.opd:
        out += [s.value for s in OPD_STEPS.get(AStatus(a.status), ())]
    if staff and a.status not in GONE and a.status != A.RESOLVED:
        out.append("reroute")
    return out
