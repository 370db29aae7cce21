"""Dependencies shared by the routers: state, database session, current user."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gateway import auth
from gateway.auth import Role
from gateway.config.models import SiteConfig
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
    #: extra readiness checks (e.g. "mqtt": ingest.connected.is_set)
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    #: the roles this instance holds now (gateway.roles), for /readyz
    roles: Callable[[], list[str]] | None = None
    #: wrong-password counter per user name (429 after too many)
    throttle: auth.LoginThrottle = field(default_factory=auth.LoginThrottle)


def get_state(request: Request) -> AppState:
    return request.app.state.gw


def get_session(request: Request) -> Iterator[Session]:
    with get_state(request).db.session() as s:
        yield s


StateDep = Annotated[AppState, Depends(get_state)]
# scope="function": commit before the response is sent, so a client that acts
# on a 201 (or 200) always finds its write (PostgreSQL has no lock to queue on)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False,
                     description="API token (POST /api/auth/tokens or `siaga gateway create-user --token`)")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Browser session")


def current_user(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    user = None
    if bearer is not None and bearer.credentials:
        user = auth.user_for_token(session, bearer.credentials)
    elif cookie:
        user = auth.user_for_session(session, cookie)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "Perlu masuk / authentication required",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def short_lived_guard(*roles: Role) -> Callable[..., None]:
    """Auth for routers that open their own database sessions (the fleet
    API): the user is checked in a session closed before the handler runs,
    so the handler never waits on this request's own write lock."""
    allowed = {r.value for r in roles}

    def dep(request: Request,
            bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
            cookie: Annotated[str | None, Depends(_cookie)]) -> None:
        role = None
        with get_state(request).db.session() as s:
            user = None
            if bearer is not None and bearer.credentials:
                user = auth.user_for_token(s, bearer.credentials)
            elif cookie:
                user = auth.user_for_session(s, cookie)
            if user is not None:
                role = user.role
        if role is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Perlu masuk / authentication required",
                                headers={"WWW-Authenticate": "Bearer"})
        if role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"Tidak diizinkan / role {role} may not do this")

    return dep


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
SupervisorUser = Annotated[User, Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR))]
