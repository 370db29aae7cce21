"""Flagged numbers: repeat prank/ghost callers, as the ministry practises it.

A number is flagged after ``flags.calls`` junk calls (``flags.types``) within
``flags.window_days``. The first flag lasts ``flags.first_days``; any later
flag is permanent until a supervisor lifts it with a reason. A flag never
blocks a call: it is shown on the console and sent to the panels (retained
``FlagList``), which light their "flagged caller" LED while it rings.

Every function takes ``now`` (the injected clock): expiry is decided by the
caller's clock, so tests move days without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config.models import FlagSettings
from gateway.errors import IllegalTransition, NotFound
from gateway.store.models import Call, FlaggedNumber


def active_filter(now: datetime):
    return (FlaggedNumber.lifted_at.is_(None)
            & (FlaggedNumber.expires_at.is_(None) | (FlaggedNumber.expires_at > now)))


def active(session: Session, now: datetime) -> list[FlaggedNumber]:
    """Flags in force at ``now``, newest first."""
    return list(session.scalars(select(FlaggedNumber).where(active_filter(now))
                                .order_by(FlaggedNumber.pk.desc())))


def active_for(session: Session, number: str, now: datetime) -> FlaggedNumber | None:
    return session.scalar(select(FlaggedNumber).where(FlaggedNumber.number == number, active_filter(now))
                          .order_by(FlaggedNumber.pk.desc()).limit(1))


def evaluate(session: Session, cfg: FlagSettings, numbers: Iterable[str | None],
             now: datetime) -> list[FlaggedNumber]:
    """Flag each number that has reached the threshold; returns new flags.
    Calls before the number's last flag do not count again (a flag is one
    offence; the next one needs ``calls`` new junk calls)."""
    if not cfg.enabled:
        return []
    made = []
    types = [t.value for t in cfg.types]
    for number in {n for n in numbers if n}:
        if active_for(session, number, now) is not None:
            continue
        prior = list(session.scalars(select(FlaggedNumber).where(FlaggedNumber.number == number)
                                     .order_by(FlaggedNumber.pk)))
        q = select(func.count()).select_from(Call).where(
            Call.number == number, Call.call_type.in_(types),
            Call.received_at >= now - timedelta(days=cfg.window_days), Call.received_at <= now)
        if prior:  # the calls that made the last flag are spent
            q = q.where(Call.received_at > prior[-1].flagged_at)
        n = session.scalar(q) or 0
        if n < cfg.calls:
            continue
        offence = len(prior) + 1
        flag = FlaggedNumber(number=number, offence=offence, calls=n, flagged_at=now,
                             expires_at=now + timedelta(days=cfg.first_days) if offence == 1 else None)
        session.add(flag)
        made.append(flag)
    session.flush()
    return made


def lift(session: Session, number: str, *, by: str, reason: str, now: datetime) -> FlaggedNumber:
    """A supervisor lifts the number's flag; the reason is kept on the row."""
    if not reason.strip():
        raise IllegalTransition("Alasan wajib diisi / a reason is required")
    flag = active_for(session, number, now)
    if flag is None:
        raise NotFound(f"Nomor {number} tidak ditandai / number {number} is not flagged")
    flag.lifted_at, flag.lifted_by, flag.lift_reason = now, by, reason
    session.flush()
    return flag


def version(session: Session, now: datetime) -> int:
    """A number that only grows with every change of the active list: flags
    made + flags lifted + flags expired by ``now``."""
    made = session.scalar(select(func.count()).select_from(FlaggedNumber)) or 0
    lifted = session.scalar(select(func.count()).select_from(FlaggedNumber)
                            .where(FlaggedNumber.lifted_at.is_not(None))) or 0
    expired = session.scalar(select(func.count()).select_from(FlaggedNumber).where(
        FlaggedNumber.lifted_at.is_(None), FlaggedNumber.expires_at.is_not(None),
        FlaggedNumber.expires_at <= now)) or 0
    return made + lifted + expired
