"""Tests for cache.store / cache.codec / cache.safe_disk: round trips, safety against corrupt and
tampered entries (including pickle payloads), degradation to memory, versioning, eviction and
concurrent writers."""

from __future__ import annotations

import errno
import io
import multiprocessing
import os
import pickle
import sqlite3
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

import cache.store as store_mod
from cache import CacheWarning, Store, get_store
from cache.codec import (
    ARRAYS,
    BYTES,
    JSON,
    CorruptEntry,
    decode_arrays,
    encode_arrays,
    frame,
    unframe,
)
from cache.location import ENV_VAR
from cache.safe_disk import SafeDisk

LARGE = 50_000  # above diskcache's file threshold (32 KiB): stored as a value file


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(params=["disk", "memory"])
def store(request, tmp_path):
    return Store(tmp_path / "c" if request.param == "disk" else False)


def _sample_arrays():
    return {
        "ids": np.arange(12, dtype=np.int32).reshape(3, 4),
        "mask": np.array([True, False, True]),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "scalar": np.array(7, dtype=np.uint64),
        "empty": np.zeros((0, 5), dtype=np.int16),
        "text": np.array(["a", "ß"]),
    }


def _assert_arrays_equal(got, want):
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].dtype == want[name].dtype
        assert got[name].shape == want[name].shape
        np.testing.assert_array_equal(got[name], want[name])


