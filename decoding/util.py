"""Small helpers shared by several layers; imports nothing of typedecode.

- `gc_paused()`: a context manager that pauses the cyclic garbage collector while a build creates
  many small acyclic objects (a full collection over a process holding torch and transformers
  costs hundreds of ms). Thread-safe: pauses overlapping in several threads form one pause, which
  ends (restoring the collector as it was before the first) when the last one ends. A pause
  that re-enables the collector collects the young generations then: the objects the block made,
  which the collector would otherwise examine (twice: generations 0 and 1) during whatever runs
  next, so a build's collection cost is paid by the build, not by the first masks after it.
- `LRU(maxsize)`: a bounded, thread-safe mapping that forgets its least recently used entry;
  the in-process memos (constraints, automata, token indexes, guides, generators) use it.
  `get_or_make` builds a missing value once even when threads ask for it together;
  `trim(weigh, budget)` also bounds it by weight (bytes), the most recent entry always kept, and
  `total(weigh)` is that weight.
- `warn(message, category)` and `noting_warnings()`: typedecode's warnings are emitted through
  `warn`, and a caller that must know whether a build emitted any (the disk cache does not store
  such results) notes them with `noting_warnings()`. The note is per thread (a context
  variable), so unlike `warnings.catch_warnings` it is safe off the main thread and never
  changes the process's warning filters.
- `quiet_warnings()`: the warnings of third-party code run inside the block are ignored. It must
  change the process-wide filters (there is no per-thread filter), so overlapping uses in
  several threads form one section: the filters are saved when the first use begins and
  restored when the last ends, never left changed; while any thread is inside, warnings of the
  other threads are ignored too (the sections are short: one JSON Schema check).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _SharedSection:
    """A process-wide state change that overlapping users in any threads share: `begin` runs
    when the first enters, `end` when the last leaves."""

    def __init__(self, begin: Callable[[], Callable[[], None]]):
        self._begin = begin  # makes the change, returns what undoes it
        self._end: Callable[[], None] | None = None
        self._depth = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._end = self._begin()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._end is not None:
                    self._end, end = None, self._end
                    end()


def _pause_gc() -> Callable[[], None]:
    was_enabled = gc.isenabled()
    gc.disable()
    return _resume_gc if was_enabled else lambda: None


def _resume_gc() -> None:
    gc.enable()
    gc.collect(1)


def _ignore_warnings() -> Callable[[], None]:
    section = warnings.catch_warnings()
    section.__enter__()
    warnings.simplefilter("ignore")
    return lambda: section.__exit__(None, None, None)


gc_paused = _SharedSection(_pause_gc)
"""Pause the cyclic garbage collector for the block (see the module docstring)."""

quiet_warnings = _SharedSection(_ignore_warnings)
"""Ignore every warning inside the block (see the module docstring)."""

_NOTES: contextvars.ContextVar[tuple[list[Warning], ...]] = \
    contextvars.ContextVar("typedecode_warning_notes", default=())


def warn(message: str, category: type[Warning], stacklevel: int = 1) -> None:
    """`warnings.warn(message, category)` with `stacklevel` counted from the caller, noted by
    every `noting_warnings` block this thread is in."""
    for notes in _NOTES.get():
        notes.append(category(message))
    warnings.warn(message, category, stacklevel=stacklevel + 1)


@contextlib.contextmanager
def noting_warnings() -> Iterator[list[Warning]]:
    """A list that receives every warning `warn` emits in this thread inside the block (the
    warnings are emitted as usual too)."""
    notes: list[Warning] = []
    token = _NOTES.set((*_NOTES.get(), notes))
    try:
        yield notes
    finally:
        _NOTES.reset(token)


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
        self._building: dict[K, threading.Lock] = {}  # keys being made by `get_or_make`
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

    def get_or_make(self, key: K, make: Callable[[], V]) -> tuple[V, V | None]:
        """The value under `key`, made by `make()` and put if missing; and the value that put
        evicted (or None). A hit takes only `get`'s lock; threads missing one key together
        wait for one `make()` (an exception in it propagates, and a waiting thread makes the
        value itself)."""
        value = self.get(key)
        if value is not None:
            return value, None
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            try:
                value = self.get(key)
                if value is not None:
                    return value, None
                value = make()
                return value, self.put(key, value)
            finally:
                with self._lock:
                    if self._building.get(key) is building:
                        del self._building[key]

    def total(self, weigh: Callable[[V], int]) -> int:
        """The values' total `weigh`, taken now."""
        with self._lock:
            return sum(map(weigh, self._entries.values()))

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
