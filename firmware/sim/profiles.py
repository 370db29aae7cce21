"""What differs between the simulated modem families.

SIM800 (2G, most boxes) and SIM7600 / A7670 (4G, newer boxes) share the
3GPP 27.007/27.005 core; they differ in boot banners, identity strings,
vendor commands (``+CLTS`` vs ``+CTZU``), call URCs (SIM7600 prints
``VOICE CALL: BEGIN`` / ``VOICE CALL: END: hhmmss``) and spelling (SIM800
really prints ``UNDER-VOLTAGE WARNNING``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    model: str
    revision: str
    ati: tuple[str, ...]
    boot: tuple[str, ...]
    voice_urcs: bool
    uv_warning: str
    uv_power_down: str
    only: frozenset[str]  # commands only this profile knows


PROFILES = {
    "sim800": Profile(
        name="sim800",
        model="SIMCOM_SIM800L",
        revision="Revision:1418B05SIM800L24",
        ati=("SIM800 R14.18",),
        boot=("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
        voice_urcs=False,
        uv_warning="UNDER-VOLTAGE WARNNING",
        uv_power_down="UNDER-VOLTAGE POWER DOWN",
        only=frozenset({"+CLTS", "+CBC"}),
    ),
    "sim7600": Profile(
        name="sim7600",
        model="SIMCOM_SIM7600G-H",
        revision="+CGMR: LE20B04SIM7600G22",
        ati=("Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600G-H",
             "Revision: LE20B04SIM7600G22", "+GCAP: +CGSM"),
        boot=("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"),
        voice_urcs=True,
        uv_warning="UNDER-VOLTAGE WARNING",
        uv_power_down="UNDER-VOLTAGE POWER DOWN",
        only=frozenset({"+CTZU", "+CTZR", "+CEREG", "+CBC"}),
    ),
}