class _Exploit:
    """Unpickling this creates the marker file (proves a payload would run code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_payload(marker):
    return pickle.dumps(_Exploit(marker))


def test_exploit_payload_is_live(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(_pickle_payload(marker)).close()
    assert marker.exists()


# -- round trips -------------------------------------------------------------------------------


def test_round_trips(store):
    assert store.get_bytes("k", "a") is None
    store.put_bytes("k", "a", b"\x00\xffdata")
    store.put_bytes("k", "big", bytes(range(256)) * 300)
    store.put_bytes("k", "empty", b"")
    store.put_json("j", "schema ü", {"x": [1, 2.5, "s", None, True]})
    store.put_arrays("m", "a", _sample_arrays())
    assert store.get_bytes("k", "a") == b"\x00\xffdata"
    assert store.get_bytes("k", "big") == bytes(range(256)) * 300
    assert store.get_bytes("k", "empty") == b""
    assert store.get_json("j", "schema ü") == {"x": [1, 2.5, "s", None, True]}
    got = store.get_arrays("m", "a")
    _assert_arrays_equal(got, _sample_arrays())
    got["ids"][0, 0] = 99  # fresh, writable copies
    assert store.get_arrays("m", "a")["ids"][0, 0] == 0


def test_views_are_read_only_arrays_over_the_value_read(store):
    store.put_arrays("m", "a", _sample_arrays())
    views = store.get_arrays("m", "a", views=True)
    _assert_arrays_equal(views, _sample_arrays())
    for array in views.values():
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[...] = array
    # not copied: an array's memory is the value read (unless misaligned, then copied)
    assert type(_memory_of(views["mask"])) is bytes  # bools are never misaligned
    assert all(a.flags.aligned for a in views.values())


def _memory_of(array):
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_views_of_misaligned_data_are_copies():
    values = np.arange(5, dtype=np.int64)
    payload = encode_arrays({"i": values})
    for shift in range(8):  # the same archive at every offset modulo 8
        buffer = bytes(shift) + payload
        whole = np.frombuffer(buffer, np.uint8)
        data = whole.ctypes.data + shift + payload.index(values.tobytes())
        views = decode_arrays(memoryview(buffer)[shift:], views=True)
        assert (views["i"] == values).all() and not views["i"].flags.writeable
        assert views["i"].flags.aligned
        assert np.shares_memory(views["i"], whole) == (data % values.dtype.alignment == 0)


def test_codecs_and_kinds_are_separate_namespaces(store):
    store.put_bytes("a", "k", b"1")
    store.put_json("a", "k", 2)
    store.put_bytes("b", "k", b"3")
    assert (store.get_bytes("a", "k"), store.get_json("a", "k"), store.get_bytes("b", "k")) == (
        b"1", 2, b"3")
    assert store.get_arrays("a", "k") is None


def test_entries_persist_across_instances(tmp_path):
    Store(tmp_path).put_arrays("vocab", "tok", _sample_arrays())
    fresh = Store(tmp_path)
    _assert_arrays_equal(fresh.get_arrays("vocab", "tok"), _sample_arrays())
    assert fresh.info()["hits"] == {"vocab": 1}


@pytest.mark.parametrize("call, exc", [
    (lambda s: s.put_bytes("k", "a", "text"), TypeError),
    (lambda s: s.put_bytes("k", "a", bytearray(b"x")), TypeError),
    (lambda s: s.put_json("k", "a", {"x": object()}), TypeError),
    (lambda s: s.put_json("k", "a", float("nan")), ValueError),
    (lambda s: s.put_json("k", "a", None), ValueError),
    (lambda s: s.put_arrays("k", "a", {"o": np.array([object()])}), TypeError),
    (lambda s: s.put_arrays("k", "a", {"r": np.zeros(2, dtype=[("f", "i4")])}), TypeError),
    (lambda s: s.put_arrays("k", "a", {"l": [1, 2]}), TypeError),
    (lambda s: s.put_arrays("k", "a", {1: np.zeros(2)}), TypeError),
    (lambda s: s.get_bytes("../x", "a"), ValueError),
    (lambda s: s.get_bytes("", "a"), ValueError),
    (lambda s: s.get_bytes("a/b", "a"), ValueError),
    (lambda s: s.get_bytes("k", 5), TypeError),
    (lambda s: s.folder("..", "a"), ValueError),
])
def test_bad_arguments_raise_typed_errors(store, call, exc):
    with pytest.raises(exc):
        call(store)


def test_info_counts_entries_hits_misses(store):
    store.put_bytes("vocab", "a", b"x")
    store.put_json("regex", "a", "r")
    store.put_json("regex", "b", "s")
    store.get_bytes("vocab", "a")
    store.get_bytes("vocab", "zz")
    store.get_json("regex", "a")
    info = store.info()
    assert info["entries"] == {"vocab": 1, "regex": 2}
    assert info["hits"] == {"vocab": 1, "regex": 1}
    assert info["misses"] == {"vocab": 1}
    assert info["size_limit"] == 2 * 1024**3
    assert info["size"] > 0
    assert info["enabled"] == (store.path is not None)
    store.clear()
    assert store.info()["entries"] == {}
    assert store.get_bytes("vocab", "a") is None


# -- locations, off switch, get_store ----------------------------------------------------------


@pytest.mark.parametrize("how", ["arg", "env"])
def test_cache_off_is_memory_only_and_works(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    if how == "env":
        monkeypatch.setenv(ENV_VAR, "off")
    s = Store(False if how == "arg" else None)
    assert (s.path, s.enabled) == (None, False)
    s.put_arrays("m", "k", _sample_arrays())
    _assert_arrays_equal(s.get_arrays("m", "k"), _sample_arrays())
    assert s.merge_arrays("m", "k", {"x": np.ones(1)}, lambda old, new: {**old, **new}).keys() == {
        *_sample_arrays(), "x"}
    assert s.folder("model", "k") is None
    assert s.info()["location"] is None
    assert list(tmp_path.iterdir()) == []


def test_env_var_location(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    s = Store()
    s.put_bytes("k", "a", b"x")
    assert s.enabled and s.path == tmp_path / "from-env"
    assert (tmp_path / "from-env" / "entries").is_dir()


def test_get_store_is_one_instance_per_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = get_store(tmp_path / "one")
    assert get_store("one") is a
    assert get_store(str(tmp_path / "one")) is a
    assert get_store(tmp_path / "two") is not a
    monkeypatch.setenv(ENV_VAR, "0")
    assert get_store() is get_store(False)
    assert not get_store().enabled


def test_get_store_follows_the_environment_and_the_working_folder(tmp_path, monkeypatch):
    # A location is remembered per argument, but not past a change of what resolves it.
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a"))
    a = get_store()
    assert get_store() is a and a.path == tmp_path / "a"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "b"))
    assert get_store().path == tmp_path / "b"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    relative = get_store("rel")
    assert get_store("rel") is relative and relative.path == tmp_path / "one" / "rel"
    monkeypatch.chdir(tmp_path / "two")
    assert get_store("rel").path == tmp_path / "two" / "rel"


def test_folder_is_stable_per_key_inside_cache(tmp_path):
    s = Store(tmp_path)
    f = s.folder("model", "smollm2")
    assert f.parent.is_dir() and not f.exists() and tmp_path in f.parents
    assert s.folder("model", "smollm2") == f
    assert s.folder("model", "other") != f
    f.mkdir()
    (f / "weights.bin").write_bytes(b"\0" * 1000)
    info = s.info()
    assert info["entries"] == {"model": 1} and info["bytes"] == {"model": 1000}
    s.clear()
    assert not f.exists()


# -- info and clear against the files on disk --------------------------------------------------


def _disk_bytes(root) -> dict[str, int]:
    """Relative path -> size of every file under `root`, measured here, not by the store."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _fill(s: Store) -> None:
    """Entries in the database and in value files, a folder artefact, hits and misses."""
    for i in range(600):  # ~3 MB of rows inside SQLite
        s.put_bytes("vocabulary", str(i), bytes([i % 256]) * 5000)
    s.put_bytes("entry", "big", b"B" * LARGE)  # a value file
    folder = s.folder("model", "m")
    building = folder.with_name("." + folder.name + ".tmp")  # a conversion under way
    for where in (folder, building):
        where.mkdir()
        (where / "model.safetensors").write_bytes(b"W" * 300_000)
    assert s.get_bytes("vocabulary", "3") is not None
    assert s.get_bytes("entry", "missing") is None


