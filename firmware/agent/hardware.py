"""Buttons, LEDs, buzzer and the field board's sense inputs, via gpiozero.

Why a class of its own: the rest of the agent speaks in button names and
feedback words ("recorded", "delivered"); only this module knows pins. The
buttons are one gpiozero ``ButtonBoard`` and the LEDs one ``LEDBoard`` (named
children, closed together, the LEDs cycled as one in the self-test).
gpiozero is imported here, lazily, and every callback only enqueues
``Press(name)`` (gpiozero #1024: never work inside a pin callback).
``GPIOZERO_PIN_FACTORY=mock`` runs it anywhere.

Sense inputs (pull-up, switch to ground = active): ``door_tamper`` is a
normally-closed door switch (fault when *inactive*, the door is open),
``mains_ok`` is pulled low while mains is present (fault ``mains_lost`` when
inactive), ``battery_low`` is pulled low by the charger (fault when active).
``load_sense`` (field board) is pulled low by a comparator while any LED or
the buzzer draws current: the self-test's proof that a part really lit
(firmware/agent/selftest.py); under the mock pin factory a board model
(firmware/sim/board.py) drives it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from firmware.agent.config import UnitConfig
from firmware.agent.events import Press
from protocol.fleet import Profile

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.events import EventQueue

log = logging.getLogger(__name__)

_SENSE = ("door_tamper", "mains_ok", "battery_low")

#: how long the fault LED flashes fast after a press could not be stored
REFUSED_SHOW_S = 10.0


def _board_model(pins: dict[str, int]) -> Any:
    """The field board's sense-line model (firmware/sim/board.py) under
    gpiozero's mock pins; None on real GPIO, where neither it nor gpiozero's
    mock pin module is imported."""
    from gpiozero import Device

    Device.ensure_pin_factory()
    mock = sys.modules.get("gpiozero.pins.mock")  # loaded when the factory is a MockFactory
    if mock is None or not isinstance(Device.pin_factory, mock.MockFactory):
        return None
    from firmware.sim.board import attach

    return attach(pins)


class Hardware:
    """The GPIO side of one unit."""

    def __init__(self, cfg: UnitConfig, events: EventQueue) -> None:
        from gpiozero import ButtonBoard, Buzzer, DigitalInputDevice, LEDBoard

        self.cfg = cfg
        self.events = events
        self.volume = cfg.volume
        self.inputs: dict[str, Any] = {}
        self.buzzer: Any = None
        self.pins = cfg.pin_map()
        self.board = _board_model(self.pins)
        t = cfg.timings
        buttons = {r.removeprefix("button_"): p for r, p in self.pins.items() if r.startswith("button_")}
        leds = {r.removeprefix("led_"): p for r, p in self.pins.items() if r.startswith("led_")}
        # one board per kind: every button shares pull-up, debounce and hold time
        deliberate = cfg.profile is Profile.FIELD and t.hold_s > 0
        self.button_board: Any = ButtonBoard(
            pull_up=True, bounce_time=t.bounce_s, hold_time=t.hold_s if deliberate else 1.0,
            **buttons) if buttons else None
        self.led_board: Any = LEDBoard(pwm=False, **leds) if leds else None
        #: name -> the board's own Button / LED (the sim control drives their mock pins)
        self.buttons: dict[str, Any] = _named(self.button_board)
        self.leds: dict[str, Any] = _named(self.led_board)
        for name, b in self.buttons.items():
            if deliberate:
                b.when_held = self._enqueue(name)
            else:
                b.when_pressed = self._enqueue(name)
        for role, pin in self.pins.items():
            if role == "buzzer":
                self.buzzer = Buzzer(pin)
            elif role in _SENSE:
                self.inputs[role] = DigitalInputDevice(pin, pull_up=True, bounce_time=t.bounce_s)
            elif role == "load_sense":  # no bounce time: the self-test reads it right after a switch
                self.inputs[role] = DigitalInputDevice(pin, pull_up=True)
        self._stuck_reported: set[str] = set()
        self._fault_mode = ""

    def _enqueue(self, name: str) -> Any:
        def cb(*_args: Any) -> None:
            self.events.put(Press(name))
        return cb

    # -- feedback ---------------------------------------------------------

    def led(self, name: str, on: bool) -> None:
        dev = self.leds.get(name)
        if dev is not None:
            dev.on() if on else dev.off()

    def blink(self, name: str, on_s: float = 0.5, off_s: float = 0.5) -> None:
        dev = self.leds.get(name)
        if dev is not None:
            dev.blink(on_time=on_s, off_time=off_s, background=True)

    def fault_led(self, mode: str) -> None:
        """``off``, ``on`` (a fault), ``flash`` (a press could not be stored).
        Changed only when the mode changes, so a blink is not restarted."""
        if mode == self._fault_mode:
            return
        self._fault_mode = mode
        if mode == "flash":
            self.blink("fault", 0.1, 0.1)
        else:
            self.led("fault", mode == "on")

    def beep(self, n: int = 1, *, on_s: float = 0.1, off_s: float = 0.1) -> None:
        if self.buzzer is not None and self.volume > 0:
            self.buzzer.blink(on_time=on_s, off_time=off_s, n=n, background=True)

    def ring(self, on: bool) -> None:
        """Panel: an incoming call rings the LED and (unless muted) the buzzer."""
        if on:
            self.blink("ring", 0.3, 0.3)
            if self.buzzer is not None and self.volume > 0:
                self.buzzer.blink(on_time=0.4, off_time=0.8, background=True)
        else:
            self.led("ring", False)
            if self.buzzer is not None:
                self.buzzer.off()

    def cycle_all(self) -> dict[str, bool]:
        """Self-test: switch the LEDs (all at once, as a board) and the buzzer on
        and off; report each one's read-back state (a mock pin or a real GPIO
        output reads back)."""
        out: dict[str, bool] = {}
        board = self.led_board
        if board is not None:
            names = board.namedtuple._fields
            was = board.value
            board.on()
            on_ok = board.value
            board.off()
            off_ok = board.value
            for name, w, on, off in zip(names, was, on_ok, off_ok, strict=True):
                out[f"led_{name}"] = bool(on) and not bool(off)
                if w:
                    getattr(board, name).on()
        devices = {"buzzer": self.buzzer} if self.buzzer is not None else {}
        for name, dev in devices.items():
            was = bool(dev.value)
            dev.on()
            on_ok = bool(dev.value)
            dev.off()
            off_ok = not bool(dev.value)
            if was:
                dev.on()
            out[name] = on_ok and off_ok
        return out

    # -- inputs -----------------------------------------------------------

    def faults(self, stuck_after_s: float) -> list[str]:
        """Faults from the pins: stuck buttons and the field board's inputs."""
        out = []
        for name, b in self.buttons.items():
            held = b.active_time if b.is_pressed else None
            if held is not None and held >= stuck_after_s:
                out.append(f"stuck_button:{name}")
                if name not in self._stuck_reported:
                    self._stuck_reported.add(name)
                    log.warning("Tombol macet / stuck button %s (%.0fs)", name, held)
            else:
                self._stuck_reported.discard(name)
        sense = self.inputs
        if "door_tamper" in sense and not sense["door_tamper"].is_active:
            out.append("door_tamper")
        if "mains_ok" in sense and not sense["mains_ok"].is_active:
            out.append("mains_lost")
        if "battery_low" in sense and sense["battery_low"].is_active:
            out.append("battery_low")
        return out

    def close(self) -> None:
        for dev in [self.button_board, self.led_board, *self.inputs.values(), self.buzzer]:
            if dev is not None:
                # closing on shutdown must not mask why we are shutting down
                with contextlib.suppress(Exception):
                    dev.close()


def _named(board: Any) -> dict[str, Any]:
    """A composite device's children by name (``ButtonBoard(fire=17).fire``)."""
    if board is None:
        return {}
    return dict(zip(board.namedtuple._fields, board, strict=True))
