"""An in-process stand-in for `diskcache.Cache`, used when the disk cache is off or unusable.

It offers the subset of the `diskcache.Cache` interface that `cache.store` uses (get, set,
delete, transact, clear, close) with the same meaning for `bytes` values, plus `sizes` (what
`cache.store` reads from diskcache's table for `info`), and evicts the least recently stored
entries once the total value size exceeds `size_limit` (the entry just written is always kept).
Thread-safe; nothing is shared between processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager


class MemoryBackend:
    """Insertion-ordered dict of str -> bytes with a byte budget (oldest write evicted first)."""

    def __init__(self, size_limit: int):
        self.size_limit = size_limit
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.RLock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._items.get(key)

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self.delete(key)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.size_limit and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)

    def delete(self, key: str) -> bool:
        with self._lock:
            old = self._items.pop(key, None)
            if old is None:
                return False
            self._size -= len(old)
            return True

    @contextmanager
    def transact(self) -> Iterator[None]:
        with self._lock:
            yield

    def sizes(self) -> list[tuple[str, int]]:
        """(key, value length) of every entry."""
        with self._lock:
            return [(key, len(value)) for key, value in self._items.items()]

    def clear(self) -> int:
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._size = 0
            return count

    def close(self) -> None:
        """Nothing to release (present for interface parity with diskcache.Cache)."""
