"""Database access: the async SQLAlchemy engine, sessions, shared column types and migrations.

SQLite (WAL) by default, PostgreSQL when `SWITCHBOARD_DATABASE_URL` names it. On SQLite every
writing transaction starts with `BEGIN IMMEDIATE`, so concurrent writers queue on the lock
instead of failing halfway with "database is locked"; reading transactions begin deferred.

Request paths run a plain synchronous function over a `Connection` in one transaction with
`Database.run` / `Database.read`: on SQLite on the synchronous driver in a thread (one thread
hop for the whole transaction instead of several per statement through aiosqlite), writes on
the one writer thread that group-commits them (`app.sqlite_writer`), reads in a small pool;
elsewhere through the async engine's `run_sync`. The same function serves both. `sessions`
(async ORM) serve start-up work such as the knowledge-base sync.

A transaction that fails because the disk is full or the data is read-only raises
`StorageUnavailable` naming the database file (`app.storage`), and `storage` remembers the
problem for /readyz until `check_writable` or a later write succeeds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.ext.asyncio import (
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from app.errors import AppError
from app.sqlite_writer import GroupCommitWriter
from app.storage import StorageProblem, StorageUnavailable, StorageWatch, classify, probe_folder

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Integer ids that autoincrement on SQLite and are 64-bit on PostgreSQL.
BigId = BigInteger().with_variant(Integer, "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")


def json_dumps(value: Any) -> str:
    """JSON as stored: non-ASCII text kept as is, so searches over JSON columns match it."""
    return json.dumps(value, ensure_ascii=False)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use app.db.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every table."""

    # Every model maps a plain Table (SQLAlchemy types it as any FromClause, which insert(),
    # update() and delete() do not accept).
    __table__: ClassVar[Table]

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JsonType,
    }


P = ParamSpec("P")
T = TypeVar("T")

SQLITE_WORKER_THREADS = 4


def _configure_sqlite(engine: Engine, *, foreign_keys: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.storage = StorageWatch("the database")
        # What a storage problem names: the SQLite file (never the URL: it may hold a password).
        self.path: Path | None = None
        if self.is_sqlite:
            db_path = url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                self.path = Path(db_path)
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DataUnusable(self._problem(exc)) from exc
            self.engine = create_async_engine(
                url, connect_args={"timeout": 30}, hide_parameters=True, json_serializer=json_dumps
            )
            _configure_sqlite(self.engine.sync_engine)
            sync_url = self.engine.url.set(drivername="sqlite+pysqlite")
            self._sync_engine: Engine | None = create_engine(
                sync_url,
                connect_args={"timeout": 30},
                pool_size=SQLITE_WORKER_THREADS + 1,  # the readers and the writer
                hide_parameters=True,  # customer text never goes to logs with an error
                json_serializer=json_dumps,
            )
            _configure_sqlite(self._sync_engine)
            self._sync_engines = {
                False: self._sync_engine,
                True: self._sync_engine.execution_options(readonly=True),
            }
            self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
                SQLITE_WORKER_THREADS, thread_name_prefix="sqlite"
            )
            self.writer: GroupCommitWriter | None = GroupCommitWriter(self._sync_engine)
        else:
            self._sync_engine = None
            self._sync_engines = {}
            self._executor = None
            self.writer = None
            self.engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                hide_parameters=True,
                json_serializer=json_dumps,
            )
        self._engines = {False: self.engine, True: self.engine.execution_options(readonly=True)}
        self.sessions = async_sessionmaker(self._engines[False], expire_on_commit=False)

    def _problem(self, exc: BaseException) -> StorageProblem:
        problem = classify(exc, path=self._where)
        if problem is None:
            problem = StorageProblem("cannot_open", self._where, f"{type(exc).__name__}: {exc}")
        return problem

    @property
    def _where(self) -> str:
        return str(self.path) if self.path is not None else "the database server's storage"

    async def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (serialised across processes). A
        database file that cannot be opened or written raises `DataUnusable` naming it."""
        try:
            if self._sync_engine is not None:
                await asyncio.to_thread(_migrate_sqlite, self._sync_engine.url)
                return
            async with self.engine.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(7311)"))
                await conn.run_sync(_upgrade_to_head)
        except Exception as exc:
            problem = classify(exc, path=self._where)
            if problem is None:
                raise
            raise DataUnusable(problem) from exc

    async def check_writable(self) -> StorageProblem | None:
        """Whether the database can be written now (for /readyz): on SQLite a small file is
        written beside the database file; after a failed write, a real write transaction must
        also go through. Updates `storage`."""
        if self.path is not None:
            problem = await asyncio.to_thread(probe_folder, self.path.parent)
            if problem is not None:
                self.storage.failed(problem)
                return problem
        if self.storage.problem is not None:
            try:
                await self.run(_touch)
            except StorageUnavailable as exc:
                return exc.problem
            except Exception:  # busy or unreachable: nothing learnt about the storage
                return self.storage.problem
        return None

    async def run(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `fn(connection, ...)` in one writing transaction: committed if it returns, rolled
        back if it raises. On SQLite it runs on the writer thread, committed together with the
        writes that queued meanwhile (each in its own savepoint), so the loop never waits on it.
        """
        try:
            if self.writer is not None:
                result: T = await self.writer.run(fn, *args, **kwargs)
            else:
                result = await self._run(fn, False, *args, **kwargs)
        except Exception as exc:
            failure = self._storage_failure(exc)
            if failure is None:
                raise
            raise failure from exc
        if self.storage.problem is not None:
            self.storage.succeeded()
        return result

    def _storage_failure(self, exc: Exception) -> StorageUnavailable | None:
        """`StorageUnavailable` when `exc` says the disk is full or the data read-only
        (remembered in `storage`), else None."""
        problem = classify(exc, path=self._where) if not isinstance(exc, AppError) else None
        if problem is None:
            return None
        self.storage.failed(problem)
        return StorageUnavailable(problem)

    async def read(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Like `run`, for a function that only reads (on SQLite it takes no write lock)."""
        try:
            return await self._run(fn, True, *args, **kwargs)
        except Exception as exc:
            failure = self._storage_failure(exc)
            if failure is None:
                raise
            raise failure from exc

    async def _run(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        readonly: bool,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self._executor is not None:
            engine = self._sync_engines[readonly]

            def call() -> T:
                with engine.begin() as conn:
                    return fn(conn, *args, **kwargs)

            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        async with self._engines[readonly].begin() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self._sync_engine is not None and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._sync_engine.dispose()


class DataUnusable(RuntimeError):
    """The database cannot be opened or written at start: the message names the path and what
    to do."""

    def __init__(self, problem: StorageProblem) -> None:
        super().__init__(f"cannot start: {problem.message} ({problem.cause})")
        self.problem = problem


def _touch(conn: Connection) -> None:
    """A real write that changes nothing (the migration stamp onto itself)."""
    conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for our migrations, bound to `connection` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _migrate_sqlite(url: URL) -> None:
    """Migrate SQLite with foreign keys off: a batch migration rebuilds a table by dropping it,
    which with foreign keys on would cascade-delete the rows that refer to it. The keys are
    checked once the migration is done, inside the same transaction."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
    _configure_sqlite(engine, foreign_keys=False)
    try:
        with engine.begin() as conn:
            _upgrade_to_head(conn)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(
                    f"migration left {len(broken)} broken foreign keys: {broken[:5]}"
                )
    finally:
        engine.dispose()
