"""The init sequence: required and optional steps, each outcome recorded.

Why a report and not just pass/fail: modems of other makers refuse a vendor
command, time out on an optional one, or (Wavecom) answer ``AT+CPIN?`` with
``+CPIN: READY`` and no ``OK``. Init carries on through all of that unless a
step the driver cannot work without fails, and the self-test shows what
happened at each step, so a field report names the quirk.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from firmware.modem.errors import ModemCommandError, ModemError, ModemTimeout
from firmware.modem.messaging import TEXT_CSMP

if TYPE_CHECKING:
    from firmware.modem.driver import Modem

log = logging.getLogger(__name__)

#: (command, required) run after every (re)start. Required: without it the box
#: cannot do its job (SMS text mode for sending); the rest only degrade.
INIT_COMMON = [
    ("ATE0", False),  # echo off (the reader also skips echoed commands)
    ("AT+CMEE=2", False),  # verbose errors: +CME ERROR: <text>
    ("AT+CLIP=1", False),  # caller id (else Ringing comes after clip_wait without a number)
    ("AT+CLCC=1", False),  # call state URCs (else CLCC polling alone tracks calls)
    ("AT+CMGF=1", True),  # SMS text mode, the send side's default
    ('AT+CSCS="IRA"', False),
    (TEXT_CSMP, False),
    ("AT+CSDH=1", False),  # text-mode +CMT with fo/dcs, to tell hex user data from text
    ("AT+CNMI=2,1,0,0,0", False),  # new SMS -> +CMTI, stored (else only the sweep finds them)
    ("AT+CREG=1", False),  # registration URCs (else the self-test's query only)
    ("AT+CGREG=1", False),
]
INIT_PROFILE = {
    "sim800": [("AT+CLTS=1", False)],  # network time -> *PSUTTZ
    "sim7600": [("AT+CTZU=1", False), ("AT+CTZR=1", False)],
    "generic": [],
}

#: queries that always answer with an info line: a missing OK after it is a quirk, not a failure
FINAL_GRACE = 0.5


def run(m: Modem) -> dict[str, str]:
    """Run the sequence on ``m``; returns ``{step: outcome}``.

    Outcomes: ``ok``, ``refused: <result>``, ``timeout``, ``ok (no final result code)``.
    Raises :class:`ModemError` only when a required step fails.
    """
    report: dict[str, str] = {}
    try:
        m.sync(attempts=3)
        report["AT"] = "ok"
    except ModemError:
        report["AT"] = "timeout"
        m.init_report = report
        raise
    for cmd, required in INIT_COMMON + INIT_PROFILE[m.profile]:
        try:
            m.at(cmd)
            report[cmd] = "ok"
        except ModemCommandError as exc:
            report[cmd] = f"refused: {exc.result}"
            if required:
                m.init_report = report
                raise ModemError(f"init failed at {cmd}: {exc.result}") from exc
            log.info("optional init step %s refused: %s", cmd, exc.result)
        except ModemTimeout:
            report[cmd] = "timeout"
            if required:
                m.init_report = report
                raise
            log.warning("optional init step %s timed out; carrying on", cmd)
    m.init_report = report
    return report


def quirks(report: dict[str, str]) -> list[str]:
    """What a self-test should name: every step that did not simply answer OK."""
    return [f"{cmd}: {outcome}" for cmd, outcome in report.items() if outcome != "ok"]
