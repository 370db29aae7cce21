"""Login/logout (session cookie), the current user, tokens, users."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from gateway import auth
from gateway.api.deps import SESSION_COOKIE, AdminUser, CurrentUser, SessionDep, StateDep
from gateway.api.schemas import LoginRequest, TokenCreate, TokenPublic, UserCreate, UserPublic
from gateway.auth import AuthError

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/login", response_model=UserPublic, responses={401: {}, 429: {}, 503: {}},
             summary="Masuk / log in: sets the session cookie")
def login(body: LoginRequest, response: Response, gw: StateDep) -> UserPublic:
    wait = gw.throttle.retry_after(body.username)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            "Terlalu banyak percobaan / too many failed logins, try later",
                            headers={"Retry-After": str(int(wait) + 1)})
    # the slow password check holds no connection and no lock; the write lock is taken
    # just to store the session
    with gw.db.read_session() as s:
        user = auth.find_login(s, body.username)
    try:
        ok = auth.check_password(user, body.password)
    except auth.LoginBusy as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                            headers={"Retry-After": "2"}) from exc
    if not ok or user is None:
        gw.throttle.failed(body.username)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Nama atau sandi salah / wrong credentials")
    gw.throttle.succeeded(body.username)
    with gw.db.session() as s:
        auth.upgrade_hash(s, user, body.password)
        sid = auth.create_session(s, user, gw.cfg.gateway.http.session_hours)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict",
                        secure=gw.cfg.gateway.http.secure_cookies,
                        max_age=int(gw.cfg.gateway.http.session_hours * 3600))
    return UserPublic.model_validate(user)


@router.post("/auth/logout", status_code=204, summary="Keluar / log out")
def logout(request: Request, response: Response, session: SessionDep, gw: StateDep,
           _user: CurrentUser) -> None:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        auth.end_session(session, sid)
        gw.credentials.forget(sid)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/auth/me", response_model=UserPublic, summary="Who am I")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.post("/auth/tokens", response_model=TokenPublic, status_code=201,
             summary="New bearer token for the current user (shown once)")
def new_token(body: TokenCreate, session: SessionDep, user: CurrentUser) -> TokenPublic:
    return TokenPublic(token=auth.create_token(session, user, body.name), name=body.name)


@router.post("/users", response_model=UserPublic, status_code=201, responses={409: {}},
             summary="Create a user (admin)")
def create_user(body: UserCreate, session: SessionDep, gw: StateDep, _admin: AdminUser) -> UserPublic:
    if body.opd is not None and gw.cfg.opd(body.opd) is None:
        raise HTTPException(422, f"OPD tidak dikenal / unknown OPD {body.opd!r}")
    try:
        user = auth.create_user(session, body.username, body.password, body.role, opd=body.opd)
    except AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    return UserPublic.model_validate(user)
