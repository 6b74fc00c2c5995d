"""xgrammar adapter: `TokenizerInfo.from_huggingface`, a one-thread `GrammarCompiler` with its
in-memory cache off (each schema is compiled for real), one `GrammarMatcher` per schema.

JSON Schemas are compiled with `any_whitespace=True` and `strict_mode=False`, so that the schema's
own rules decide (xgrammar's strict mode would forbid properties the schema allows). Masks are
xgrammar's packed int32 bitmask; a compile error raises `Unsupported`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from benchmarks.engines.base import Unsupported, bit_is_set


class _Matcher:
    def __init__(self, matcher: Any, vocab_size: int):
        import xgrammar

        self._matcher = matcher
        self._bitmask = xgrammar.allocate_token_bitmask(1, vocab_size)
        self._view = self._bitmask.numpy()[0]

    def reset(self) -> None:
        self._matcher.reset()

    def mask(self) -> np.ndarray:
        self._matcher.fill_next_token_bitmask(self._bitmask)
        return self._view

    def advance(self, token: int) -> bool:
        return bool(self._matcher.accept_token(token))

    def allows(self, mask: np.ndarray, token: int) -> bool:
        return bit_is_set(mask, token)

    def is_accepting(self, mask: np.ndarray) -> bool:
        return bool(self._matcher.is_completed())


class XGrammarEngine:
    name = "xgrammar"
    distribution = "xgrammar"

    def __init__(self) -> None:
        self._compiler: Any = None
        self._vocab_size = 0

    def setup(self, tokenizer: Any) -> None:
        import xgrammar

        self._vocab_size = len(tokenizer)
        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=self._vocab_size)
        self._compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)

    def compile(self, kind: str, source: Any) -> _Matcher:
        import xgrammar

        try:
            if kind == "schema":
                compiled = self._compiler.compile_json_schema(
                    json.dumps(source), any_whitespace=True, strict_mode=False)
            else:
                compiled = self._compiler.compile_regex(source)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from None
        return _Matcher(xgrammar.GrammarMatcher(compiled), self._vocab_size)


ENGINE = XGrammarEngine()
