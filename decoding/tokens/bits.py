"""Token flags packed eight per byte, lowest bit first: token t is bit `t % 8` of byte `t // 8`.

That is the layout of the int32 token bitmasks of vLLM, llguidance and xgrammar read as bytes on
a little-endian machine (token `32*w + k` is bit k of word w), so a packed row fills such a
bitmask by a copy (`fill_words`). Unused bits past the last token are 0.
"""

from __future__ import annotations

import sys

import numpy as np


def pack(flags: np.ndarray) -> np.ndarray:
    """uint8 [ceil(n / 8)]: the n bools of `flags`, packed."""
    return np.packbits(flags, bitorder="little")


def unpack(bits: np.ndarray, count: int) -> np.ndarray:
    """bool [count]: the first `count` flags of packed `bits`."""
    return np.unpackbits(bits, count=count, bitorder="little").view(bool)


def has(bits: np.ndarray, t: int) -> bool:
    """Whether flag `t` is set."""
    return bool(bits[t >> 3] >> (t & 7) & 1)


def fill_words(bits: np.ndarray, words: np.ndarray) -> None:
    """Write packed `bits` into `words`, one row of an int32 bitmask (`ceil(width / 32)` words,
    width at least 8 * len(bits)); the words past the bits are zeroed."""
    if sys.byteorder != "little":  # pragma: no cover - no such machine runs the tests
        raise RuntimeError("int32 bitmasks are filled on little-endian machines only")
    out = words.view(np.uint8)
    out[:len(bits)] = bits
    out[len(bits):] = 0
