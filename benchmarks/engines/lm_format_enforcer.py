"""lm-format-enforcer adapter: tokenizer data from its transformers integration helper
(`build_token_enforcer_tokenizer_data`, list masks as that integration uses by default), one
`TokenEnforcer` per schema over a `JsonSchemaParser` (or `RegexParser` for regexes).

The enforcer is driven the way its integration drives it: `get_allowed_tokens(tokens so far)`,
so committing a token is only appending it, and the parsing happens in the next mask. Its own
exception type (`LMFormatEnforcerException`) raises `Unsupported`.

Compatibility: lm-format-enforcer 0.11 imports `PreTrainedTokenizerBase` from
`transformers.tokenization_utils`, which transformers 5 no longer exports there; `integration()`
adds that one name back before importing the helper.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from benchmarks.engines.base import Unsupported


def integration() -> ModuleType:
    import transformers.tokenization_utils as legacy
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    if not hasattr(legacy, "PreTrainedTokenizerBase"):
        legacy.PreTrainedTokenizerBase = PreTrainedTokenizerBase
    from lmformatenforcer.integrations import transformers as integration

    return integration


class _Matcher:
    def __init__(self, enforcer: Any, eos_token_id: int):
        self._enforcer = enforcer
        self._eos = eos_token_id
        self._tokens: list[int] = []

    def reset(self) -> None:
        self._tokens = []

    def mask(self) -> Any:
        return self._enforcer.get_allowed_tokens(self._tokens)

    def advance(self, token: int) -> bool:
        self._tokens.append(token)
        return True

    def allows(self, mask: Any, token: int) -> bool:
        return token in mask.allowed_tokens

    def is_accepting(self, mask: Any) -> bool:
        return self._eos in mask.allowed_tokens


class LMFormatEnforcerEngine:
    name = "lm-format-enforcer"
    distribution = "lm-format-enforcer"

    def __init__(self) -> None:
        self._data: Any = None
        self._eos = -1

    def setup(self, tokenizer: Any) -> None:
        self._data = integration().build_token_enforcer_tokenizer_data(tokenizer)
        self._eos = tokenizer.eos_token_id

    def compile(self, kind: str, source: Any) -> _Matcher:
        from lmformatenforcer import JsonSchemaParser, RegexParser, TokenEnforcer
        from lmformatenforcer.exceptions import LMFormatEnforcerException

        try:
            parser = JsonSchemaParser(source) if kind == "schema" else RegexParser(source)
            enforcer = TokenEnforcer(self._data, parser)
        except LMFormatEnforcerException as exc:
            raise Unsupported(str(exc)) from None
        return _Matcher(enforcer, self._eos)


ENGINE = LMFormatEnforcerEngine()
