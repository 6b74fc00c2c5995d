"""A `diskcache.Disk` that never pickles, never unpickles and stays inside its own folder.

Contract (holds even when the SQLite file or the value files were written by someone else):
- keys: only `str` is accepted when writing; a stored key not in raw mode (a pickle) is
  returned as opaque `bytes`, never loaded;
- values: only `bytes` is accepted when writing; reading returns `bytes` or raises
  `UnsafeEntry` for any other stored mode (pickle, text, raw numbers);
- value files: only names of the shape diskcache itself generates (`ab/cd/<28 hex>.val`) are read
  or removed, so a tampered row cannot make the cache read or delete a file elsewhere;
- a value file removed between reading its row and reading the file (another process wrote over
  the entry) raises `ValueFileGone` instead of reading as a miss (diskcache's own behaviour), so
  the store can read the new row;
- a value file is written completely before the row naming it is committed, so no row ever
  names a partial file; inside `deferring_removals` (around a transaction), the files that the
  transaction's writes replace are removed only after it commits (diskcache removes them at once
  inside an outer transaction, so a process killed before the commit left the rolled-back rows
  naming deleted files, and committed merges were lost). A write that fails inside `SafeDisk.committing` (a full disk half-way
  through the file, SQLite refusing the row) removes the files it wrote; a process killed
  between writing a file and committing its row leaves the file behind, unnamed, and
  `remove_orphans` deletes such files once they are older than any write can take.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW, UNKNOWN

from cache.errors import UnsafeEntry, ValueFileGone

_VALUE_FILE = re.compile(r"[0-9a-f]{2}[/\\][0-9a-f]{2}[/\\][0-9a-f]{28}\.val")
_written = threading.local()  # .names: value files written by this thread's current `committing`
_replaced = threading.local()  # .names: value files to remove once this thread's transaction commits


class SafeDisk(diskcache.Disk):
    """Bytes-only serialization for `diskcache.Cache` (see the module docstring)."""

    def __init__(self, directory: str, min_file_size: int = 0, **_ignored: object):
        # Other `disk_*` settings (e.g. pickle_protocol) may sit in an existing Settings table;
        # they are meaningless here because nothing is pickled.
        super().__init__(directory, min_file_size=min_file_size)

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Remove every value file written inside the block if the block raises (the rows that
        would name them were not committed)."""
        outer = getattr(_written, "names", None)
        _written.names = names = []
        try:
            yield
        except BaseException:
            for name in names:
                self.remove(name)
            raise
        finally:
            _written.names = outer
            if outer is not None:
                outer.extend(names)

    @contextmanager
    def deferring_removals(self) -> Iterator[None]:
        """Hold back the removal of value files inside the block, and remove them when it ends
        without an error; wrap it around a transaction, so that happens after the commit (after
        a rollback, the rows still name those files)."""
        if getattr(_replaced, "names", None) is not None:  # nested: the outer block removes
            yield
            return
        _replaced.names = names = []
        try:
            yield
        finally:
            _replaced.names = None
        for name in names:  # reached only without an error: the transaction committed
            self.remove(name)

    def filename(self, key: object = UNKNOWN, value: object = UNKNOWN) -> tuple[str, str]:
        name, full_path = super().filename(key, value)
        names = getattr(_written, "names", None)
        if names is not None:
            names.append(name)
        return name, full_path

    def remove_orphans(self, named: Collection[str], min_age: float) -> None:
        """Remove the value files under the folder that no row names (`named`, read before this
        call) and that were last modified at least `min_age` seconds ago. A file of a write
        still in progress is younger than any sensible `min_age`."""
        cutoff = time.time() - min_age
        for folder, _, files in os.walk(self._directory):
            for file in files:
                name = os.path.relpath(os.path.join(folder, file), self._directory)
                if not _is_value_file(name) or name in named:
                    continue
                try:
                    if os.lstat(os.path.join(folder, file)).st_mtime > cutoff:
                        continue
                except OSError:
                    continue
                self.remove(name)

    def put(self, key: object) -> tuple[str, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys must be str, not {type(key).__name__}")
        return key, True

    def get(self, key: object, raw: bool) -> object:
        if raw:
            return bytes(key) if isinstance(key, (bytes, memoryview)) else key
        return bytes(key)  # a pickled key written by someone else: kept opaque

    def store(self, value: object, read: bool, key: object = UNKNOWN):
        if type(value) is not bytes or read:
            raise TypeError(f"cache values must be bytes, not {type(value).__name__}")
        return super().store(value, False, key=key)

    def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> bytes:
        if mode == MODE_RAW and isinstance(value, (bytes, sqlite3.Binary)):
            return bytes(value)
        if mode == MODE_BINARY and not read and _is_value_file(filename):
            try:
                return super().fetch(mode, filename, value, False)
            except FileNotFoundError:
                raise ValueFileGone(filename) from None
        raise UnsafeEntry(f"refusing to read a stored value of mode {mode} (file {filename!r})")

    def remove(self, file_path: str) -> None:
        if not _is_value_file(file_path):
            return
        held = getattr(_replaced, "names", None)
        if held is not None:
            held.append(file_path)
        else:
            super().remove(file_path)


def _is_value_file(filename: object) -> bool:
    return isinstance(filename, str) and _VALUE_FILE.fullmatch(filename) is not None
