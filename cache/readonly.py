"""A read-only view of a store's diskcache database, with the entries made meanwhile in memory.

For a cache folder shared by many processes or nodes (mounted read-only, copied, or just not to
be written): `ReadOnlyBackend` offers the subset of the `diskcache.Cache` interface that
`cache.store` uses (get, set, delete, transact, sizes, close) and never writes under the folder.

Contract:
- The database file is opened by SQLite as `mode=ro&immutable=1`: no lock, no write-ahead log or
  shared-memory file is created or read, so any number of processes (or a read-only mount, or a
  network file system) can read it at once. It must therefore not change while it is open; a
  folder is prepared by `typedecode cache warm`, which folds the write-ahead log into the
  database file at its end (`Store.checkpoint`). Entries still in a non-empty log are not seen
  (`pending_log` says so, and `cache.store` warns).
- Values are read through `SafeDisk` (nothing unpickled; value files only under the folder).
- `set` and `delete` act on an in-memory `MemoryBackend` overlay (same byte budget): a value set
  here is read back from memory first; a deleted key (a corrupt entry the store drops) reads as
  a miss here even though the file keeps it.
- Threads: one SQLite connection per backend, used under a lock (reads take microseconds).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import diskcache

from cache.memory import MemoryBackend
from cache.safe_disk import SafeDisk

_SELECT = ("SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1"
           " AND (expire_time IS NULL OR expire_time > ?)")


class ReadOnlyBackend:
    """The diskcache database in `directory`, read-only, under an in-memory overlay."""

    def __init__(self, directory: Path, size_limit: int):
        database = directory / diskcache.core.DBNAME
        if not database.is_file():
            raise FileNotFoundError(f"no cache database in {directory}")
        uri = f"file:{quote(str(database.absolute()))}?mode=ro&immutable=1"
        self._con = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                    isolation_level=None)
        self._con.execute("SELECT 1 FROM Cache LIMIT 1").fetchall()  # a database, with entries
        self._disk = SafeDisk(str(directory))
        self._lock = threading.Lock()
        self._hidden: set[str] = set()
        self.overlay = MemoryBackend(size_limit)
        self.directory = directory

    @property
    def pending_log(self) -> bool:
        """Whether a non-empty write-ahead log sits beside the database (its entries are not
        seen: the folder was not checkpointed after its last write)."""
        try:
            return os.path.getsize(self.directory / (diskcache.core.DBNAME + "-wal")) > 0
        except OSError:
            return False

    def get(self, key: str) -> bytes | None:
        found = self.overlay.get(key)
        if found is not None or key in self._hidden:
            return found
        with self._lock:
            rows = self._con.execute(_SELECT, (key, time.time())).fetchall()
        if not rows:
            return None
        ((mode, filename, value),) = rows
        return self._disk.fetch(mode, filename, value, False)

    def set(self, key: str, value: bytes) -> None:
        self.overlay.set(key, value)

    def delete(self, key: str) -> bool:
        self._hidden.add(key)
        return self.overlay.delete(key)

    @contextmanager
    def transact(self) -> Iterator[None]:
        with self.overlay.transact():
            yield

    def sizes(self) -> list[tuple[str, int]]:
        """(key, value length) of every entry of the database file (a key that is not text
        reads as ""): what the folder holds, not the overlay."""
        with self._lock:
            rows = self._con.execute(
                "SELECT key, raw, size + COALESCE(length(value), 0) FROM Cache").fetchall()
        return [(key if raw and isinstance(key, str) else "", size) for key, raw, size in rows]

    def close(self) -> None:
        with self._lock:
            self._con.close()
