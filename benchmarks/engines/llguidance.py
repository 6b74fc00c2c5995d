"""llguidance adapter: `LLTokenizer` from the HF tokenizer, one `LLMatcher` per schema.

JSON Schemas go through `LLMatcher.grammar_from_json_schema` with llguidance's defaults (unknown
keywords are errors, flexible whitespace); a grammar the matcher refuses raises `Unsupported`.
Masks are packed int32 bitmasks filled in place (`unsafe_compute_mask_ptr` on a numpy buffer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.engines.base import Unsupported, bit_is_set, new_bitmask


class _Matcher:
    def __init__(self, matcher: Any, vocab_size: int):
        self._matcher = matcher
        self._bitmask = new_bitmask(vocab_size)

    def reset(self) -> None:
        self._matcher.reset()

    def mask(self) -> np.ndarray:
        self._matcher.unsafe_compute_mask_ptr(self._bitmask.ctypes.data, self._bitmask.nbytes)
        return self._bitmask

    def advance(self, token: int) -> bool:
        return bool(self._matcher.consume_token(token))

    def allows(self, mask: np.ndarray, token: int) -> bool:
        return bit_is_set(mask, token)

    def is_accepting(self, mask: np.ndarray) -> bool:
        return bool(self._matcher.is_accepting())


class LLGuidanceEngine:
    name = "llguidance"
    distribution = "llguidance"

    def __init__(self) -> None:
        self._tokenizer: Any = None

    def setup(self, tokenizer: Any) -> None:
        import llguidance.hf

        self._tokenizer = llguidance.hf.from_tokenizer(tokenizer)

    def compile(self, kind: str, source: Any) -> _Matcher:
        from llguidance import LLMatcher

        try:
            grammar = (LLMatcher.grammar_from_json_schema(source) if kind == "schema"
                       else LLMatcher.grammar_from_regex(source))
        except ValueError as exc:
            raise Unsupported(str(exc)) from None
        matcher = LLMatcher(self._tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise Unsupported(matcher.get_error())
        return _Matcher(matcher, self._tokenizer.vocab_size)


ENGINE = LLGuidanceEngine()
