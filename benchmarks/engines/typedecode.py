"""typedecode adapter: `decoding.compile(schema or pattern, tokenizer)` (a schema becomes an
expression as `generate` does it: `decoding.persist.cached.cached_schema_language`, which a warm
process does not translate again); the state
is an int carried by the matcher, masks are typedecode's own `torch.BoolTensor`.

The disk cache is the folder named by `TYPEDECODE_CACHE_DIR` (the harness points it at an empty
folder for the cold run and reuses that folder for the warm run). `setup` builds the vocabulary
tables by compiling a one-character pattern, so that per-schema timings hold only per-schema work,
as they do for the peers. `SchemaToRegexError` and `PatternError` raise `Unsupported`.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmarks.engines.base import Unsupported


class _Matcher:
    def __init__(self, guide: Any):
        self._guide = guide
        self._state = guide.initial_state

    def reset(self) -> None:
        self._state = self._guide.initial_state

    def mask(self) -> torch.Tensor:
        return self._guide.allowed_tokens(self._state)

    def advance(self, token: int) -> bool:
        from decoding import TokenRejected

        try:
            self._state = self._guide.advance(self._state, token)
        except TokenRejected:
            return False
        return True

    def allows(self, mask: torch.Tensor, token: int) -> bool:
        return 0 <= token < mask.shape[0] and bool(mask[token])

    def is_accepting(self, mask: torch.Tensor) -> bool:
        return bool(self._guide.is_accepting(self._state))


class TypedecodeEngine:
    name = "typedecode"
    distribution = "typedecode"

    def __init__(self) -> None:
        self._tokenizer: Any = None

    def setup(self, tokenizer: Any) -> None:
        import decoding

        self._tokenizer = tokenizer
        decoding.compile("a", tokenizer)

    def compile(self, kind: str, source: Any) -> _Matcher:
        import decoding
        from schema2re.errors import SchemaToRegexError

        try:
            guide = decoding.compile(source, self._tokenizer)
        except (SchemaToRegexError, decoding.PatternError) as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from None
        return _Matcher(guide)


ENGINE = TypedecodeEngine()
