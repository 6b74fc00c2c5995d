"""outlines-core adapter: `Vocabulary` built from the tokenizer's token bytes, one eager `Index`
per schema (`json_schema.build_regex_from_schema` with its defaults for JSON Schemas), one `Guide`.

The vocabulary is read as byte-level BPE (GPT-2 alphabet: every byte drawn as one printable
character), which is what SmolLM2 uses; another tokenizer raises `ValueError` at setup. Special
tokens are left out and EOS is given apart, as outlines-core expects. Masks are packed int32
bitmasks written in place by `Guide.write_mask_into`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from benchmarks.engines.base import Unsupported, bit_is_set, new_bitmask


def byte_level_alphabet() -> dict[str, int]:
    """Character -> byte of the GPT-2 byte-level alphabet: printable Latin-1 bytes stand for
    themselves, the other bytes take the characters from U+0100 upwards, in byte order."""
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    table = {chr(b): b for b in printable}
    shifted = [b for b in range(256) if b not in printable]
    for offset, b in enumerate(shifted):
        table[chr(0x100 + offset)] = b
    return table


def token_bytes(tokenizer: Any) -> dict[bytes, list[int]]:
    """Bytes -> ids of every non-special token of a byte-level BPE tokenizer."""
    alphabet = byte_level_alphabet()
    special = set(tokenizer.all_special_ids)
    table: dict[bytes, list[int]] = {}
    for text, token in tokenizer.get_vocab().items():
        if token in special:
            continue
        try:
            raw = bytes(alphabet[ch] for ch in text)
        except KeyError:
            raise ValueError(f"token {token} ({text!r}) is not byte-level BPE text") from None
        table.setdefault(raw, []).append(token)
    return table


class _Matcher:
    def __init__(self, index: Any, vocab_size: int):
        from outlines_core import Guide

        self._index = index
        self._guide = Guide(index)
        self._bitmask = new_bitmask(vocab_size)

    def reset(self) -> None:
        self._guide.reset()

    def mask(self) -> np.ndarray:
        self._guide.write_mask_into(self._bitmask.ctypes.data, self._bitmask.size, 4)
        return self._bitmask

    def advance(self, token: int) -> bool:
        try:
            self._guide.advance(token, return_tokens=False)
        except ValueError:
            return False
        return True

    def allows(self, mask: np.ndarray, token: int) -> bool:
        return bit_is_set(mask, token)

    def is_accepting(self, mask: np.ndarray) -> bool:
        return bool(self._guide.is_finished())


class OutlinesCoreEngine:
    name = "outlines-core"
    distribution = "outlines-core"

    def __init__(self) -> None:
        self._vocabulary: Any = None
        self._vocab_size = 0

    def setup(self, tokenizer: Any) -> None:
        from outlines_core import Vocabulary

        self._vocab_size = len(tokenizer)
        self._vocabulary = Vocabulary(tokenizer.eos_token_id, token_bytes(tokenizer))

    def compile(self, kind: str, source: Any) -> _Matcher:
        from outlines_core import Index
        from outlines_core.json_schema import build_regex_from_schema

        try:
            regex = build_regex_from_schema(json.dumps(source)) if kind == "schema" else source
            index = Index(regex, self._vocabulary)
        except ValueError as exc:
            raise Unsupported(str(exc)) from None
        return _Matcher(index, self._vocab_size)


ENGINE = OutlinesCoreEngine()
