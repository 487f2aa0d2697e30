"""SQLite's group-commit writer, on a real database file: concurrent transactions commit
together, one that fails rolls back alone, a group whose commit fails is retried one by one,
and every caller learns its own outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}")

    def schema(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE items (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")

    await database.run(schema)
    yield database
    await database.dispose()


def add(conn: Connection, name: str, n: int) -> int:
    conn.execute(text("INSERT INTO items VALUES (:name, :n)"), {"name": name, "n": n})
    return n


def add_then_fail(conn: Connection, name: str) -> None:
    add(conn, name, -1)
    raise ValueError(f"{name} changed its mind")


def names(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(text("SELECT name FROM items ORDER BY name"))]


async def test_concurrent_transactions_commit_together_and_each_gets_its_result(
    db: Database,
) -> None:
    results = await asyncio.gather(*[db.run(add, f"item{i:03}", i) for i in range(200)])
    assert results == list(range(200))
    assert await db.read(names) == [f"item{i:03}" for i in range(200)]
    assert db.writer is not None
    stats = db.writer.stats
    assert stats.largest_group > 1, "no two transactions were committed together"
    assert stats.transactions == 201  # the schema, then 200 inserts


async def test_a_failing_transaction_rolls_back_alone(db: Database) -> None:
    jobs = [
        db.run(add, "a", 1),
        db.run(add_then_fail, "b"),
        db.run(add, "c", 3),
        db.run(add, "a", 4),  # the primary key is taken: IntegrityError, for this caller only
        db.run(add, "d", 5),
    ]
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    assert outcomes[0] == 1 and outcomes[2] == 3 and outcomes[4] == 5
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[3], IntegrityError)
    assert await db.read(names) == ["a", "c", "d"]


def sabotage(conn: Connection) -> None:
    """Ends the surrounding transaction behind SQLAlchemy's back: its commit then fails."""
    conn.exec_driver_sql("ROLLBACK")


async def test_a_group_whose_commit_fails_is_retried_one_by_one(db: Database) -> None:
    jobs = [db.run(add, f"x{i}", i) for i in range(5)]
    jobs.insert(2, db.run(sabotage))
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    assert outcomes[:2] + outcomes[3:] == [0, 1, 2, 3, 4]
    assert outcomes[2] is None  # alone, it only rolled back its own (empty) transaction
    assert await db.read(names) == [f"x{i}" for i in range(5)]
    assert db.writer is not None and db.writer.stats.regrouped == 1


def bump(conn: Connection) -> int:
    value = conn.execute(text("SELECT value FROM counter WHERE id = 1")).scalar_one()
    conn.execute(text("UPDATE counter SET value = :v WHERE id = 1"), {"v": value + 1})
    return int(value) + 1


async def test_read_modify_write_transactions_stay_serial(db: Database) -> None:
    """Each transaction sees what the previous one of its group wrote: no lost updates."""
    results = await asyncio.gather(*[db.run(bump) for _ in range(300)])
    assert sorted(results) == list(range(1, 301))
    assert await db.read(lambda c: c.execute(text("SELECT value FROM counter")).scalar()) == 300


def add_or_note_taken(conn: Connection, name: str) -> str:
    """Like the service's "insert unless a concurrent one got there first": its own savepoint
    inside the group's."""
    try:
        with conn.begin_nested():
            add(conn, name, 1)
    except IntegrityError:
        add(conn, f"{name}-taken", 2)
        return "taken"
    return "added"


async def test_functions_with_savepoints_of_their_own_nest_inside_the_group(
    db: Database,
) -> None:
    outcomes = await asyncio.gather(
        db.run(add_or_note_taken, "k"),
        db.run(add_or_note_taken, "k"),
        db.run(add_then_fail, "z"),
        db.run(add_or_note_taken, "m"),
        return_exceptions=True,
    )
    assert outcomes[:2] == ["added", "taken"] and outcomes[3] == "added"
    assert isinstance(outcomes[2], ValueError)
    assert await db.read(names) == ["k", "k-taken", "m"]
    assert db.writer is not None and db.writer.stats.regrouped == 0
