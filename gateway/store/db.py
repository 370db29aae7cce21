"""Engine and sessions for SQLite (default) and PostgreSQL.

Two kinds of transaction. ``Database.session()`` may write: on SQLite it
starts with ``BEGIN IMMEDIATE`` (pysqlite's deferred BEGIN lets two threads
both read and then fail to upgrade to the write lock, SQLITE_BUSY without
waiting; IMMEDIATE makes them queue on ``busy_timeout`` instead).
``Database.read_session()`` only reads: on SQLite a deferred ``BEGIN`` on a
second, ``query_only`` engine, so in WAL mode a reader sees a snapshot and
never holds or waits for the write lock; on PostgreSQL a ``REPEATABLE READ,
READ ONLY`` transaction (one snapshot too, and no row locks). Readers
therefore never delay the ingest's commits.

SQLite is opened in WAL mode with ``synchronous=FULL`` (an acked incident
survives a power cut). Transactions are kept short (never around I/O). A
gateway (``Database(url, background_checkpoints=True)``) also takes WAL
checkpoints out of its commits and lets the intake's transactions go first
(gateway.store.wal).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.wal import Checkpointer, WriteLock

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_setup(engine: Engine, *, readonly: bool = False, autocheckpoint: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if readonly:  # a write by mistake fails at once instead of taking the lock
            cur.execute("PRAGMA query_only=ON")
        if not autocheckpoint:  # gateway.store.wal.Checkpointer does it, off the commit path
            cur.execute("PRAGMA wal_autocheckpoint=0")
        # after a burst made the WAL file big, the next reset shrinks it again
        cur.execute("PRAGMA journal_size_limit=67108864")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def database_url(url: str | URL) -> URL:
    """``url`` parsed, with ``postgresql://`` meaning psycopg 3 (the driver we
    ship). Kept as a :class:`URL` object from here on: ``str(URL)`` masks the
    password as ``***`` in SQLAlchemy 2, so a string round trip would log in
    with the wrong password."""
    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u


def safe_url(url: str | URL) -> str:
    """``url`` for a log line or an error message: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def make_engine(url: str | URL, *, readonly: bool = False, autocheckpoint: bool = True) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when missing.
    ``readonly`` (SQLite): deferred, ``query_only`` transactions for readers;
    ``autocheckpoint=False``: its commits never run a WAL checkpoint."""
    u = database_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        size = 16 if readonly else 8  # readers do not queue on each other
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=size, max_overflow=size)
        _sqlite_setup(engine, readonly=readonly, autocheckpoint=autocheckpoint)
        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=8, max_overflow=8)


def table(model: Any) -> Table:
    """A mapped class's table, for Core statements (typed as a Table)."""
    return cast(Table, model.__table__)


