"""Dependencies shared by the routers: state, database session, current user."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gateway import auth
from gateway.auth import Role
from gateway.config.models import SiteConfig
from gateway.events import Broadcaster
from gateway.kpi_snapshot import SnapshotCache
from gateway.list_cache import ListCache
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import User

SESSION_COOKIE = "siaga_session"


@dataclass
class AppState:
    """What the app needs, passed in explicitly by ``create_app``."""

    cfg: SiteConfig
    db: Database
    metrics: Metrics
    #: set when new outbox rows exist, so the dispatcher does not wait for its poll
    wake: threading.Event = field(default_factory=threading.Event)
    #: live case changes for the consoles (server-sent events)
    events: Broadcaster = field(default_factory=Broadcaster)
    #: set when a number is flagged or lifted, so the panels get the list at once
    flags_changed: threading.Event = field(default_factory=threading.Event)
    #: extra readiness checks (e.g. "mqtt": ingest.connected.is_set)
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    #: the roles this instance holds now (gateway.roles), for /readyz
    roles: Callable[[], list[str]] | None = None
    #: a dashboard computation refreshes the changed KPI days after it (off in a
    #: web process: its write would hold SQLite's lock against the intake process,
    #: whose ``rollups`` role refreshes them instead)
    rollups_on_read: bool = True
    #: who a cookie or token is, for a second (gateway.auth.CredentialCache)
    credentials: auth.CredentialCache = field(default_factory=auth.CredentialCache)
    #: wrong-password counter per user name (429 after too many)
    throttle: auth.LoginThrottle = field(default_factory=auth.LoginThrottle)
    #: the KPI snapshots all dashboards share (``gateway.kpi_snapshot_s``)
    kpis: SnapshotCache[Any] = field(init=False)
    #: the dashboard's boards by period, shared the same way
    boards: SnapshotCache[Any] = field(init=False)
    #: case lists all consoles share (``gateway.list_cache_s``)
    lists: ListCache = field(init=False)

    def __post_init__(self) -> None:
        self.kpis = SnapshotCache(self.cfg.gateway.kpi_snapshot_s)
        self.boards = SnapshotCache(self.cfg.gateway.kpi_snapshot_s)
        reads = self.metrics.list_reads
        self.lists = ListCache(self.cfg.gateway.list_cache_s, lambda: self.db.generation,
                               on_answer=lambda computed: reads.labels(
                                   how="computed" if computed else "shared").inc())


def get_state(request: Request) -> AppState:
    return request.app.state.gw


#: methods that only read: their requests never take the write lock
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """A read-only session for GET (and HEAD), a writing one otherwise: a
    dashboard or console poll never holds or waits for the write lock, so
    the ingest's commits never queue behind it."""
    db = get_state(request).db
    with db.read_session() if request.method in READ_METHODS else db.session() as s:
        yield s


StateDep = Annotated[AppState, Depends(get_state)]
# scope="function": commit before the response is sent, so a client that acts
# on a 201 (or 200) always finds its write (PostgreSQL has no lock to queue on)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False,
                     description="API token (POST /api/auth/tokens or `siaga gateway create-user --token`)")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Browser session")


def current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """The caller, looked up in a short read-only session of its own: checking
    credentials writes nothing and holds no lock while the handler runs (so
    routers that open their own sessions, like the fleet API, can use it)."""
    gw = get_state(request)
    token = bearer.credentials if bearer is not None and bearer.credentials else None
    credential = token or cookie
    user = gw.credentials.get(credential) if credential else None
    if user is None and credential:
        with gw.db.read_session() as s:
            user = auth.user_for_token(s, credential) if token else auth.user_for_session(s, credential)
        if user is not None:
            gw.credentials.put(credential, user)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "Perlu masuk / authentication required",
                            headers={"WWW-Authenticate": "Bearer"})
    if user.role == Role.MAYOR and not _mayor_may(request.method, request.url.path):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "Peran wali kota hanya membaca dasbor dan rapor / the mayor role only "
                            "reads the dashboard and the reports")
    return user


#: what the read-only ``mayor`` role may call besides its own session (an
#: allowlist: no case, caller number or device data, nothing that writes)
MAYOR_PATHS = ("/api/kpis", "/api/dashboard", "/api/reports/", "/api/opds", "/api/auth/me")


def _mayor_may(method: str, path: str) -> bool:
    if path == "/api/auth/logout":
        return method == "POST"
    return method in READ_METHODS and any(path == p or path.startswith(p.rstrip("/") + "/")
                                          for p in MAYOR_PATHS)


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role) -> Callable[[User], User]:
    allowed = {r.value for r in roles}

    def dep(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"Tidak diizinkan / role {user.role} may not do this")
        return user

    return dep


STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
StaffUser = Annotated[User, Depends(require(*STAFF))]
AdminUser = Annotated[User, Depends(require(Role.ADMIN))]
#: supervisors (and admins), not operators: KPIs, declines judged, flags lifted
SupervisorUser = Annotated[User, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
#: who reads the dashboard and the monthly report: supervisors, admins and the mayor
ReportUser = Annotated[User, Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.MAYOR))]
