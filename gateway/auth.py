"""Users, argon2 password hashes, bearer tokens and browser sessions.

Tokens and session ids are random (256 bits) and only their SHA-256 is
stored, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import threading
import time
from collections import deque
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.errors import GatewayError
from gateway.store.models import ApiToken, User, WebSession

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    OPD = "opd"
    ADMIN = "admin"
    #: the mayor (and the mayor's staff): the dashboard and the monthly report, read only
    MAYOR = "mayor"


class AuthError(GatewayError, PermissionError):
    """Bad credentials or an unusable user definition."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                opd: str | None = None) -> User:
    role = Role(role)
    if not USERNAME_RE.match(username):
        raise AuthError("nama pengguna tidak valid / invalid username (a-z, 0-9, . _ -)")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"kata sandi terlalu pendek / password shorter than {MIN_PASSWORD}")
    if (role is Role.OPD) != (opd is not None):
        raise AuthError("peran opd butuh --opd / the opd role needs an OPD, other roles none")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError(f"pengguna sudah ada / user {username!r} exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role.value, opd=opd,
                active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    return user


#: password checks at once per process: argon2 takes 64 MiB and a core's
#: tenth of a second each; 25 dashboards logging in together had taken the
#: gateway to ~1.5 GB. The rest wait their turn, at most LOGIN_WAIT_S.
HASH_SLOTS = threading.BoundedSemaphore(2)
LOGIN_WAIT_S = 15.0


class LoginBusy(AuthError):
    """Too many password checks waiting: the client should retry shortly."""


def find_login(session: Session, username: str) -> User | None:
    """The active user of this name, or None (a read; no password checked)."""
    user = session.scalar(select(User).where(User.username == username))
    return user if user is not None and user.active else None


def check_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s (False for no user, at the same cost:
    no user enumeration by timing). Holds no database connection: it waits
    for one of :data:`HASH_SLOTS` (raises :class:`LoginBusy` after
    :data:`LOGIN_WAIT_S`) and hashes."""
    if not HASH_SLOTS.acquire(timeout=LOGIN_WAIT_S):
        raise LoginBusy("server sibuk memeriksa sandi / busy checking passwords: try again")
    try:
        if user is None:
            _hasher.hash(password)
            return False
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return True
    finally:
        HASH_SLOTS.release()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None (:func:`find_login` and
    :func:`check_password` in one; the login route calls them apart so no
    connection is held while it hashes)."""
    user = find_login(session, username)
    return user if check_password(user, password) else None


def upgrade_hash(session: Session, user: User, password: str) -> None:
    """Store a fresh hash when argon2's parameters changed since it was made
    (rare: only then does a login hash under the write lock)."""
    if _hasher.check_needs_rehash(user.password_hash):
        session.execute(update(User).where(User.id == user.id).values(password_hash=_hasher.hash(password)))


def create_token(session: Session, user: User, name: str) -> str:
    """A new bearer token for ``user``; the plain value is shown once."""
    token = "sg_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), user_id=user.id, name=name[:100],
                         created_at=utcnow()))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def create_session(session: Session, user: User, hours: float) -> str:
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(token_hash=hash_token(sid), user_id=user.id, created_at=now,
                           expires_at=now + timedelta(hours=hours)))
    return sid


def user_for_session(session: Session, sid: str) -> User | None:
    """The active user of a live session: one query (every page request asks)."""
    return session.scalar(select(User).join(WebSession, WebSession.user_id == User.id).where(
        WebSession.token_hash == hash_token(sid), WebSession.expires_at >= utcnow(), User.active))


class CredentialCache:
    """Who a cookie or token is, for ``ttl_s`` seconds: twenty consoles
    re-reading the list on every pushed case asked the database who they are
    dozens of times a second (a sixth of a busy web process). A logout here
    is forgotten at once (:meth:`forget`); a logout or a disabled user on
    another process takes effect within ``ttl_s``. Only found users are kept
    (a flood of wrong tokens fills nothing), at most ``max_entries``."""

    def __init__(self, ttl_s: float = 1.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._known: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def get(self, credential: str) -> User | None:
        with self._lock:
            hit = self._known.get(hash_token(credential))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, credential: str, user: User) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._known) >= self.max_entries:
                self._known.clear()
            self._known[hash_token(credential)] = (time.monotonic() + self.ttl_s, user)

    def forget(self, credential: str) -> None:
        with self._lock:
            self._known.pop(hash_token(credential), None)


def end_session(session: Session, sid: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(sid)))


class LoginThrottle:
    """Slows password guessing: after ``max_failures`` wrong passwords for a
    user name within ``window_s``, logins for it answer 429 until the oldest
    failure leaves the window. In memory, per process: enough for one city."""

    def __init__(self, max_failures: int = 10, window_s: float = 600.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            q = self._fails.get(key)
            if not q:
                return 0.0
            while q and now - q[0] > self.window_s:
                q.popleft()
            if len(q) < self.max_failures:
                return 0.0
            return self.window_s - (now - q[0])

    def failed(self, key: str) -> None:
        with self._lock:
            if len(self._fails) > 10_000:
                self._fails.clear()
            self._fails.setdefault(key, deque(maxlen=self.max_failures)).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)
