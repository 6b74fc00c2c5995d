"""Language: a regular language known by a name, with its expression built only when needed.

Contract: `name` determines the language (two `Language`s with one name denote the same set of
strings: a schema's canonical JSON plus translator options and code version, a pattern's
text...), so caches may key by it; `expression()` calls `build` at most once per object and
returns its result (an exception from `build` propagates, and the next call tries again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from decoding.automaton.expr import Expr


@dataclass(frozen=True, eq=False)
class Language:
    """A named language whose expression `build` makes on first use."""

    name: str
    build: Callable[[], Expr] = field(repr=False)
    _built: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def expression(self) -> Expr:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._built.append(self.build())
        return self._built[0]

    @property
    def built(self) -> bool:
        """Whether `expression()` has been built."""
        return bool(self._built)
