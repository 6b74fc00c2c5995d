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
  the store can read the new row.
"""

from __future__ import annotations

import re
import sqlite3

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW

from cache.errors import UnsafeEntry, ValueFileGone

_VALUE_FILE = re.compile(r"[0-9a-f]{2}[/\\][0-9a-f]{2}[/\\][0-9a-f]{28}\.val")


class SafeDisk(diskcache.Disk):
    """Bytes-only serialization for `diskcache.Cache` (see the module docstring)."""

    def __init__(self, directory: str, min_file_size: int = 0, **_ignored: object):
        # Other `disk_*` settings (e.g. pickle_protocol) may sit in an existing Settings table;
        # they are meaningless here because nothing is pickled.
        super().__init__(directory, min_file_size=min_file_size)

    def put(self, key: object) -> tuple[str, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys must be str, not {type(key).__name__}")
        return key, True

    def get(self, key: object, raw: bool) -> object:
        if raw:
            return bytes(key) if isinstance(key, (bytes, memoryview)) else key
        return bytes(key)  # a pickled key written by someone else: kept opaque

    def store(self, value: object, read: bool, key: object = diskcache.core.UNKNOWN):
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
        if _is_value_file(file_path):
            super().remove(file_path)


def _is_value_file(filename: object) -> bool:
    return isinstance(filename, str) and _VALUE_FILE.fullmatch(filename) is not None
