"""A province gateway's cities: what each one has sent up through its bridge.

Why its own endpoint: the province's staff first want to know, per city,
how many cases came in and when the last one did (a city whose bridge has
been quiet for hours is worth a phone call); the cases themselves are in
``GET /api/incidents?city=<slug>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from gateway.api.deps import ReportUser, SessionDep, StateDep
from gateway.api.routers.incidents import ERR
from gateway.store.models import Call, Incident
from gateway.store.models_province import CityDevice

router = APIRouter(prefix="/api", tags=["province"])


class CityCount(BaseModel):
    slug: str
    name: str
    incidents: int = Field(description="Cases received from the city (in the period, when given)")
    calls: int = Field(description="Call records received from the city (in the period, when given)")
    units: int = Field(description="Units of the city seen through its bridge, ever")
    last_received_at: datetime | None = Field(description="When its latest case or call arrived here")


class ProvinceView(BaseModel):
    name: str
    dispatch: bool = Field(description="Whether this province routes and dispatches the cities' cases")
    cities: list[CityCount]


@router.get("/province", response_model=ProvinceView, responses=ERR,
            summary="A province gateway: cases and units per city")
def province(session: SessionDep, gw: StateDep, _user: ReportUser,
             since: Annotated[datetime | None, Query(description="Count from this time")] = None,
             until: Annotated[datetime | None, Query(description="Count before this time")] = None,
             ) -> ProvinceView:
    prov = gw.cfg.province
    if prov is None:
        raise HTTPException(404, "Bukan gateway provinsi / not a province gateway")

    def per_city(model: type[Incident] | type[Call]) -> dict[str, tuple[int, datetime | None]]:
        q = select(model.city, func.count(), func.max(model.received_at)).where(model.city.is_not(None))
        if since is not None:
            q = q.where(model.received_at >= since)
        if until is not None:
            q = q.where(model.received_at < until)
        return {str(c): (n, at) for c, n, at in session.execute(q.group_by(model.city))}

    inc, calls = per_city(Incident), per_city(Call)
    units = dict(session.execute(select(CityDevice.city, func.count()).group_by(CityDevice.city)).all())
    out = []
    for c in prov.cities:
        times = [t for t in (inc.get(c.slug, (0, None))[1], calls.get(c.slug, (0, None))[1]) if t]
        out.append(CityCount(slug=c.slug, name=c.name, incidents=inc.get(c.slug, (0, None))[0],
                             calls=calls.get(c.slug, (0, None))[0], units=units.get(c.slug, 0),
                             last_received_at=max(times) if times else None))
    return ProvinceView(name=gw.cfg.site.name, dispatch=prov.dispatch, cities=out)
