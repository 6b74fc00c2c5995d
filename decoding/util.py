"""Small helpers shared by several layers; imports nothing of typedecode.

- `gc_paused()`: a context manager that pauses the cyclic garbage collector while a build creates
  many small acyclic objects (a full collection over a process holding torch and transformers
  costs hundreds of ms). Not thread-safe: another thread's pause may end inside this one.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


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
