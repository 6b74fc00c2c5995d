"""The interface every engine adapter implements, so that `benchmarks.measure` does the same work
for each engine.

Contract:
- `Engine.distribution` names the installed package whose version the report shows.
- `Engine.setup(tokenizer)` does the per-tokenizer work (vocabulary tables); it is timed apart
  from the per-schema work and done once per process.
- `Engine.compile(kind, source)` turns a JSON Schema (`kind == "schema"`, a dict) or a regex
  (`kind == "regex"`, a str) into a fresh `Matcher` at the start of the text. An input the engine
  rejects on purpose (unsupported keyword, bad pattern) raises `Unsupported`; anything else that
  escapes is an engine bug and is recorded as an error.
- `Matcher.mask()` computes the next-token mask in the engine's own form; `advance(token)` commits
  a token and returns False when the engine refuses it; `reset()` goes back to the start.
  `allows(mask, token)` and `is_accepting(mask)` read a mask already computed and are never timed.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Unsupported(Exception):
    """The engine refused the schema or regex with its own error (counted as not compiled)."""


class Matcher(Protocol):
    def reset(self) -> None: ...

    def mask(self) -> Any: ...

    def advance(self, token: int) -> bool: ...

    def allows(self, mask: Any, token: int) -> bool: ...

    def is_accepting(self, mask: Any) -> bool: ...


class Engine(Protocol):
    name: str
    distribution: str  # the installed package whose version the report shows

    def setup(self, tokenizer: Any) -> None: ...

    def compile(self, kind: str, source: Any) -> Matcher: ...


def new_bitmask(vocab_size: int) -> np.ndarray:
    """A zeroed packed mask: bit `t % 32` of int32 word `t // 32` stands for token `t`."""
    return np.zeros((vocab_size + 31) // 32, dtype=np.int32)


def bit_is_set(bitmask: np.ndarray, token: int) -> bool:
    """Whether `token` is allowed in a 1-D packed mask laid out as `new_bitmask` describes."""
    word = token >> 5
    return 0 <= word < bitmask.shape[0] and bool((int(bitmask[word]) >> (token & 31)) & 1)