def test_info_accounts_for_every_byte_under_the_location(tmp_path):
    s = Store(tmp_path)
    _fill(s)
    (tmp_path / "notes.txt").write_text("someone else's file")
    info = s.info()
    on_disk = _disk_bytes(tmp_path)
    assert info["size"] == sum(on_disk.values())
    assert sum(info["bytes"].values()) + info["other_bytes"] == info["size"]
    assert info["entries"] == {"vocabulary": 600, "entry": 1, "model": 1}
    assert info["bytes"]["model"] == 600_000  # the folder being built counts in the bytes
    assert info["bytes"]["entry"] == on_disk[next(k for k in on_disk if k.endswith(".val"))]
    assert 600 * 5000 <= info["bytes"]["vocabulary"] < 600 * 5200  # value plus frame header
    # The rest: the database files (minus the rows counted by kind) and the foreign file.
    database = sum(size for name, size in on_disk.items() if name.startswith("entries/cache.db"))
    assert info["other_bytes"] == database - info["bytes"]["vocabulary"] + on_disk["notes.txt"]
    assert info["foreign"] == ["notes.txt"]
    assert (info["hits"], info["misses"]) == ({"vocabulary": 1}, {"entry": 1})


def test_clear_removes_everything_the_store_wrote_and_nothing_else(tmp_path):
    s = Store(tmp_path)
    _fill(s)
    (tmp_path / "notes.txt").write_text("someone else's file")
    before = sum(_disk_bytes(tmp_path).values())
    s.clear()
    after = _disk_bytes(tmp_path)
    assert before > 3_000_000
    assert not any(name.startswith("files") for name in after)
    assert (tmp_path / "notes.txt").read_text() == "someone else's file"
    # What is left: the empty database, shrunk (the deleted rows' pages given back).
    left = {name: size for name, size in after.items() if name.startswith("entries/")}
    assert set(left) <= {"entries/cache.db", "entries/cache.db-wal", "entries/cache.db-shm"}
    assert sum(left.values()) <= 128 * 1024
    info = s.info()
    assert info["entries"] == info["bytes"] == info["hits"] == info["misses"] == {}
    assert info["size"] == sum(after.values())


def test_hit_and_miss_counts_add_up_over_concurrent_processes(tmp_path):
    Store(tmp_path).put_bytes("k", "present", b"x")
    code = ("import sys; from cache.store import Store; s = Store(sys.argv[1]); "
            "[s.get_bytes('k', 'present') for _ in range(5)]; s.get_bytes('k', 'absent'); "
            "s.record('model', hit=False)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=root)
             for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    info = Store(tmp_path).info()
    assert info["hits"] == {"k": 20}
    assert info["misses"] == {"k": 4, "model": 4}
    Store(tmp_path).clear()
    assert Store(tmp_path).info()["hits"] == {}


def test_a_forked_child_does_not_count_its_parents_hits_again(tmp_path):
    s = Store(tmp_path)
    s.get_bytes("k", "absent")  # counted in the parent, not saved yet
    pid = os.fork()
    if pid == 0:  # the child saves what it counted itself: nothing
        s.save_counts()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert s.info()["misses"] == {"k": 1}


def test_record_counts_folder_hits_and_checks_the_kind(store):
    store.record("model", hit=True)
    store.record("model", hit=False)
    store.record("model", hit=True)
    assert (store.info()["hits"], store.info()["misses"]) == ({"model": 2}, {"model": 1})
    with pytest.raises(ValueError):
        store.record("../x", hit=True)


# -- codec -------------------------------------------------------------------------------------


def test_every_single_byte_change_and_truncation_is_detected():
    key = "typedecode/v1/k/b/abc"
    blob = frame(1, BYTES, "k", key, b"payload bytes")
    assert unframe(blob, 1, BYTES, "k", key) == b"payload bytes"
    for i in range(len(blob)):
        flipped = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:]
        with pytest.raises(CorruptEntry):
            unframe(flipped, 1, BYTES, "k", key)
    for n in range(len(blob)):
        with pytest.raises(CorruptEntry):
            unframe(blob[:n], 1, BYTES, "k", key)
    with pytest.raises(CorruptEntry):
        unframe(blob + b"x", 1, BYTES, "k", key)


