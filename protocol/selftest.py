"""Self-test results (contract revision 3): the ``self_test`` command's reply
and the summary every heartbeat repeats.

Why a schema for a free-form reply: central names the failed parts on the
fleet page and opens the ``self_test_failed`` episode from it, and a client
written from docs/protocol.md must know which keys to read. ``checks`` maps a
check name (``led_recorded``, ``buzzer``, ``button_medical``, ``load_sense``,
``modem``, ``sim``, ``registration``, ``signal``, ``speaker``,
``microphone``, ``storage``, ``clock``) to its verdict: ``ok`` true (passed),
false (failed: the part is named in ``failed``) or null (not checkable on
this unit: no modem fitted, a modem profile without the audio loop, a board
without the load-sense line).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from protocol.base import ShortText, Wire, WireTime

CheckName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,48}$")]


class SelfTestTrigger(enum.StrEnum):
    DAILY = "daily"  # the unit's own schedule (``self_test_daily_at``)
    COMMAND = "command"  # a ``self_test`` command from central
    UPDATE = "update"  # the health check after a software update


class SelfTestCheck(Wire):
    ok: bool | None = Field(description="true passed, false failed, null not checkable here")
    detail: ShortText | None = None


class SelfTestSummary(Wire):
    """The unit's last self-test, repeated in every heartbeat (``Telemetry.self_test``)
    so a passing daily result reaches central too, not only failures."""

    at: WireTime
    ok: bool
    trigger: SelfTestTrigger = SelfTestTrigger.COMMAND
    failed: list[CheckName] = Field(default_factory=list, max_length=32,
                                    description="Names of the failed checks (empty when ok)")


class SelfTestReport(Wire):
    """``CommandResult.result`` of ``self_test`` (and of the daily run, in the unit's log).
    The keys beside these (``modem``, ``outputs``, ``audio``, ``storage_free_mb``,
    ``outbox_depth``...) are measurements for people, not part of the contract."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    at: WireTime | None = None
    trigger: SelfTestTrigger | None = None
    checks: dict[CheckName, SelfTestCheck] = Field(default_factory=dict, max_length=64)
    failed: list[CheckName] = Field(default_factory=list, max_length=64)

    def summary(self) -> SelfTestSummary | None:
        if self.at is None:
            return None
        return SelfTestSummary(at=self.at, ok=self.ok, trigger=self.trigger or SelfTestTrigger.COMMAND,
                               failed=self.failed[:32])


def report_from(result: dict[str, Any]) -> SelfTestReport | None:
    """A self-test reply read as a report, or None when it is not one
    (a unit older than revision 3 replies without ``checks``)."""
    if "checks" not in result:
        return None
    try:
        return SelfTestReport.model_validate(result)
    except ValueError:
        return None
