"""A province gateway's table of the cities' units (``gateway.province``).

Why not ``devices``: that is a city's fleet registry (credentials, desired
config, commands, keyed by device id alone). A province manages no unit; it
only sees them through its cities' bridges, and two cities may each have a
``box-01``. So each (city, device) seen is a row here. Migration:
``0005_province``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base, UTCDateTime


class CityDevice(Base):
    """A unit seen through a city's bridge (accepted because the city's broker
    authenticated it: docs/deploy-scale.md, A province)."""

    __tablename__ = "city_devices"

    city: Mapped[str] = mapped_column(String(63), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
