"""typedecode adapter: `decoding.compile(schema or pattern, tokenizer)` (a schema becomes an
expression as `generate` does it: `decoding.persist.cached.cached_schema_language`, which a warm
process does not translate again); the state
is an int carried by the matcher. Masks are packed int32 bitmasks, the form the peers' adapters
fill and serving engines read, filled by `decoding.guides.bitmask.fill_bitmasks` from the state's
packed entry; `python -m benchmarks.masks --typedecode-mask bool` measures the `torch.BoolTensor`
of `Guide.allowed_tokens` (what `RegexLogitsProcessor` applies) instead.

The disk cache is the folder named by `TYPEDECODE_CACHE_DIR` (the harness points it at an empty
folder for the cold run and reuses that folder for the warm run). `setup` builds the vocabulary
tables by compiling a one-character pattern and computing its first mask (which makes the token
trie, or reads it from the cache) and imports the schema translator's modules (with `jsonschema`,
some 100-150 ms of CPU, which `import decoding` leaves to the first translation), so that
per-schema timings hold only per-schema work, as they do for the peers (llguidance's and
xgrammar's setup import their whole library and build their token tables). Both are counted in
the setup column. `SchemaToRegexError` and `PatternError` raise `Unsupported`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from benchmarks.engines.base import Unsupported, bit_is_set

MASK_FORM = os.environ.get("TYPEDECODE_BENCH_MASK", "bitmask")
""""bitmask" (default) or "bool": set by `benchmarks.masks --typedecode-mask`."""


class _Matcher:
    def __init__(self, guide: Any):
        from decoding.errors import TokenRejected
        from decoding.guides.bitmask import allocate, fill_bitmasks

        self._guide = guide
        self._state = guide.initial_state
        self._bitmask = allocate(1, guide.vocab_size)
        self._row = self._bitmask[0]
        # Bound here, not imported in each call (an import statement per step costs ~1 us).
        self._fill, self._rejected = fill_bitmasks, TokenRejected

    def reset(self) -> None:
        self._state = self._guide.initial_state

    def mask(self) -> Any:
        if MASK_FORM == "bool":
            return self._guide.allowed_tokens(self._state)
        self._fill([(self._guide, self._state)], self._bitmask)
        return self._row

    def advance(self, token: int) -> bool:
        try:
            self._state = self._guide.advance(self._state, token)
        except self._rejected:
            return False
        return True

    def allows(self, mask: Any, token: int) -> bool:
        if isinstance(mask, np.ndarray):
            return bit_is_set(mask, token)
        return 0 <= token < mask.shape[0] and bool(mask[token])

    def is_accepting(self, mask: Any) -> bool:
        return bool(self._guide.is_accepting(self._state))


class TypedecodeEngine:
    name = "typedecode"
    distribution = "typedecode"

    def __init__(self) -> None:
        self._tokenizer: Any = None

    def setup(self, tokenizer: Any) -> None:
        import decoding
        import schema2re.translate  # noqa: F401 - per process: the translator's modules

        self._tokenizer = tokenizer
        guide = decoding.compile("a", tokenizer)
        guide.allowed_tokens(guide.initial_state)  # the trie: a per-tokenizer table

    def compile(self, kind: str, source: Any) -> _Matcher:
        import decoding
        from schema2re.errors import SchemaToRegexError

        try:
            guide = decoding.compile(source, self._tokenizer)
        except (SchemaToRegexError, decoding.PatternError) as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from None
        return _Matcher(guide)


ENGINE = TypedecodeEngine()
