"""typedecode's persistent store: bytes, JSON and numpy arrays by (kind, key), on `diskcache`.

Contract:
- Location as in `cache.location.resolve_cache_dir`; a None location (cache turned off) gives a
  memory-only store with the same API. Layout under the location: `entries/` (the diskcache
  database and value files) and `files/v{FORMAT_VERSION}/{kind}/{blake2b(key)}/` (folders handed
  out by `Store.folder`, such as converted models). Nothing else is written there.
- Every store key is `typedecode/v{FORMAT_VERSION}/{kind}/{codec}/{blake2b(key)}`, so bumping
  FORMAT_VERSION means no old entry is ever read (they age out by eviction). `kind` is a short
  identifier (letters, digits, `_.-`); `key` any string.
- A bad argument (a `size_limit` that is not a positive integer, a malformed kind, a key that is
  not a string, a value of the wrong type) raises `decoding.errors.UsageError` naming it.
- Nothing read is unpickled or evaluated: diskcache only ever sees `str` keys and `bytes` values
  through `SafeDisk`, and values are frames checked by `cache.codec` (magic, version, kind,
  checksum bound to the key). A corrupt, truncated or tampered entry reads as a miss, is deleted
  so the caller rebuilds it, and is reported once per kind with a `CacheWarning`.
- A location that cannot be created, opened or written (read-only, full, not a directory, locked
  past the timeout) switches the store to memory-only for the rest of the process, with one
  `CacheWarning`; no I/O error escapes. A failed write leaves no value file behind
  (`SafeDisk.committing`).
- A database file that SQLite finds damaged (not a database, malformed) is removed: found at
  open, the store starts a fresh one at once (one `CacheWarning`); found later, the store falls
  back to memory as above and the next process starts afresh. Its entries are rebuilt.
- Crash safety: a process killed at any point (SIGKILL included) leaves every entry either as it
  was or wholly written (a value file is complete before the SQLite transaction naming it
  commits), and its write lock is released by the OS. What a killed write can leave is a value
  file no row names, or a `folder` artefact half-built under its "."-name; at one open in
  `_SWEEP_CHANCE`, such files and folders untouched for `_ORPHAN_AGE` are removed, and `clear`
  removes them all.
- Writes from several processes are safe (SQLite transactions); `merge_arrays` is an atomic
  read-modify-write across processes; a reader sees a miss or one whole value, never a mix.
  Eviction: least-recently-stored once the volume exceeds `size_limit` bytes (default:
  `decoding.limits` `cache_bytes`), so reads never write (under diskcache's least-recently-used
  policy every read is also an SQL update, about 6x the cost of the read). Folders from
  `Store.folder` are counted by `info` but never evicted.
- Hits and misses (`get_*` calls, and `record` for folders) are counted in memory and added to
  the location's totals, stored in the same database, by `save_counts` (an atomic
  read-modify-write), which `info` calls first and which runs at interpreter exit for every live
  store; a forked child starts from zero. So `info()` reports every process since the last
  `clear` (memory-only: this process), except `multiprocessing` workers, which exit without
  running exit handlers unless they call `save_counts`.
- `info()` accounts for every byte under the location (see `Store.info`); `clear()` removes
  every entry, folder and count and compacts the database; files the store did not write are
  never touched.
- Read-only mode (`readonly=True`; by default when `TYPEDECODE_CACHE_READONLY` is set, see
  `cache.location.readonly_requested`, or when the location exists but is not writable): for a
  folder shared by many processes or nodes, prepared by `typedecode cache warm`. Nothing is
  ever written, locked or created under the location: the database is read as an immutable file
  (`cache.readonly.ReadOnlyBackend`), entries written meanwhile (and hit/miss counts) stay in
  this process's memory, `folder` hands out only artefacts that exist, and `clear` raises
  `UsageError`. A location without a database gives a memory-only store (one `CacheWarning`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import random
import re
import shutil
import sqlite3
import threading
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import diskcache
import numpy as np

from cache.codec import (
    ARRAYS,
    BYTES,
    JSON,
    decode_arrays,
    decode_json,
    encode_arrays,
    encode_json,
    frame,
    unframe,
)
from cache.errors import CacheWarning, CorruptEntry, UnsafeEntry, ValueFileGone
from cache.location import ENV_VAR, readonly_requested, resolve_cache_dir
from cache.memory import MemoryBackend
from cache.readonly import ReadOnlyBackend
from cache.safe_disk import SafeDisk
from decoding import limits
from decoding.errors import UsageError

FORMAT_VERSION = 2  # 2: SHA-256 frame checksums
EVICTION_POLICY = "least-recently-stored"

_KIND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_IO_ERRORS = (OSError, sqlite3.Error, diskcache.Timeout)
_MIN_FILE_SIZE = 2**15  # values at least this big live in their own file, not in SQLite
_ENTRIES, _FILES = "entries", "files"  # the only names the store creates under its location
_COUNTS_KIND = ".counts"  # not a valid kind, so it never collides with an entry's

Backend = diskcache.Cache | MemoryBackend | ReadOnlyBackend
Arrays = dict[str, np.ndarray]
T = TypeVar("T")


class Store:
    """Cache of bytes / JSON / arrays by (kind, key); see the module docstring."""

    def __init__(self, cache_dir: str | os.PathLike | bool | None = None, *,
                 size_limit: int | None = None, readonly: bool | None = None):
        if size_limit is None:
            size_limit = limits.current().cache_bytes
        if isinstance(size_limit, bool) or not isinstance(size_limit, int) or size_limit <= 0:
            raise UsageError(f"size_limit must be a positive integer, not {size_limit!r}")
        location = resolve_cache_dir(cache_dir)
        self.path: Path | None = None if location is None else location.absolute()
        self.size_limit = size_limit
        self.readonly = self.path is not None and (
            _not_writable(self.path) if readonly is None else bool(readonly))
        self._lock = threading.RLock()
        self._hits: Counter[str] = Counter()
        self._misses: Counter[str] = Counter()
        self._warned_kinds: set[str] = set()
        self._degraded = False
        self._backend: Backend = MemoryBackend(size_limit)
        if self.path is not None:
            try:
                self._backend = (self._open_readonly(self.path) if self.readonly
                                 else self._open_disk(self.path))
            except _IO_ERRORS as exc:
                self._degrade(exc, self._backend)
        _LIVE.add(self)

    @property
    def enabled(self) -> bool:
        """Whether entries currently go to disk."""
        return isinstance(self._backend, diskcache.Cache)

    def get_bytes(self, kind: str, key: str) -> bytes | None:
        """The bytes stored under (kind, key), or None on a miss."""
        return self._get(kind, key, BYTES, bytes)

    def put_bytes(self, kind: str, key: str, data: bytes) -> None:
        """Store `data` (exactly `bytes`) under (kind, key)."""
        if type(data) is not bytes:
            raise UsageError(f"put_bytes needs data of type bytes, not {type(data).__name__}")
        self._put(kind, key, BYTES, data)

    def get_json(self, kind: str, key: str) -> object | None:
        """The JSON value stored under (kind, key), or None on a miss."""
        return self._get(kind, key, JSON, decode_json)

    def put_json(self, kind: str, key: str, value: object) -> None:
        """Store a JSON-serializable, non-None `value` (`UsageError` otherwise)."""
        if value is None:
            raise UsageError("put_json cannot store value None: it would read back as a miss")
        self._put(kind, key, JSON, encode_json(value))

    def get_arrays(self, kind: str, key: str, *, views: bool = False) -> Arrays | None:
        """Fresh, writable copies of the arrays stored under (kind, key), or None on a miss; with
        `views`, read-only arrays over the stored value read (no copy of a big record)."""
        return self._get(kind, key, ARRAYS, _decode_views if views else decode_arrays)

    def put_arrays(self, kind: str, key: str, arrays: Arrays) -> None:
        """Store a dict of plain-dtype numpy arrays under (kind, key)."""
        self._put(kind, key, ARRAYS, encode_arrays(arrays))

    def merge_arrays(self, kind: str, key: str, arrays: Arrays,
                     merge: Callable[[Arrays, Arrays], Arrays]) -> Arrays:
        """Atomically store `merge(old, arrays)` (or `arrays` when there is no valid old entry).

        The read, `merge` and the write happen under the cache's write lock, so concurrent
        merges from several processes all take effect. Returns what was stored. `merge` is only
        called when an old entry exists; it must not modify the store itself.
        """
        skey = _store_key(kind, ARRAYS, key)

        def op(backend: Backend) -> Arrays:
            with _transaction(backend):
                old = self._read(backend, kind, skey, ARRAYS, decode_arrays)
                result = arrays if old is None else merge(old, arrays)
                backend.set(skey, _frame(kind, ARRAYS, skey, encode_arrays(result)))
            return result

        return self._run(op)

    def folder(self, kind: str, key: str) -> Path | None:
        """Where the file artefact of (kind, key) lives, or None when memory-only.

        The parent directory exists; the path itself may not. It is shared by every process using
        this location: build the artefact in a sibling whose name starts with "." and rename it
        into place, so that no reader sees a partial one. `info` counts it under `kind`, `clear`
        removes it, eviction never does.
        """
        _store_key(kind, BYTES, key)  # validates kind and key
        if self.path is None:
            return None
        target = self.path / _FILES / f"v{FORMAT_VERSION}" / kind / _digest(key)

        def op(backend: Backend) -> Path | None:
            if isinstance(backend, ReadOnlyBackend):
                return target if target.is_dir() else None
            if not isinstance(backend, diskcache.Cache):
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            return target

        return self._run(op)

    def record(self, kind: str, hit: bool) -> None:
        """Count a hit or a miss of `kind` that no `get_*` call saw (a `folder` artefact found or
        built)."""
        _store_key(kind, BYTES, "")  # validates kind
        with self._lock:
            (self._hits if hit else self._misses)[kind] += 1

    def save_counts(self) -> None:
        """Add the hits and misses counted here since the last save to the location's totals."""
        with self._lock:
            hits, misses = self._hits, self._misses
            self._hits, self._misses = Counter(), Counter()
        if not hits and not misses:
            return
        skey = _counts_key()

        def op(backend: Backend) -> None:
            with _transaction(backend):
                old_hits, old_misses = self._read_counts(backend)
                totals = {"hits": dict(old_hits + hits), "misses": dict(old_misses + misses)}
                backend.set(skey, _frame(_COUNTS_KIND, JSON, skey, encode_json(totals)))

        self._run(op)

    def info(self) -> dict:
        """What the location holds, by kind, and the hits and misses of every process.

        Saves this process's counts first (`save_counts`). Keys:
        - location (None when the cache is off), enabled (entries go to disk), readonly (the
          location is only read: entries and counts of this process stay in memory; `size`,
          `entries` and `bytes` are the folder's), format_version,
          size_limit (entries are evicted past it; folders are not);
        - size: bytes of every file under the location, whoever wrote it (memory-only: of every
          stored value);
        - entries, bytes: kind -> number and bytes of this format version's entries and
          `folder` artefacts (a folder is one entry, its bytes are all the files in it);
        - other_bytes: `size` minus the sum of `bytes`: the database's own pages, write-ahead
          log and index, entries of other format versions or foreign keys (`stale_entries` of
          them), the hit/miss totals, value files that killed writers left unnamed, and
          `foreign`;
        - foreign: names directly under the location that the store did not create (sorted);
        - hits, misses: kind -> count, over every process since the last `clear`.
        """
        self.save_counts()

        def op(backend: Backend) -> tuple[list[tuple[str, int]], tuple[Counter, Counter], bool]:
            on_disk = not isinstance(backend, MemoryBackend)
            return _entry_sizes(backend), self._read_counts(backend), on_disk

        sizes, (hits, misses), on_disk = self._run(op)
        entries, nbytes, stale = _by_kind(sizes)
        foreign: list[str] = []
        size = sum(n for _, n in sizes)
        if on_disk:
            for kind, count, folder_bytes in _folders(self.path / _FILES / f"v{FORMAT_VERSION}"):
                entries[kind] += count
                nbytes[kind] += folder_bytes
            size = _tree_size(self.path)
            foreign = sorted(p.name for p in _children(self.path)
                             if p.name not in (_ENTRIES, _FILES))
        return {
            "location": None if self.path is None else str(self.path),
            "enabled": isinstance(self._backend, diskcache.Cache),
            "readonly": self.readonly,
            "format_version": FORMAT_VERSION,
            "size": size,
            "size_limit": self.size_limit,
            "entries": dict(entries),
            "bytes": dict(nbytes),
            "other_bytes": size - sum(nbytes.values()),
            "stale_entries": stale,
            "foreign": foreign,
            "hits": dict(hits),
            "misses": dict(misses),
        }

    def clear(self) -> None:
        """Remove every entry, folder (of every format version), hit/miss count and value file
        no row names (`SafeDisk.remove_orphans`; a write in flight in another process is lost),
        then shrink the database file as far as other processes' open reads allow. Names under
        the location that the store did not create (`info()["foreign"]`) are left alone."""
        if self.readonly:
            raise UsageError(f"the cache at {self.path} is read-only (TYPEDECODE_CACHE_READONLY, "
                             f"or a folder this process cannot write): it cannot be cleared")
        with self._lock:
            self._hits, self._misses = Counter(), Counter()

        def op(backend: Backend) -> None:
            backend.clear()
            if isinstance(backend, diskcache.Cache):
                _remove_orphans(backend, 0)
                files = self.path / _FILES
                if files.exists():
                    shutil.rmtree(files)
                files.mkdir()
                _shrink(backend)

        self._run(op)

    def checkpoint(self, wait: float | None = None) -> bool:
        """Fold the database's write-ahead log into the database file, so that read-only
        openers, which read only that file, see every entry; waits up to `wait` seconds (None:
        the store's lock timeout) for other processes' reads and writes, and returns False when
        they still kept part of the log (try again when they are done). True for a memory-only or read-only store (nothing to fold).
        `typedecode cache warm` calls it last."""
        def op(backend: Backend) -> bool:
            if not isinstance(backend, diskcache.Cache):
                return True
            seconds = _TIMEOUT if wait is None else wait
            backend._sql(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
            try:
                ((busy, _, _),) = backend._sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                backend._sql(f"PRAGMA busy_timeout = {int(_TIMEOUT * 1000)}")
            return busy == 0

        return self._run(op)

    # -- internals -------------------------------------------------------------------------

    def _open_readonly(self, path: Path) -> Backend:
        """The read-only view of the database at `path`, or a memory backend (one
        `CacheWarning`) when there is none."""
        try:
            backend = ReadOnlyBackend(path / _ENTRIES, self.size_limit)
        except FileNotFoundError:
            warnings.warn(f"typedecode cache: the read-only cache folder {path} holds no "
                          f"database (warm it first: typedecode cache warm); continuing with an "
                          f"in-memory cache for this process", CacheWarning, stacklevel=4)
            self._degraded = True
            return MemoryBackend(self.size_limit)
        if backend.pending_log:
            warnings.warn(f"typedecode cache: the read-only cache folder {path} has entries in "
                          f"its write-ahead log, which read-only processes do not see (the "
                          f"process that wrote them did not finish: warm it again with "
                          f"typedecode cache warm)", CacheWarning, stacklevel=4)
        return backend

    def _open_disk(self, path: Path) -> diskcache.Cache:
        """The disk backend at `path`; a damaged database is removed and started afresh (one
        `CacheWarning`), and now and then (`_SWEEP_CHANCE`) what dead writers left is removed
        (`_remove_orphans`, `_remove_abandoned_builds`)."""
        try:
            backend = _open_entries(path / _ENTRIES, self.size_limit)
        except sqlite3.DatabaseError as exc:
            if not _is_damaged(exc):
                raise
            _remove_database(path / _ENTRIES)
            backend = _open_entries(path / _ENTRIES, self.size_limit)
            warnings.warn(f"typedecode cache: the database in {path / _ENTRIES} was damaged "
                          f"({exc}); it was removed and its entries will be rebuilt",
                          CacheWarning, stacklevel=4)
        try:
            (path / _FILES).mkdir(exist_ok=True)
        except OSError:
            backend.close()
            raise
        if random.random() < _SWEEP_CHANCE:
            try:
                _remove_orphans(backend, _ORPHAN_AGE)
                _remove_abandoned_builds(path / _FILES, _ORPHAN_AGE)
            except _IO_ERRORS:  # best effort: a later open sweeps again
                pass
        return backend

    def _get(self, kind: str, key: str, codec: bytes, decode: Callable[[bytes], T]) -> T | None:
        skey = _store_key(kind, codec, key)
        value = self._run(lambda backend: self._read(backend, kind, skey, codec, decode))
        with self._lock:
            (self._misses if value is None else self._hits)[kind] += 1
        return value

    def _put(self, kind: str, key: str, codec: bytes, payload: bytes) -> None:
        skey = _store_key(kind, codec, key)
        blob = _frame(kind, codec, skey, payload)
        self._run(lambda backend: backend.set(skey, blob))

    def _read(self, backend: Backend, kind: str, skey: str, codec: bytes,
              decode: Callable[[bytes], T]) -> T | None:
        """The decoded entry, or None when missing; a bad entry is deleted and reported."""
        try:
            blob = _get_settled(backend, skey)
            if blob is None:
                return None
            return decode(unframe(blob, FORMAT_VERSION, codec, kind, skey))
        except (CorruptEntry, UnsafeEntry) as exc:
            backend.delete(skey)
            self._warn_once(kind, exc)
            return None

    def _read_counts(self, backend: Backend) -> tuple[Counter[str], Counter[str]]:
        """The location's stored hit and miss totals (empty when absent or malformed)."""
        stored = self._read(backend, _COUNTS_KIND, _counts_key(), JSON, decode_json)
        if not isinstance(stored, dict):
            return Counter(), Counter()
        return _count_table(stored.get("hits")), _count_table(stored.get("misses"))

    def _run(self, op: Callable[[Backend], T]) -> T:
        """Run `op` on the current backend; on an I/O failure, degrade to memory and rerun."""
        backend = self._backend
        try:
            if not isinstance(backend, diskcache.Cache):
                return op(backend)
            with backend.disk.committing():  # a failed write leaves no value file behind
                return op(backend)
        except _IO_ERRORS as exc:
            self._degrade(exc, backend)
            return op(self._backend)

    def _degrade(self, exc: BaseException, failed: Backend) -> None:
        with self._lock:
            if self._backend is failed and not isinstance(failed, MemoryBackend):
                self._backend = (failed.overlay if isinstance(failed, ReadOnlyBackend)
                                 else MemoryBackend(self.size_limit))
                try:
                    failed.close()
                except _IO_ERRORS:
                    pass
                if _is_damaged(exc) and not self.readonly:  # the next process starts afresh
                    _remove_database(self.path / _ENTRIES)
            if self._degraded:
                return
            self._degraded = True
        removed = (" (the damaged database was removed)"
                   if _is_damaged(exc) and not self.readonly else "")
        warnings.warn(
            f"typedecode cache: cannot use {self.path} ({type(exc).__name__}: {exc}){removed}; "
            "continuing with an in-memory cache for this process",
            CacheWarning,
            stacklevel=3,
        )

    def _warn_once(self, kind: str, exc: Exception) -> None:
        with self._lock:
            if kind in self._warned_kinds:
                return
            self._warned_kinds.add(kind)
        warnings.warn(
            f"typedecode cache: dropped a corrupt {kind!r} entry ({exc}); it will be rebuilt "
            "(further corrupt entries of this kind are dropped silently)",
            CacheWarning,
            stacklevel=3,
        )


_TIMEOUT = 60  # seconds; diskcache.Cache's default
# Tables, indexes and triggers that `diskcache.Cache.__init__` creates for EVICTION_POLICY.
_SCHEMA = {"Settings", "Cache", "Cache_key_raw", "Cache_expire_time", "Cache_store_time",
           "Settings_count_insert", "Settings_count_delete", "Settings_size_insert",
           "Settings_size_update", "Settings_size_delete"}


_OVERWRITE_RETRIES = 8
# A write takes well under the SQLite lock timeout between writing a value file and committing
# the row naming it, and an artefact build writes all along, so an unnamed value file or a
# "."-named build folder untouched this long was left by a process that died. Stores look for
# them at one open in _SWEEP_CHANCE.
_ORPHAN_AGE = 3600.0
_SWEEP_CHANCE = 1 / 64
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_DAMAGED_MESSAGES = {"file is not a database", "database disk image is malformed"}


def _not_writable(path: Path) -> bool:
    """Whether `path` exists but this process may not write in it (a read-only mount; as root,
    permission bits do not count), or read-only use was asked for (`readonly_requested`)."""
    if readonly_requested():
        return True
    entries = path / _ENTRIES
    return any(p.exists() and not os.access(p, os.W_OK) for p in (path, entries))


def _get_settled(backend: Backend, skey: str) -> bytes | None:
    """`backend.get(skey)`, read again while other processes write over the entry under it (its
    value file vanishes between the row and the file); a miss after `_OVERWRITE_RETRIES` tries."""
    for _ in range(_OVERWRITE_RETRIES):
        try:
            return backend.get(skey)
        except ValueFileGone:
            continue
    return None


def _open_entries(directory: Path, size_limit: int) -> diskcache.Cache:
    """The diskcache database in `directory` (created if missing) with the store's settings."""
    settings = {"size_limit": size_limit, "eviction_policy": EVICTION_POLICY,
                "disk_min_file_size": _MIN_FILE_SIZE}
    backend = _open_ready(directory, settings)
    if backend is None:
        backend = diskcache.Cache(str(directory), disk=SafeDisk, **settings)
    return backend


@contextmanager
def _transaction(backend: Backend) -> Iterator[None]:
    """`backend.transact()` (a read-modify-write atomic across processes); on disk, the value
    files its writes replace are removed after the commit, not before (`SafeDisk`)."""
    if not isinstance(backend, diskcache.Cache):
        with backend.transact():
            yield
        return
    with backend.disk.deferring_removals(), backend.transact():
        yield


def _is_damaged(exc: BaseException) -> bool:
    """Whether `exc` is SQLite finding that the database file is not a sound database."""
    return isinstance(exc, sqlite3.DatabaseError) and (
        getattr(exc, "sqlite_errorname", None) in _DAMAGED or str(exc) in _DAMAGED_MESSAGES)


def _remove_database(directory: Path) -> None:
    """Remove the database file and its log (best effort): the next open starts a fresh one.
    Processes that still have the old file open keep working on it, and their writes are lost;
    its value files are left for `_remove_orphans`."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(directory / (diskcache.core.DBNAME + suffix))
        except OSError:
            pass


def _remove_orphans(cache: diskcache.Cache, min_age: float) -> None:
    """Remove the value files no row of `cache` names, last written `min_age` seconds ago or
    earlier (`SafeDisk.remove_orphans`)."""
    named = {name for (name,) in
             cache._sql("SELECT filename FROM Cache WHERE filename IS NOT NULL").fetchall()}
    cache.disk.remove_orphans(named, min_age)


def _remove_abandoned_builds(files: Path, min_age: float) -> None:
    """Remove the artefacts being built under `files` (folders named with a leading "." beside
    `Store.folder` targets) in which nothing was written for `min_age` seconds: a process died
    building or replacing them."""
    cutoff = time.time() - min_age
    for version in _children(files):
        for kind in _children(version):
            for child in _children(kind):
                if child.name.startswith(".") and child.is_dir() and _newest_write(child) < cutoff:
                    shutil.rmtree(child, ignore_errors=True)


def _newest_write(root: Path) -> float:
    """The latest modification time of `root` and everything under it (links not followed)."""
    newest = 0.0
    for dirpath, _, filenames in os.walk(root):
        for path in [dirpath, *(os.path.join(dirpath, name) for name in filenames)]:
            try:
                newest = max(newest, os.lstat(path).st_mtime)
            except OSError:
                pass
    return newest


def _open_ready(directory: Path, settings: dict) -> diskcache.Cache | None:
    """The cache in `directory` opened without writing, or None to open it the usual way.

    `diskcache.Cache.__init__` rewrites every setting and recreates the schema (about 70 SQL
    statements and a WAL checkpoint at its close), which dominates a warm start. When the
    database already holds exactly `settings` (over diskcache's defaults), its metadata and its
    whole schema, that work changes nothing, so this sets up the same instance with a few
    reads. Only for the diskcache release line it was written against (5.6); any doubt means
    None.
    """
    folder = os.path.expandvars(os.path.expanduser(str(directory)))  # as diskcache does
    if not diskcache.__version__.startswith("5.6.") or \
            not os.path.isfile(os.path.join(folder, diskcache.core.DBNAME)):
        return None
    wanted = {**diskcache.core.DEFAULT_SETTINGS, **settings}
    cache = diskcache.Cache.__new__(diskcache.Cache)
    cache._directory = folder
    cache._timeout = _TIMEOUT
    cache._local = threading.local()
    cache._txn_id = None
    try:
        stored = dict(cache._sql("SELECT key, value FROM Settings").fetchall())
        schema = {name for (name,) in cache._sql("SELECT name FROM sqlite_master").fetchall()}
        if any(stored.get(k) != v for k, v in wanted.items()) \
                or not set(diskcache.core.METADATA) <= set(stored) \
                or not _SCHEMA <= schema or "Cache_tag_rowid" in schema:
            cache.close()
            return None
        cache._disk = SafeDisk(folder)
        for name, value in wanted.items():
            if name.startswith("disk_"):
                setattr(cache._disk, name[5:], value)
            setattr(cache, name, value)
        for name in diskcache.core.METADATA:
            setattr(cache, name, stored[name])
        ((cache._page_size,),) = cache._sql("PRAGMA page_size").fetchall()
    except sqlite3.Error:
        cache.close()
        return None
    return cache


def _decode_views(payload: bytes | memoryview) -> Arrays:
    """`decode_arrays` as read-only views (`get_arrays(views=True)`; a function, not a partial
    made per call)."""
    return decode_arrays(payload, views=True)


def _store_key(kind: str, codec: bytes, key: str) -> str:
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise UsageError(f"cache kind must be 1-64 characters of [A-Za-z0-9_.-] "
                         f"not starting with '.' or '-', got {kind!r}")
    if not isinstance(key, str):
        raise UsageError(f"cache key must be str, not {type(key).__name__}")
    return f"typedecode/v{FORMAT_VERSION}/{kind}/{codec.decode()}/{_digest(key)}"


def _digest(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def _frame(kind: str, codec: bytes, skey: str, payload: bytes) -> bytes:
    return frame(FORMAT_VERSION, codec, kind, skey, payload)


def _counts_key() -> str:
    """The store key of the location's hit/miss totals (no kind's key can equal it)."""
    return f"typedecode/v{FORMAT_VERSION}/{_COUNTS_KIND}"


def _count_table(value: object) -> Counter[str]:
    """`value` as kind -> count when it is a JSON object of non-negative integers, else empty."""
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and type(n) is int and n >= 0 for k, n in value.items()):
        return Counter()
    return Counter(value)


def _entry_sizes(backend: Backend) -> list[tuple[str, int]]:
    """(store key, bytes of its value) for every entry; a key that is not text reads as ""."""
    if isinstance(backend, (MemoryBackend, ReadOnlyBackend)):
        return backend.sizes()
    # diskcache keeps a value of at least _MIN_FILE_SIZE bytes in a file (`size` is its length,
    # `value` NULL) and a smaller one in the row (`size` 0).
    rows = backend._sql("SELECT key, raw, size + COALESCE(length(value), 0) FROM Cache").fetchall()
    return [(key if raw and isinstance(key, str) else "", size) for key, raw, size in rows]


def _by_kind(sizes: Iterable[tuple[str, int]]) -> tuple[Counter[str], Counter[str], int]:
    """Entries and bytes by kind of this format version's keys, and the number of other keys
    (other format versions, foreign); the hit/miss totals count in none of them."""
    prefix, counts_key = f"typedecode/v{FORMAT_VERSION}/", _counts_key()
    entries: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    stale = 0
    for key, size in sizes:
        if key == counts_key:
            continue
        if key.startswith(prefix):
            kind = key[len(prefix):].split("/", 1)[0]
            entries[kind] += 1
            nbytes[kind] += size
        else:
            stale += 1
    return entries, nbytes, stale


def _folders(root: Path) -> list[tuple[str, int, int]]:
    """(kind, folders, bytes) for each kind folder under `root`; names starting with "." (an
    artefact being built, or one left by a crash) count in the bytes but not as folders."""
    found = []
    for kind_dir in _children(root):
        count = sum(not child.name.startswith(".") for child in _children(kind_dir))
        size = _tree_size(kind_dir)
        if count or size:
            found.append((kind_dir.name, count, size))
    return found


def _children(folder: Path) -> list[Path]:
    """The entries of `folder` (none if it is missing or unreadable)."""
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _shrink(cache: diskcache.Cache) -> None:
    """Hand the pages freed by deletions back to the file system: under diskcache's auto-vacuum,
    a checkpoint that truncates the write-ahead log does it. Best effort: a process in the
    middle of a read leaves the log for a later checkpoint."""
    try:
        cache._sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        pass


def _tree_size(root: Path) -> int:
    """Bytes of every file under `root` (links not followed; 0 if it is missing)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


_LIVE: weakref.WeakSet[Store] = weakref.WeakSet()


def _save_all_counts() -> None:
    """Save the hit/miss counts of every live store (run at interpreter exit)."""
    for store in list(_LIVE):
        store.save_counts()


def _forget_inherited_counts() -> None:
    """In a forked child: drop the counts copied from the parent, which the parent saves."""
    for store in list(_LIVE):
        store._hits, store._misses = Counter(), Counter()


atexit.register(_save_all_counts)
os.register_at_fork(after_in_child=_forget_inherited_counts)

_STORES: dict[Path | tuple | None, Store] = {}  # by location, and by `_resolution`
_STORES_LOCK = threading.Lock()


def get_store(cache_dir: str | os.PathLike | bool | None = None) -> Store:
    """The process-wide Store for the location `cache_dir` resolves to (created on first use).

    Resolving a location (paths made absolute and compared) is remembered per argument and
    what the resolution reads (`_resolution`), so a repeated call costs a few dict lookups."""
    seen = _resolution(cache_dir)
    store = None if seen is None else _STORES.get(seen)
    if store is not None:
        return store
    location = resolve_cache_dir(cache_dir)
    key = None if location is None else location.absolute()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(False if key is None else key)
        if seen is not None:
            _STORES[seen] = store
        return store


_RESOLUTION_VARIABLES = (ENV_VAR, "XDG_CACHE_HOME", "HOME", "LOCALAPPDATA")


def _resolution(cache_dir: object) -> tuple | None:
    """What `resolve_cache_dir(cache_dir)` and `Path.absolute` read, as a key of `_STORES`
    (never equal to a location's), or None for an argument that is not hashable."""
    try:
        hash(cache_dir)
        folder = os.getcwd()
    except (TypeError, OSError):  # unhashable; no working folder (it was removed)
        return None
    return (type(cache_dir), cache_dir, *limits.environment(_RESOLUTION_VARIABLES), folder)
