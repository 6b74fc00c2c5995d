"""Crash safety of the disk cache: processes killed with SIGKILL mid-write, a full disk (value
files and SQLite), files damaged after the fact, and readers racing writers. After any of these a
new process reads every entry as a miss or as one whole value, reports dropped entries with at
most one `CacheWarning` per kind, and computes the same masks as a cold run without a cache.

The child processes are in `tests/cache/crash_child.py`. Each test prints what it measured
(run pytest with `-s` to see it).
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import diskcache
import numpy as np
import pytest

import cache.store as store_mod
from cache import CacheWarning, Store
from cache.location import ENV_VAR
from decoding.guides.guide import compile as compile_
from tests.cache.crash_child import (
    KEYS,
    VERIFY_SEED,
    check_store,
    mask_digests,
    value,
    write_store,
)

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 120  # seconds; a child that takes longer is killed and the test fails


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


# -- helpers -----------------------------------------------------------------------------------


def _spawn(mode: str, **args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cache.crash_child", mode, json.dumps(args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def _next_report(proc: subprocess.Popen) -> dict | None:
    """The child's next JSON line, or None once it has closed its output."""
    line = proc.stdout.readline()
    return json.loads(line) if line else None


def _finish(proc: subprocess.Popen) -> tuple[list[dict], str]:
    """The child's remaining reports and its stderr, once it has exited."""
    out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    return [json.loads(line) for line in out.splitlines() if line.strip()], err


def _interrupted(log: Path) -> list[str]:
    """The writes the log shows begun and not ended, as 'thread:what'."""
    open_writes: dict[str, str] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        mark, thread, *what = line.split(" ")
        if mark == "B":
            open_writes[thread] = what[0]
        else:
            open_writes.pop(thread, None)
    return [f"{thread}:{what}" for thread, what in sorted(open_writes.items())]


def _disk_state(cache_dir: Path) -> tuple[int, int]:
    """(rows in the database, value files no row names) under a store location."""
    entries = cache_dir / "entries"
    files = {str(p.relative_to(entries)) for p in entries.glob("*/*/*.val")}
    if not (entries / "cache.db").exists():
        return 0, len(files)
    with sqlite3.connect(f"file:{entries / 'cache.db'}?mode=ro", uri=True) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'Cache'").fetchall():
            return 0, len(files)  # a database whose creation was cut short
        rows = con.execute("SELECT filename FROM Cache").fetchall()
    return len(rows), len(files - {name for (name,) in rows})


def _assert_warnings_ok(caught: list[str]) -> None:
    """Only CacheWarnings, at most one per kind of dropped entry, and no fall-back to memory."""
    assert all(w.startswith("CacheWarning: ") and "in-memory" not in w for w in caught), caught
    kinds = Counter(re.findall(r"corrupt '([^']+)' entry", " ".join(caught)))
    assert all(n == 1 for n in kinds.values()), caught


def _kill_runs(cache_dir: Path, tmp_path: Path, mode: str, kills: int, seed: int,
               max_delay: float, rounds: int, armed: str, stalls: dict[int, str] | None = None,
               before_last: Callable[[], None] = lambda: None, **args: object) -> list[dict]:
    """`kills` runs of a child killed with SIGKILL a random time (up to `max_delay` s) after it
    reports `armed` (or, for a run in `stalls`, as soon as it has stalled there), then
    `before_last()` and one run that is not killed; per run: its reports, stderr, exit code,
    the writes the kill interrupted, and `_disk_state` before and after."""
    rng, stalls = random.Random(seed), stalls or {}
    runs = []
    for run in range(kills + 1):
        log = tmp_path / f"writes-{mode}-{run}.log"
        killed = run < kills
        if not killed:
            before_last()
        before = _disk_state(cache_dir)
        stall = {"stall": stalls[run]} if run in stalls else {}
        proc = _spawn(mode, cache=str(cache_dir), run=run, rounds=rounds if killed else 0,
                      log=str(log), **stall, **args)
        reports = []
        while (first := _next_report(proc)) is not None:
            reports.append(first)
            if ("stalled" if stall else armed) in first:
                break
        delay = 0.0 if stall else rng.uniform(0, max_delay)
        if killed:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        rest, err = _finish(proc)
        runs.append({"reports": reports + rest, "stderr": err, "code": proc.returncode,
                     "interrupted": _interrupted(log), "before": before,
                     "after": _disk_state(cache_dir), "delay": round(delay, 3)})
    return runs


