"""bulk_copy's SQLite fallback (dev mode): batched INSERTs in one transaction, all or nothing."""
from __future__ import annotations

import sqlite3

import pytest

from powerhouse_client import UploadRowError, bulk_copy
from powerhouse_client import bulk_copy as bulk_module

DDL = "CREATE TABLE tm_entries (id INTEGER PRIMARY KEY, tm_id INTEGER NOT NULL, source TEXT NOT NULL, target TEXT, meta TEXT, UNIQUE (tm_id, source))"


@pytest.fixture
def db() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:")
    c.execute(DDL)
    c.commit()
    return c


def _count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM tm_entries").fetchone()[0])


def test_stores_tuples_and_mappings_in_batches(db: sqlite3.Connection) -> None:
    rows = ((1, f"s{i}", "t", {"k": [i]}) for i in range(12_345))
    assert bulk_copy(db, "tm_entries", ["tm_id", "source", "target", "meta"], rows) == 12_345
    assert bulk_copy(db, "tm_entries", ["tm_id", "source"], [{"tm_id": 2, "source": "x"}]) == 1
    assert _count(db) == 12_346
    assert db.execute("SELECT meta FROM tm_entries WHERE source = 's7'").fetchone()[0] == '{"k":[7]}'
    assert not db.in_transaction


def test_a_bad_row_in_a_later_batch_rolls_everything_back_and_is_named(db: sqlite3.Connection) -> None:
    rows = [(1, f"s{i}", "t") for i in range(7000)] + [(1, None, "t")]
    with pytest.raises(UploadRowError) as info:
        bulk_copy(db, "tm_entries", ["tm_id", "source", "target"], rows)
    assert (info.value.row, info.value.column) == (7001, "source")
    assert "NOT NULL" in str(info.value) and str(info.value).startswith('row 7001, column "source"')
    assert _count(db) == 0 and not db.in_transaction


def test_duplicates_and_unbindable_values_are_named(db: sqlite3.Connection) -> None:
    with pytest.raises(UploadRowError) as dup:
        bulk_copy(db, "tm_entries", ["tm_id", "source"], [(1, "a"), (1, "b"), (1, "a")])
    assert dup.value.row == 3 and "UNIQUE" in str(dup.value)
    with pytest.raises(UploadRowError) as bind:
        bulk_copy(db, "tm_entries", ["tm_id", "source", "target"], [(1, "a", "b"), (1, "c", {1, 2})])
    assert (bind.value.row, bind.value.column) == (2, "target")
    with pytest.raises(UploadRowError) as count:
        bulk_copy(db, "tm_entries", ["tm_id", "source"], [(1, "a"), (1,)])
    assert (count.value.row, count.value.column) == (2, None)
    assert _count(db) == 0


def test_inside_the_callers_transaction_only_its_own_rows_are_undone(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO tm_entries (tm_id, source) VALUES (9, 'mine')")
    assert db.in_transaction
    with pytest.raises(UploadRowError):
        bulk_copy(db, "tm_entries", ["tm_id", "source"], [(1, "a"), (1, None)])
    assert db.in_transaction and _count(db) == 1  # the caller's row is still there, uncommitted
    db.commit()


def test_sqlalchemy_engine_when_installed(tmp_path: object) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is optional (not installed)")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/dev.db")
    with engine.begin() as c:
        c.exec_driver_sql(DDL)
    assert bulk_module.bulk_copy(engine, "tm_entries", ["tm_id", "source"], [(1, "a"), (2, "b")]) == 2
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM tm_entries").scalar() == 2


def test_other_targets_are_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="Endpoint"):
        bulk_copy(object(), "t", ["a"], [])
