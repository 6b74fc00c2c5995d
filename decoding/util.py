"""Small helpers shared by several layers; imports nothing of typedecode.

- `gc_paused()`: a context manager that pauses the cyclic garbage collector while a build creates
  many small acyclic objects (a full collection over a process holding torch and transformers
  costs hundreds of ms). Not thread-safe: another thread's pause may end inside this one.
- `LRU(maxsize)`: a bounded, thread-safe mapping that forgets its least recently used entry;
  the in-process memos (constraints, automata, token indexes, guides, generators) use it.
  `trim(weigh, budget)` also bounds it by weight (bytes), the most recent entry always kept;
  `total(weigh)` is that weight.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (restored as it was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LRU(Generic[K, V]):
    """A mapping of at most `maxsize` entries that evicts the least recently used one.

    Contract: `get` and `put` make their key the most recently used; `put` of a new key into a
    full LRU evicts the least recently used entry and returns its value (a caller may have to
    finish that value's work, e.g. save it), `put` of a present key replaces its value and
    evicts nothing. Values are never None (`get` returns None for a missing key). Each method
    is atomic under one lock, so an LRU may be shared between threads; a caller that must not
    compute one value twice still holds its own lock across its `get`, computation and `put`.
    """

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under `key`, now the most recently used, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V | None:
        """Store `value` under `key` as the most recently used; return the value evicted to
        stay within `maxsize`, or None."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.maxsize:
                return self._entries.popitem(last=False)[1]
            return None

    def total(self, weigh: Callable[[V], int]) -> int:
        """The values' total `weigh`, taken now."""
        with self._lock:
            return sum(weigh(v) for v in self._entries.values())

    def trim(self, weigh: Callable[[V], int], budget: int) -> list[V]:
        """Evict least recently used entries, never the most recent one, until the values'
        total `weigh` is at most `budget` (weights are taken now: values may have grown since
        they were put); return the evicted values, oldest first."""
        with self._lock:
            weights = [weigh(v) for v in self._entries.values()]
            total, evicted = sum(weights), []
            for w in weights[:-1]:
                if total <= budget:
                    break
                evicted.append(self._entries.popitem(last=False)[1])
                total -= w
            return evicted
