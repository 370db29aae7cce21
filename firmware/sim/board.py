"""The field board's load-sense line, modelled on gpiozero's mock pins.

Why: on the real carrier board every LED and the buzzer return to ground
through one sense resistor, and a comparator pulls ``load_sense`` low while
any of them draws current (docs/hardware.md). A mock output pin reads back
whatever was written, so without this model the self-test could never see
a dead part. ``dead`` names the output roles whose part is broken (an open
LED, a burnt buzzer, a dead driver transistor): switching them on draws no
current and the sense line stays high; ``stuck`` holds the sense line low
(a shorted driver). Attached by the agent only under the mock pin factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

#: roles whose current the sense resistor carries
SENSED_PREFIXES = ("led_", "buzzer")


class _LoadPin(MockPin):
    """An output pin whose load current the board's sense line sees."""

    def __init__(self, factory: Any, info: Any, board: MockBoard | None = None, role: str = "") -> None:
        super().__init__(factory, info)
        self.board = board
        self.role = role

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and self.board is not None and self._function == "output":
            self.board.update()
        return changed


class MockBoard:
    def __init__(self, factory: MockFactory, pins: Mapping[str, int]) -> None:
        self.dead: set[str] = set()
        self._stuck = False
        self.loads: dict[str, _LoadPin] = {}
        for role, n in pins.items():
            if role.startswith(SENSED_PREFIXES):
                pin = factory.pin(n, pin_class=_LoadPin, board=self, role=role)
                if isinstance(pin, _LoadPin):  # (a restarted agent on the same factory: rebind)
                    pin.board, pin.role = self, role
                    self.loads[role] = pin
        self.sense: MockPin = factory.pin(pins["load_sense"])

    def drawing(self) -> list[str]:
        """Roles that are on and draw current now."""
        return [r for r, p in self.loads.items() if p.state and p.function == "output" and r not in self.dead]

    def update(self) -> None:
        if self.sense.function != "input":
            return
        if self._stuck or self.drawing():
            self.sense.drive_low()
        else:
            self.sense.drive_high()

    @property
    def stuck(self) -> bool:
        return self._stuck

    @stuck.setter
    def stuck(self, value: bool) -> None:
        self._stuck = value
        self.update()

    def set_dead(self, role: str, dead: bool = True) -> None:
        if role not in self.loads:
            raise KeyError(role)
        (self.dead.add if dead else self.dead.discard)(role)
        self.update()


def attach(pins: Mapping[str, int]) -> MockBoard | None:
    """A board model when the pin factory is gpiozero's mock and the board
    has a load-sense line; None on real GPIO or a board without one."""
    from gpiozero import Device

    if "load_sense" not in pins:
        return None
    Device.ensure_pin_factory()
    factory = Device.pin_factory
    if not isinstance(factory, MockFactory):
        return None
    return MockBoard(factory, pins)
