"""What differs between the simulated modem families.

SIM800 (2G, most boxes) and SIM7600 / A7670 (4G, newer boxes) share the
3GPP 27.007/27.005 core; they differ in boot banners, identity strings,
vendor commands (``+CLTS`` vs ``+CTZU``), call URCs (SIM7600 prints
``VOICE CALL: BEGIN`` / ``VOICE CALL: END: hhmmss``) and spelling (SIM800
really prints ``UNDER-VOLTAGE WARNNING``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: the profiles of SIMCom parts and of other makers' modems


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
    driver: str = ""  # the driver profile to use with it (firmware.modem.PROFILES)
    end_report: str = "simcom"  # how a call end is reported: simcom | huawei | zte | none
    clcc_urc: bool = True  # accepts AT+CLCC=1 (call state URCs)
    cpin_ok: bool = True  # False: "+CPIN: READY" with no OK after it (Wavecom)


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
        only=frozenset({"+CLTS", "+CBC", "+SIMTONE", "+CREC"}),  # tone + recorder: audio self-test
        driver="sim800",
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
        driver="sim7600",
    ),
    # Other makers, as recorded from real parts: each differs where it matters here.
    "huawei": Profile(
        name="huawei", model="E173", revision="11.126.85.00.209", ati=("Manufacturer: huawei",),
        boot=("^SYSSTART",), voice_urcs=False, uv_warning="", uv_power_down="",
        only=frozenset(), driver="generic", end_report="huawei", clcc_urc=False,
    ),
    "zte": Profile(
        name="zte", model="MF190", revision="BD_MF190V1.0.0B03", ati=("Manufacturer: ZTE",),
        boot=("+ZSTART",), voice_urcs=False, uv_warning="", uv_power_down="",
        only=frozenset(), driver="generic", end_report="zte", clcc_urc=False,
    ),
    "phone": Profile(  # a handset as a modem: reports no call end at all
        name="phone", model="Nokia 6310i", revision="V 5.50", ati=("Nokia",),
        boot=(), voice_urcs=False, uv_warning="", uv_power_down="",
        only=frozenset(), driver="generic", end_report="none", clcc_urc=False,
    ),
    "wavecom": Profile(
        name="wavecom", model="MULTIBAND  900E  1800", revision="R7.46.0.201008311606",
        ati=("WAVECOM MODEM",), boot=("+WIND: 4",), voice_urcs=False, uv_warning="",
        uv_power_down="", only=frozenset(), driver="generic", cpin_ok=False,
    ),
}
