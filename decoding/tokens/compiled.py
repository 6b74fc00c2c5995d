"""The C module `decoding.tokens._walk` (the trie walk of `decoding.tokens.walk` and the bitmask
copies of `decoding.tokens.bits.fill_rows`), where it is built and wanted.

`compiled_module()` is None where `pip install` found no C compiler, or with
`TYPEDECODE_COMPILED_WALK=0` (read once per process; tests clear its cache); callers then use
their numpy code, which gives the same results.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType


@functools.cache
def compiled_module() -> ModuleType | None:
    """The C module, or None where it was not built or `TYPEDECODE_COMPILED_WALK=0`."""
    if os.environ.get("TYPEDECODE_COMPILED_WALK", "1") == "0":
        return None
    try:
        from decoding.tokens import _walk
    except ImportError:
        return None
    return _walk
