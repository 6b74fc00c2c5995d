"""Read-only stores (`cache.store` read-only mode, `cache.readonly`): entries are read from the
folder, nothing under it changes, new entries stay in memory. Under a second."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest

from cache.errors import CacheWarning
from cache.store import Store
from decoding.errors import UsageError


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns,
                     hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def warmed(tmp_path) -> Path:
    store = Store(tmp_path)
    store.put_bytes("k", "small", b"x" * 10)
    store.put_arrays("k", "big", {"a": np.arange(20_000)})  # in its own value file
    store.checkpoint()
    return tmp_path


def test_reads_entries_and_keeps_writes_in_memory(warmed):
    before = _snapshot(warmed)
    store = Store(warmed, readonly=True)
    assert store.readonly and not store.enabled
    assert store.get_bytes("k", "small") == b"x" * 10
    assert store.get_arrays("k", "big")["a"][-1] == 19_999
    store.put_bytes("k", "new", b"y")
    store.merge_arrays("k", "big", {"a": np.arange(3)}, lambda old, new: new)
    assert store.get_bytes("k", "new") == b"y"
    assert store.get_arrays("k", "big")["a"].tolist() == [0, 1, 2]
    info = store.info()
    assert info["readonly"] and info["entries"] == {"k": 2} and info["hits"]["k"] == 4
    store.save_counts()
    assert store.folder("model", "absent") is None
    with pytest.raises(UsageError, match="read-only"):
        store.clear()
    assert _snapshot(warmed) == before
    assert Store(warmed).get_bytes("k", "new") is None  # another process never sees it


def test_environment_variable_asks_for_it(warmed, monkeypatch):
    monkeypatch.setenv("TYPEDECODE_CACHE_READONLY", "1")
    assert Store(warmed).readonly
    monkeypatch.setenv("TYPEDECODE_CACHE_READONLY", "0")
    assert not Store(warmed).readonly


def test_a_dropped_corrupt_entry_reads_as_a_miss_but_stays_on_disk(warmed):
    with sqlite3.connect(warmed / "entries" / "cache.db") as con:
        con.execute("UPDATE Cache SET value = ? WHERE value IS NOT NULL", (b"garbage",))
    Store(warmed).checkpoint()
    before = _snapshot(warmed)
    store = Store(warmed, readonly=True)
    with pytest.warns(CacheWarning, match="corrupt"):
        assert store.get_bytes("k", "small") is None
    assert store.get_bytes("k", "small") is None
    assert _snapshot(warmed) == before


def test_a_folder_without_a_database_gives_memory(tmp_path):
    with pytest.warns(CacheWarning, match="holds no database"):
        store = Store(tmp_path, readonly=True)
    store.put_bytes("k", "a", b"z")
    assert store.get_bytes("k", "a") == b"z"
    assert list(tmp_path.iterdir()) == []


def test_entries_left_in_the_log_are_reported(tmp_path):
    writer = Store(tmp_path)
    writer.put_bytes("k", "a", b"z")  # in the write-ahead log, not checkpointed
    with pytest.warns(CacheWarning, match="write-ahead log"):
        reader = Store(tmp_path, readonly=True)
    assert reader.get_bytes("k", "a") is None
    writer.checkpoint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Store(tmp_path, readonly=True).get_bytes("k", "a") == b"z"


def test_checkpoint_says_when_a_reader_keeps_the_log(tmp_path):
    writer = Store(tmp_path)
    writer.put_bytes("k", "a", b"z")
    reader = sqlite3.connect(tmp_path / "entries" / "cache.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM Cache").fetchall()  # a read snapshot on the log
    writer.put_bytes("k", "b", b"z")
    assert writer.checkpoint(wait=0.1) is False
    reader.execute("COMMIT")
    reader.close()
    assert writer.checkpoint() is True
