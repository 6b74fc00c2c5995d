"""The cache's errors and its warning, under typedecode's roots (`decoding.errors`).

- `CorruptEntry` (`cache.codec`) and `UnsafeEntry` (`cache.safe_disk`): a stored value that is not
  read back. The store catches both, drops the entry and reports it with a `CacheWarning`, so
  neither leaves `cache.Store`.
- `CacheWarning`: the cache dropped a bad entry, fell back to memory, or cannot keep something;
  results stay correct.
A bad argument of a `Store` method is a `decoding.errors.UsageError` naming it.
"""

from __future__ import annotations

from decoding.errors import TypedecodeError, TypedecodeWarning

__all__ = ["CacheWarning", "CorruptEntry", "UnsafeEntry"]


class CorruptEntry(TypedecodeError, ValueError):
    """A stored value that is not a valid frame/payload for the key it was read from."""


class UnsafeEntry(TypedecodeError, ValueError):
    """A stored row that the disk refuses to read (not plain bytes, or a foreign file name)."""


class ValueFileGone(TypedecodeError):
    """An entry's value file was removed while being read because another process wrote over the
    entry: an internal signal from `cache.safe_disk` to `cache.store`, which reads the entry
    again; never raised to users. Not an OSError, so diskcache passes it on."""


class CacheWarning(TypedecodeWarning, UserWarning):
    """The cache dropped a bad entry, fell back to memory or cannot keep something (such as the
    converted default model); results stay correct."""