def _read_only(_session: Session, _transaction: Any, connection: Any) -> None:
    """A PostgreSQL read session's first statement, when it first needs a
    connection (not when it opens: a request waiting for another's shared
    answer holds none of the pool's connections): one snapshot for all its
    queries, as on SQLite (a read-only transaction never fails to serialize)."""
    connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def _watch_writes(engine: Engine) -> None:
    """Mark a connection whose statements changed a row (read at the
    session's commit, ``Database._committed``). Counted at the cursor: a
    claim that matched no row (an idle dispatcher's poll) or a transaction
    that only read moves nothing."""
    @event.listens_for(engine, "after_cursor_execute")
    def _executed(conn: Any, cursor: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip()[:6].upper() in _WRITES and cursor.rowcount != 0:
            conn.info["siaga_wrote"] = True


def _on_begin(session: Session, _transaction: Any, connection: Any) -> None:
    connection.info.pop("siaga_wrote", None)
    session.info["siaga_conn"] = connection


@contextmanager
def invalidated_on_error(conn: Any) -> Iterator[None]:
    """Close ``conn`` (a SQLAlchemy Connection) for good if the block raises:
    a psycopg pipeline that aborted can leave it unusable (INERROR), and
    handed back to the pool the next transaction would inherit it."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            conn.invalidate()
        raise


class Database:
    """An engine plus a session factory; ``db.session()`` is one writing
    transaction, ``db.read_session()`` one read-only transaction.

    On SQLite, writing transactions of this process also queue on a Python lock:
    SQLite's busy handler polls with sleeps of up to 100 ms, which under
    contention (ingest, dispatcher, API) added hundreds of milliseconds to
    publish-to-webhook latency; a lock hands over at once. Other processes
    on the same file still meet ``busy_timeout``. ``session(urgent=True)``
    (the intake) goes before every other waiter (gateway.store.wal.WriteLock).

    ``background_checkpoints`` (a file-backed SQLite of a running gateway):
    commits never run a WAL checkpoint; a thread does, passively
    (gateway.store.wal.Checkpointer). Short-lived tools leave it off and
    keep SQLite's automatic checkpoints.
    """

    def __init__(self, url: str | URL, *, background_checkpoints: bool = False) -> None:
        self.url = database_url(url)
        sqlite = self.url.get_backend_name() == "sqlite"
        memory = sqlite and self.url.database in (None, "", ":memory:")
        background = background_checkpoints and sqlite and not memory
        self.engine = make_engine(url, autocheckpoint=not background)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # the file lock beside the database: this file's writers in other processes take turns
        self._lock = (WriteLock(f"{self.url.database}-writer.lock" if not memory else None)
                      if sqlite else None)
        self.checkpointer: Checkpointer | None = None
        if background:
            assert self.url.database
            self.checkpointer = Checkpointer(self.url.database)
            self.checkpointer.start()
        # SQLite: readers get their own engine (deferred BEGIN, query_only); an
        # in-memory database is private to its connection, so it reads through
        # the one engine there
        self.read_engine = make_engine(url, readonly=True) if sqlite and not memory else self.engine
        self._read_factory = sessionmaker(self.read_engine, expire_on_commit=False)
        if self.read_engine.dialect.name == "postgresql":
            event.listen(self._read_factory, "after_begin", _read_only)
        #: moves on every commit of this process that changed a row (shared
        #: caches such as gateway.list_cache drop what they computed before it);
        #: a commit that only read (an idle worker's poll) leaves it alone
        self.generation = 0
        self._generation_lock = threading.Lock()
        _watch_writes(self.engine)
        event.listen(self._factory, "after_begin", _on_begin)
        event.listen(self._factory, "after_commit", self._committed)
        event.listen(self._factory, "after_rollback", lambda s: s.info.pop("siaga_conn", None))

    def _committed(self, session: Session) -> None:
        conn = session.info.pop("siaga_conn", None)
        if conn is not None and conn.info.pop("siaga_wrote", False):
            self._bump()

    def changed_elsewhere(self) -> None:
        """Another process committed (``gateway.event_feed``): what this one
        shares (case lists) is older than the database now."""
        self._bump()

    def _bump(self) -> None:
        with self._generation_lock:
            self.generation += 1
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    @contextmanager
    def session(self, *, urgent: bool = False) -> Iterator[Session]:
        """A session committed on success and rolled back on error;
        ``urgent`` (the intake, a unit waits for its Ack) is served before
        every other writer waiting for the write lock."""
        if self._lock is None:
            with self._factory() as s, s.begin():
                yield s
            return
        if not self._lock.acquire(urgent=urgent, timeout=60):
            raise TimeoutError("database busy for 60 s")
        try:
            with self._factory() as s, s.begin():
                yield s
        finally:
            self._lock.release()

    @contextmanager
    def pipeline(self, s: Session, *, enabled: bool = True) -> Iterator[None]:
        """On PostgreSQL, the statements run in it and the transaction's
        COMMIT go to the server in one round trip (psycopg's pipeline mode):
        each round trip is two context switches, which on a crowded machine
        cost more than the statements (bench/surge.py). Nothing run in it may
        read a result. An error surfaces at the commit (as the same SQLAlchemy
        exception); the session then rolls back as usual. Elsewhere, or not
        ``enabled``, it changes nothing: the session commits as it ends.

        The connection leaves pipeline mode before the session hands it back
        to the pool: committing through the session inside the block handed
        it back first, and another thread (the dispatcher) took it while this
        one was still ending the pipeline on it ("connection not in pipeline
        mode" at its checkout, seen in bench/surge.py)."""
        if not enabled or self.engine.dialect.name != "postgresql":
            yield
            return
        import psycopg

        conn = s.connection()
        raw = conn.connection.driver_connection
        assert raw is not None
        with invalidated_on_error(conn):
            with raw.pipeline():
                yield
                s.flush()  # the ORM's pending writes go in the same round trip
                try:
                    raw.commit()  # the server's COMMIT; the session's is then a no-op
                except psycopg.Error as exc:
                    raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error,
                                              dialect=self.engine.dialect) from exc
            s.commit()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction, rolled back at the end: it never takes
        (or waits for) the write lock, so it never delays a writer. Writing
        in it fails (SQLite ``query_only``, PostgreSQL ``READ ONLY``)."""
        if self.read_engine is self.engine and self._lock is not None:  # SQLite in memory
            with self.session() as s:
                yield s
            return
        with self._read_factory() as s:  # closing rolls the transaction back
            yield s

    def new_session(self) -> Session:
        return self._factory()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to re-run)."""
        upgrade(self.engine)

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()
        self.read_engine.dispose()
        if self._lock is not None:
            self._lock.close()


def alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # ConfigParser interpolates "%": an escaped password or socket path
        # (%40, %2F) must be doubled, or Alembic fails on "invalid interpolation"
        full = engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", full.replace("%", "%%"))
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    if revision == "head":
        from gateway.kpi_rollup import build_after_migration

        build_after_migration(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
