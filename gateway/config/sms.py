"""The centre's GSM modem (SMS intake from units and citizens, SMS to OPD phones)."""

from __future__ import annotations

from pydantic import Field

from gateway.config.base import Strict


class SmsModemSettings(Strict):
    """Where the centre's modem is and how it speaks."""

    url: str = Field(
        title="Modem port",
        description="Serial device (/dev/ttyUSB2) or pyserial URL (socket://host:port, e.g. a "
                    "modem of `siaga sim network`)",
    )
    profile: str = Field("sim800", title="Modem family (AT dialect)",
                         description="sim800, sim7600, huawei, zte, phone or wavecom")
    baudrate: int = Field(115200, ge=1200, le=4_000_000, title="Baud rate",
                          description="Serial speed (ignored for socket:// URLs)")
    command_timeout_s: float = Field(5.0, gt=0, le=60, title="AT command timeout, seconds",
                                     description="How long one AT command may take")
    watchdog_interval_s: float = Field(10.0, gt=0, le=600, title="Modem liveness probe period",
                                       description="Seconds between the driver's AT probes")