def _summary(name: str, runs: list[dict]) -> str:
    killed = [r for r in runs if r["code"] == -signal.SIGKILL]
    mid = [r for r in killed if r["interrupted"]]
    phases = Counter(w for r in mid for w in r["interrupted"])
    orphaned = sum(r["after"][1] > r["before"][1] for r in killed)
    return (f"{name}: {len(killed)} kills, {len(mid)} mid-write ({dict(phases)}), "
            f"{orphaned} left a value file no row names; rows, unnamed files at the end: "
            f"{runs[-1]['after']}")


def _reports_with(runs: list[dict], field: str) -> list[dict]:
    return [rep for r in runs for rep in r["reports"] if field in rep]


# -- SIGKILL -----------------------------------------------------------------------------------


def test_sigkill_mid_write_never_leaves_a_torn_entry(tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    stalls = {4: "merge", 9: "MainThread", 14: "cache-writer", 19: "merge"}
    runs = _kill_runs(cache_dir, tmp_path, "store", kills=20, seed=15, max_delay=0.5,
                      rounds=10**6, armed="checked", stalls=stalls)
    print("\n" + _summary("store writes", runs))
    assert all(r["code"] == -signal.SIGKILL for r in runs[:-1])  # killed while writing
    assert runs[-1]["code"] == 0, runs[-1]["stderr"]
    assert all("Traceback" not in r["stderr"] for r in runs), [r["stderr"] for r in runs]
    checks = _reports_with(runs, "checked")
    assert len(checks) == len(runs)  # every run checked the cache before it was killed
    merged: dict[str, set] = {}
    for rep in checks:
        assert rep["enabled"] and rep["checked"]["bad"] == [], rep
        _assert_warnings_ok(rep["warnings"])
        for key, ids in rep["checked"]["merged"].items():  # a committed merge is never lost
            assert merged.get(key, set()) <= set(ids), key
            merged[key] = set(ids)
    assert checks[-1]["checked"]["whole"] > 0
    assert sum(bool(r["interrupted"]) for r in runs) >= len(stalls) + 2  # kills landed mid-write
    for run, where in stalls.items():
        assert runs[run]["reports"][-1]["stalled"].startswith(where)
        assert any(where in w for w in runs[run]["interrupted"])
    assert runs[9]["after"][1] > runs[9]["before"][1]  # the half-written file is left unnamed
    # Value files that killed writers left unnamed go at a sweep, and only they do.
    for path in (cache_dir / "entries").glob("*/*/*.val"):
        os.utime(path, (0, 0))
    monkeypatch.setattr(store_mod, "_SWEEP_CHANCE", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_store(Store(cache_dir)) == checks[-1]["checked"]
    assert _disk_state(cache_dir) == (runs[-1]["after"][0], 0)


def test_a_cache_killed_while_being_created_is_completed_by_the_next_process(tmp_path):
    runs = _kill_runs(tmp_path, tmp_path, "store", kills=1, seed=0, max_delay=0, rounds=KEYS,
                      armed="checked", stalls={0: "creation"})
    assert runs[0]["code"] == -signal.SIGKILL and runs[0]["reports"] == [{"stalled": "creation"}]
    assert runs[1]["code"] == 0, runs[1]["stderr"]
    (checked,) = _reports_with(runs, "checked")
    assert checked["enabled"] and checked["warnings"] == [] and checked["checked"]["whole"] == 0
    write_store(Store(tmp_path), run=2, rounds=KEYS)
    assert check_store(Store(tmp_path))["whole"] == 3 * KEYS


def _compile_kills(tmp_path, bpe_tokenizer, kills: int, armed: str) -> None:
    tokenizer_dir = tmp_path / "tokenizer"
    bpe_tokenizer.save_pretrained(tokenizer_dir)
    reference = mask_digests(compile_, bpe_tokenizer, False, VERIFY_SEED)
    cache_dir = tmp_path / "cache"
    runs = _kill_runs(cache_dir, tmp_path, "compile", kills=kills, seed=16, max_delay=2.0,
                      rounds=10**6, armed=armed, before_last=lambda: _damage_rows(cache_dir),
                      tokenizer=str(tokenizer_dir))
    print("\n" + _summary("compile", runs))
    assert runs[-1]["code"] == 0, runs[-1]["stderr"]
    assert all("Traceback" not in r["stderr"] for r in runs), [r["stderr"] for r in runs]
    verified = _reports_with(runs, "digests")
    assert verified and "digests" in runs[-1]["reports"][-1]
    for rep in verified:
        assert rep["digests"] == reference
        _assert_warnings_ok(rep["warnings"])
    assert any("corrupt" in w for w in verified[-1]["warnings"])  # the damage was seen


def _damage_rows(cache_dir: Path) -> None:
    """Cut every third value stored in the database in half and garble every value file, after
    the fact."""
    with sqlite3.connect(cache_dir / "entries" / "cache.db") as con:
        con.execute("UPDATE Cache SET value = substr(value, 1, length(value) / 2) "
                    "WHERE value IS NOT NULL AND rowid % 3 = 0")
    for path in _value_files(cache_dir):
        path.write_bytes(os.urandom(path.stat().st_size))


def test_sigkill_during_compile_leaves_masks_identical_to_a_cold_run(tmp_path, bpe_tokenizer):
    # Killed while it compiles new patterns, once the verified ones are compiled: armed at
    # "imported", a loaded machine could kill it before it had written what the last run reads,
    # and no damage would be there to see.
    _compile_kills(tmp_path, bpe_tokenizer, kills=1, armed="digests")


@pytest.mark.slow
def test_sigkill_during_compile_many_times(tmp_path, bpe_tokenizer):
    _compile_kills(tmp_path, bpe_tokenizer, kills=8, armed="imported")


# -- full disk ---------------------------------------------------------------------------------


class _FullFile:
    """A file that takes half of what it is given, then fails with ENOSPC."""

    def __init__(self, file):
        self._file = file

    def write(self, data):
        self._file.write(bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def _fill_value_files(monkeypatch) -> None:
    """Every value file diskcache writes from now on fails half-way with ENOSPC."""
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return _FullFile(file) if "x" in mode else file

    monkeypatch.setattr(diskcache.core, "open", full_open, raising=False)


def _fill_database(monkeypatch) -> None:
    """Every SQL write fails as SQLite fails on a full disk."""
    sql = diskcache.Cache._sql

    def full_sql(cache):
        execute = sql.fget(cache)

        def run(statement, *args):
            if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
                raise sqlite3.OperationalError("database or disk is full")
            return execute(statement, *args)
        return run

    monkeypatch.setattr(diskcache.Cache, "_sql", property(full_sql))


def _value_files(cache_dir: Path) -> list[Path]:
    return list((cache_dir / "entries").glob("*/*/*.val"))


@pytest.mark.parametrize("where", ["value file", "database", "database, for real"])
def test_full_disk_degrades_to_memory_once_and_leaves_no_partial_file(tmp_path, monkeypatch,
                                                                      where):
    store = Store(tmp_path)
    store.put_arrays("small", str(KEYS), value("small", KEYS, 1))  # a key check_store skips
    if where == "value file":
        _fill_value_files(monkeypatch)
    elif where == "database":
        _fill_database(monkeypatch)
    else:  # SQLite itself refuses to grow the database past its current size
        sql = store._backend._sql
        sql(f"PRAGMA max_page_count = {sql('PRAGMA page_count').fetchone()[0]}").fetchall()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for g in range(KEYS):
            for kind in ("large", "small"):
                store.put_arrays(kind, str(g), value(kind, g, g))
        merged = store.merge_arrays("merged", "0", {"ids": np.array([1])}, lambda a, b: b)
    assert [w.category for w in caught] == [CacheWarning], [str(w.message) for w in caught]
    assert re.search("No space left|database or disk is full", str(caught[0].message))
    assert not store.enabled
    assert check_store(store)["bad"] == [] and merged["ids"].tolist() == [1]
    last = KEYS - 1  # written after the fall-back (earlier ones may be on disk, out of reach)
    assert store.get_arrays("large", str(last))["gen"][0] == last
    monkeypatch.undo()
    assert _disk_state(tmp_path)[1] == 0  # no partial value file, no file without its row
    assert Store(tmp_path).get_arrays("small", str(KEYS))["gen"][0] == 1  # stored before: kept


def test_full_disk_during_compile_gives_the_cold_masks_with_one_warning(tmp_path, monkeypatch,
                                                                        bpe_tokenizer):
    from decoding.persist import cached as persist

    reference = mask_digests(compile_, bpe_tokenizer, False, VERIFY_SEED)
    Store(tmp_path)  # the folder exists; it fills up later
    _fill_value_files(monkeypatch)
    _fill_database(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        digests = mask_digests(compile_, bpe_tokenizer, tmp_path, VERIFY_SEED)
        persist.flush()
    assert digests == reference
    assert [w.category for w in caught] == [CacheWarning], [str(w.message) for w in caught]
    assert _disk_state(tmp_path)[1] == 0


# -- files damaged after the fact -------------------------------------------------------------


def _damage(cache_dir: Path, how: str) -> None:
    db = cache_dir / "entries" / "cache.db"
    targets = [db] if how.startswith("db") else _value_files(cache_dir)
    for path in targets:
        data = path.read_bytes()
        if how.endswith("truncated"):
            path.write_bytes(data[: len(data) // 2])
        elif how.endswith("empty"):
            path.write_bytes(b"")
        else:
            path.write_bytes(os.urandom(len(data)))


@pytest.mark.parametrize("how", ["values-truncated", "values-empty", "values-garbage",
                                 "db-truncated", "db-empty", "db-garbage"])
def test_damaged_files_read_as_misses_and_the_cache_recovers(tmp_path, how):
    reports, err = _finish(_spawn("store", cache=str(tmp_path), run=1, rounds=2 * KEYS))
    assert reports[0]["checked"]["whole"] == 0 and "Traceback" not in err, err
    _damage(tmp_path, how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = Store(tmp_path)
        checked = check_store(store)
        store.put_arrays("large", "0", value("large", 0, 5))
        got = store.get_arrays("large", "0")
    assert checked["bad"] == [], checked
    _assert_warnings_ok([f"{w.category.__name__}: {w.message}" for w in caught])
    assert got["gen"][0] == 5
    print(f"\n{how}: {checked['whole']} whole, {checked['miss']} missed, "
          f"{len(caught)} warning(s), on disk after: {store.enabled}")
    assert store.enabled  # the next process does not lose the disk cache for good


def test_damage_found_mid_run_falls_back_once_and_the_next_store_starts_afresh(tmp_path):
    store = Store(tmp_path)
    for i in range(KEYS):
        store.put_arrays("small", str(i), value("small", i, 1))
    _damage(tmp_path, "db-garbage")  # under the open database: found at the next write
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        later = Store(tmp_path)
        for i in range(KEYS):
            later.put_arrays("small", str(i), value("small", i, 2))
    assert [w.category for w in caught] == [CacheWarning]
    assert "damaged database was removed" in str(caught[0].message)
    assert not later.enabled and check_store(later)["whole"] == KEYS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = Store(tmp_path)
        assert fresh.enabled and check_store(fresh)["whole"] == 0
        fresh.put_arrays("small", "0", value("small", 0, 3))
    assert Store(tmp_path).get_arrays("small", "0")["gen"][0] == 3


def test_a_sweep_removes_only_what_dead_writers_left(tmp_path, monkeypatch):
    store = Store(tmp_path)
    target = store.folder("model", "m")
    for name in (target.name, f".{target.name}.tmp-dead", f".{target.name}.tmp-live"):
        (target.parent / name).mkdir()
        (target.parent / name / "weights").write_bytes(b"w")
    store.put_arrays("large", "0", value("large", 0, 1))
    (named,) = _value_files(tmp_path)
    dead, live = named.with_name("0" * 28 + ".val"), named.with_name("1" * 28 + ".val")
    for orphan in (dead, live):  # value files no row names, as a killed writer leaves them
        orphan.write_bytes(b"half")
    for path in [dead, named, *target.parent.rglob("*")]:
        if "live" not in str(path):
            os.utime(path, (0, 0))
    monkeypatch.setattr(store_mod, "_SWEEP_CHANCE", 0.0)
    Store(tmp_path)
    assert len(_value_files(tmp_path)) == 3  # no sweep at this open
    monkeypatch.setattr(store_mod, "_SWEEP_CHANCE", 1.0)
    swept = Store(tmp_path)
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        [target.name, f".{target.name}.tmp-live"])
    assert sorted(_value_files(tmp_path)) == sorted([named, live])
    assert swept.get_arrays("large", "0")["gen"][0] == 1  # an old but named file stays
    swept.clear()
    assert _value_files(tmp_path) == []  # clear removes unnamed files, however young


# -- concurrent readers and writers ------------------------------------------------------------


def test_concurrent_readers_see_a_miss_or_one_whole_value(tmp_path):
    writers, readers, seconds = 2, 2, 2.0
    procs = [_spawn("writer", cache=str(tmp_path), w=w, writers=writers, seconds=seconds)
             for w in range(writers)]
    procs += [_spawn("reader", cache=str(tmp_path), seconds=seconds) for _ in range(readers)]
    results = []
    for proc in procs:
        reports, err = _finish(proc)
        assert proc.returncode == 0 and "Traceback" not in err, err
        results.append(reports[-1])
    wrote, read = results[:writers], results[writers:]
    print(f"\nconcurrent: writes {[r['writes'] for r in wrote]}, reads "
          f"{[{k: r[k] for k in ('whole', 'miss', 'bad')} for r in read]}")
    assert all(r["enabled"] and r["writes"] > 0 for r in wrote)
    assert all(r["bad"] == 0 and r["warnings"] == [] for r in read), read
    assert sum(r["whole"] for r in read) > 0


def test_a_merge_rolled_back_after_its_write_keeps_the_value_it_replaced(tmp_path, monkeypatch):
    """diskcache removes the value file a write replaces at once when the write is inside an
    outer transaction; `merge_arrays` defers that to the commit, so a merge that dies before
    committing (an error here; SIGKILL in the test above) leaves the old value readable."""
    store = Store(tmp_path)
    big = {"ids": np.arange(100_000)}  # large enough for a value file
    store.merge_arrays("merged", "k", big, lambda old, new: new)
    backend = store._backend
    real_set = type(backend).set

    def set_then_die(self, *args, **kwargs):
        real_set(self, *args, **kwargs)
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(type(backend), "set", set_then_die)
    with pytest.raises(RuntimeError, match="before the commit"):
        store.merge_arrays("merged", "k", {"ids": np.arange(5)}, lambda old, new: new)
    monkeypatch.setattr(type(backend), "set", real_set)
    assert np.array_equal(store.get_arrays("merged", "k")["ids"], big["ids"])