@pytest.mark.parametrize("version, codec, kind, key", [
    (2, BYTES, "k", "typedecode/v1/k/b/abc"),
    (1, JSON, "k", "typedecode/v1/k/b/abc"),
    (1, BYTES, "q", "typedecode/v1/k/b/abc"),
    (1, BYTES, "k", "typedecode/v1/k/b/abd"),
])
def test_frame_is_bound_to_version_codec_kind_and_key(version, codec, kind, key):
    blob = frame(1, BYTES, "k", "typedecode/v1/k/b/abc", b"p")
    with pytest.raises(CorruptEntry):
        unframe(blob, version, codec, kind, key)


def _archive(name, npy_blob):
    """An arrays payload holding one raw .npy blob (the layout documented in cache.codec)."""
    name_b = name.encode()
    return (struct.pack("<I", 1) + struct.pack("<H", len(name_b)) + name_b
            + struct.pack("<Q", len(npy_blob)) + npy_blob)


def test_npy_header_claiming_more_data_than_present_is_rejected_without_allocating():
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<i8", "fortran_order": False, "shape": (10**12,)})
    with pytest.raises(CorruptEntry, match="data length"):
        decode_arrays(_archive("a", buf.getvalue() + b"\0" * 32))


def test_object_array_payload_is_rejected_even_with_a_valid_checksum(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    np.save(buf, np.array([_Exploit(marker), 1], dtype=object), allow_pickle=True)
    payload = _archive("a", buf.getvalue())
    with pytest.raises(CorruptEntry, match="dtype"):
        decode_arrays(payload)
    s = Store(tmp_path / "c")
    s.put_arrays("masks", "k", {"a": np.arange(2)})
    skey = store_mod._store_key("masks", ARRAYS, "k")
    forged = frame(store_mod.FORMAT_VERSION, ARRAYS, "masks", skey, payload)
    _set_row(s, _row(s, "masks")[0], value=forged)
    with pytest.warns(CacheWarning, match="dtype"):
        assert s.get_arrays("masks", "k") is None
    assert not marker.exists()


def test_truncated_or_padded_arrays_payload_is_rejected():
    payload = encode_arrays({"a": np.zeros(4, dtype=np.int64), "b": np.ones(3)})
    for bad in (payload[:-3], payload + b"\0", payload[:10]):
        with pytest.raises(CorruptEntry):
            decode_arrays(bad)


# -- corrupt and tampered entries on disk ------------------------------------------------------


def _db(s):
    return sqlite3.connect(s.path / "entries" / "cache.db", isolation_level=None)


def _row(s, kind):
    with _db(s) as con:
        (row,) = con.execute(
            "SELECT rowid, mode, filename, value FROM Cache WHERE key LIKE ?",
            (f"%/{kind}/%",)).fetchall()
    return row


def _value_file_path(s, filename):
    return s.path / "entries" / filename


def _put_entry(s, entry):
    if entry == "bytes-small":
        s.put_bytes(entry, "k", b"small")
    elif entry == "bytes-large":
        s.put_bytes(entry, "k", b"L" * LARGE)
    elif entry == "json":
        s.put_json(entry, "k", {"a": 1})
    elif entry == "arrays-small":
        s.put_arrays(entry, "k", {"a": np.arange(5)})
    else:
        s.put_arrays(entry, "k", {"a": np.arange(LARGE)})


def _get_entry(s, entry):
    return getattr(s, "get_" + entry.split("-")[0])(entry, "k")


def _set_row(s, rowid, **cols):
    sets = ", ".join(f"{c} = ?" for c in cols)
    with _db(s) as con:
        con.execute(f"UPDATE Cache SET {sets} WHERE rowid = ?", (*cols.values(), rowid))


def _tamper(s, entry, how, marker):
    rowid, mode, filename, value = _row(s, entry)
    in_file = filename is not None
    data = _value_file_path(s, filename).read_bytes() if in_file else bytes(value)
    if how == "flip":
        data = data[:-1] + bytes([data[-1] ^ 0x40])
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "replace-with-pickle":
        data = _pickle_payload(marker)
    elif how == "pickle-mode-in-db":
        _set_row(s, rowid, mode=4, filename=None, value=_pickle_payload(marker))
        return
    elif how == "pickle-mode-in-file":
        name = "ab/cd/" + "e" * 28 + ".val"
        _value_file_path(s, name).parent.mkdir(parents=True)
        _value_file_path(s, name).write_bytes(_pickle_payload(marker))
        _set_row(s, rowid, mode=4, filename=name, value=None)
        return
    if in_file:
        _value_file_path(s, filename).write_bytes(data)
    else:
        _set_row(s, rowid, value=data)


ENTRIES = ["bytes-small", "bytes-large", "json", "arrays-small", "arrays-large"]
TAMPERS = ["flip", "truncate", "replace-with-pickle", "pickle-mode-in-db", "pickle-mode-in-file"]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("how", TAMPERS)
def test_tampered_entry_is_dropped_reported_and_rebuilt(tmp_path, entry, how):
    s = Store(tmp_path / "c")
    marker = tmp_path / "pwned"
    _put_entry(s, entry)
    assert _get_entry(s, entry) is not None
    _tamper(s, entry, how, marker)
    with pytest.warns(CacheWarning, match=f"corrupt '{entry}' entry"):
        assert _get_entry(s, entry) is None
    assert not marker.exists()
    with _db(s) as con:
        assert con.execute("SELECT COUNT(*) FROM Cache").fetchone() == (0,)
    _put_entry(s, entry)  # the caller rebuilds it
    assert _get_entry(s, entry) is not None
    assert not marker.exists()


def test_corruption_is_reported_once_per_kind(tmp_path):
    s = Store(tmp_path)
    for key in ("a", "b"):
        s.put_bytes("one", key, b"v")
    s.put_bytes("two", "a", b"v")
    with _db(s) as con:
        con.execute("UPDATE Cache SET value = ?", (b"garbage",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [s.get_bytes("one", "a"), s.get_bytes("one", "b"), s.get_bytes("two", "a")] == [
            None] * 3
    assert [str(w.message).split("'")[1] for w in caught] == ["one", "two"]
    assert all(w.category is CacheWarning for w in caught)
    assert s.info()["misses"] == {"one": 2, "two": 1}


def test_value_moved_to_another_key_is_rejected(tmp_path):
    s = Store(tmp_path)
    s.put_bytes("k", "a", b"A")
    s.put_bytes("k", "b", b"B")
    with _db(s) as con:
        rows = con.execute("SELECT rowid, value FROM Cache ORDER BY rowid").fetchall()
        con.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (rows[1][1], rows[0][0]))
    with pytest.warns(CacheWarning):
        assert s.get_bytes("k", "a") is None
    assert s.get_bytes("k", "b") == b"B"


def test_tampered_file_name_is_neither_read_nor_deleted(tmp_path):
    s = Store(tmp_path / "c")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    s.put_bytes("k", "a", b"x" * LARGE)
    rowid, _, _, _ = _row(s, "k")
    for name in (str(victim), "../../victim.txt"):
        _set_row(s, rowid, filename=name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            assert s.get_bytes("k", "a") is None
        assert victim.read_bytes() == b"keep me"
        s.put_bytes("k", "a", b"x" * LARGE)
        rowid, _, _, _ = _row(s, "k")


def test_pickled_keys_are_never_loaded(tmp_path):
    s = Store(tmp_path / "c")
    s.put_bytes("k", "a", b"x")
    marker = tmp_path / "pwned"
    with _db(s) as con:
        con.execute("INSERT INTO Cache (key, raw, store_time, access_time, mode, value) "
                    "VALUES (?, 0, 0, 0, 1, ?)", (_pickle_payload(marker), b"v"))
    info = s.info()
    assert info["entries"] == {"k": 1} and info["stale_entries"] == 1
    assert not marker.exists()


def test_safe_disk_refuses_to_pickle(tmp_path):
    disk = SafeDisk(str(tmp_path))
    with pytest.raises(TypeError):
        disk.put(("tuple", "key"))
    with pytest.raises(TypeError):
        disk.store({"a": 1}, False)
    with pytest.raises(TypeError):
        disk.store("text", False)


# -- format version ----------------------------------------------------------------------------


def test_version_bump_never_reads_old_entries(tmp_path, monkeypatch):
    s = Store(tmp_path)
    s.put_json("regex", "schema", "old-layout")
    s.put_arrays("masks", "p", {"a": np.arange(3)})
    monkeypatch.setattr(store_mod, "FORMAT_VERSION", store_mod.FORMAT_VERSION + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert s.get_json("regex", "schema") is None
        assert Store(tmp_path).get_arrays("masks", "p") is None
    assert s.info()["entries"] == {} and s.info()["stale_entries"] == 2
    s.put_json("regex", "schema", "new-layout")
    assert s.get_json("regex", "schema") == "new-layout"
    monkeypatch.undo()
    assert Store(tmp_path).get_json("regex", "schema") == "old-layout"


# -- unusable locations ------------------------------------------------------------------------


def test_location_under_a_file_degrades_to_memory_once(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = Store(blocker / "cache")
        s.put_bytes("k", "a", b"x")
        assert s.get_bytes("k", "a") == b"x"
        assert s.folder("model", "m") is None
        s.info()
        s.clear()
    assert [w.category for w in caught] == [CacheWarning]
    assert "in-memory" in str(caught[0].message)
    assert not s.enabled


def test_write_failure_degrades_to_memory_once(tmp_path, monkeypatch):
    s = Store(tmp_path)
    s.put_bytes("k", "before", b"1")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SafeDisk, "store", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s.put_bytes("k", "a", b"x")
        s.put_json("k", "b", [1])
        merged = s.merge_arrays("m", "k", {"a": np.arange(2)}, lambda old, new: new)
    assert [w.category for w in caught] == [CacheWarning]
    assert "No space left" in str(caught[0].message)
    assert not s.enabled
    assert (s.get_bytes("k", "a"), s.get_json("k", "b")) == (b"x", [1])
    np.testing.assert_array_equal(merged["a"], np.arange(2))


def test_sqlite_failure_on_read_degrades(tmp_path, monkeypatch):
    s = Store(tmp_path)
    s.put_bytes("k", "a", b"x")

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(type(s._backend), "get", broken)
    with pytest.warns(CacheWarning, match="disk I/O error"):
        assert s.get_bytes("k", "a") is None
    s.put_bytes("k", "a", b"y")
    assert s.get_bytes("k", "a") == b"y"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores permission bits")
def test_read_only_folder_degrades(tmp_path):
    Store(tmp_path / "c").put_bytes("k", "a", b"x")
    for p in [tmp_path / "c", *(tmp_path / "c").rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        with pytest.warns(CacheWarning, match="in-memory"):
            s = Store(tmp_path / "c")
            s.put_bytes("k", "b", b"y")
        assert s.get_bytes("k", "b") == b"y"
    finally:
        for p in [tmp_path / "c", *(tmp_path / "c").rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


# -- eviction ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["disk", "memory"])
def test_size_limit_evicts_least_recently_stored(tmp_path, where):
    # diskcache culls up to 10 entries per write once over the limit: keep well above 10.
    limit = 1_000_000
    s = Store(tmp_path / "c" if where == "disk" else False, size_limit=limit)
    s.put_bytes("big", "keep", b"K" * LARGE)
    for i in range(40):
        s.put_bytes("big", "keep", b"K" * LARGE)  # stored again: survives
        s.put_bytes("big", str(i), bytes([i]) * LARGE)
    info = s.info()
    assert info["bytes"]["big"] <= limit + 2 * LARGE  # the limit bounds the entries' bytes
    assert info["entries"]["big"] < 41
    assert s.get_bytes("big", "0") is None
    assert s.get_bytes("big", "39") == bytes([39]) * LARGE


# -- merge_arrays and concurrent processes -----------------------------------------------------


def _union(old, new):
    return {"states": np.union1d(old["states"], new["states"])}


def test_merge_arrays(store):
    calls = []

    def merge(old, new):
        calls.append(1)
        return _union(old, new)

    first = store.merge_arrays("dfa", "p", {"states": np.array([3, 1])}, merge)
    np.testing.assert_array_equal(first["states"], [3, 1])
    assert calls == []
    store.merge_arrays("dfa", "p", {"states": np.array([2, 3])}, merge)
    np.testing.assert_array_equal(store.get_arrays("dfa", "p")["states"], [1, 2, 3])
    assert calls == [1]


def test_merge_over_corrupt_entry_starts_fresh(tmp_path):
    s = Store(tmp_path)
    s.put_arrays("dfa", "p", {"states": np.array([1])})
    with _db(s) as con:
        con.execute("UPDATE Cache SET value = ?", (b"junk",))
    with pytest.warns(CacheWarning):
        out = s.merge_arrays("dfa", "p", {"states": np.array([5])}, _union)
    np.testing.assert_array_equal(out["states"], [5])
    np.testing.assert_array_equal(s.get_arrays("dfa", "p")["states"], [5])


N_WORKERS, ROUNDS = 4, 8


def _worker(path, n, barrier):
    warnings.simplefilter("error", CacheWarning)
    s = Store(path)
    barrier.wait(timeout=60)
    for i in range(ROUNDS):
        s.put_bytes("shared", "same", bytes([n]) * LARGE)
        s.put_json("own", f"w{n}-{i}", [n, i])
        s.merge_arrays("dfa", "pattern", {"states": np.array([n * ROUNDS + i])}, _union)
        assert s.get_bytes("shared", "same") in {bytes([w]) * LARGE for w in range(N_WORKERS)}


def test_concurrent_processes_write_and_merge(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(N_WORKERS)
    procs = [ctx.Process(target=_worker, args=(tmp_path, n, barrier)) for n in range(N_WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N_WORKERS
    s = Store(tmp_path)
    np.testing.assert_array_equal(s.get_arrays("dfa", "pattern")["states"],
                                  np.arange(N_WORKERS * ROUNDS))
    for n in range(N_WORKERS):
        for i in range(ROUNDS):
            assert s.get_json("own", f"w{n}-{i}") == [n, i]
    assert s.get_bytes("shared", "same") in {bytes([w]) * LARGE for w in range(N_WORKERS)}
    assert s.info()["entries"] == {"shared": 1, "own": N_WORKERS * ROUNDS, "dfa": 1}


def test_reopening_a_ready_cache_skips_setup_but_is_the_same_cache(tmp_path):
    import diskcache

    from cache.safe_disk import SafeDisk
    from cache.store import _open_ready

    store = Store(tmp_path)
    store.put_bytes("k", "a", b"x")
    settings = dict(size_limit=store.size_limit, eviction_policy=store_mod.EVICTION_POLICY,
                    disk_min_file_size=2**15)
    fast = _open_ready(tmp_path / "entries", settings)
    full = diskcache.Cache(str(tmp_path / "entries"), disk=SafeDisk, **settings)
    state = lambda c: {k: v for k, v in vars(c).items() if k not in ("_local", "_disk")}  # noqa
    assert state(fast) == state(full) and vars(fast._disk) == vars(full._disk)
    assert _open_ready(tmp_path / "entries", {**settings, "size_limit": 1234}) is None
    assert _open_ready(tmp_path / "missing", settings) is None
    assert Store(tmp_path).get_bytes("k", "a") == b"x"


def test_a_read_racing_an_overwrite_reads_the_new_value_not_a_miss(tmp_path, monkeypatch):
    # Another process writes over a file-backed entry between this reader's row read and its
    # file read, removing the file the row named: diskcache alone would report a miss.
    import diskcache

    reader, writer = Store(tmp_path), Store(tmp_path)
    reader.put_bytes("shared", "same", b"a" * LARGE)
    fetch = diskcache.Disk.fetch
    raced = []

    def fetch_after_an_overwrite(disk, mode, filename, value, read):
        if not raced:
            raced.append(filename)
            writer.put_bytes("shared", "same", b"b" * LARGE)
        return fetch(disk, mode, filename, value, read)

    monkeypatch.setattr(diskcache.Disk, "fetch", fetch_after_an_overwrite)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert reader.get_bytes("shared", "same") == b"b" * LARGE
    assert raced and not (tmp_path / "entries" / raced[0]).exists()
