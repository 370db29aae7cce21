"""A province gateway's section: the cities bridged to it (docs/deploy-scale.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from gateway.config.base import Strict
from protocol.topics import CITY_PATTERN


class ProvinceCity(Strict):
    """One city bridged to this province."""

    slug: Annotated[str, StringConstraints(pattern=CITY_PATTERN)] = Field(
        title="City name on the province broker",
        description="The `city` of that city broker's bridge (`siaga admin broker gen-config`): its "
                    "records arrive under siaga/v1/city/<slug>/dev/<device>/<kind>")
    name: str = Field(title="City name for people", max_length=100,
                      description="Shown on the pages next to each case, e.g. Kota Medan")


class ProvinceSettings(Strict):
    """This gateway is a province's: it takes in the cases its cities' brokers
    bridge up (docs/deploy-scale.md, A province). The cities ack their units
    and dispatch their OPDs; the province stores every case once, with its
    city, for its staff's pages, dashboard and reports."""

    cities: list[ProvinceCity] = Field(
        min_length=1, title="The cities bridged to this province",
        description="A record on a city topic whose city is not listed is rejected (counted as "
                    "unknown_city in /metrics, logged once), never stored")
    dispatch: bool = Field(
        False, title="Route and dispatch the cities' cases here too",
        description="false (the default): each case is stored as received, for the record; the city "
                    "dispatched it to its own OPDs, and the province sends nothing and runs no SLA "
                    "escalations. true: this site's routing rules and OPDs (e.g. a province BPBD) "
                    "apply to the cities' cases as they would to a city's own")
