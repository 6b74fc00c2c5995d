"""Token flags packed eight per byte, lowest bit first: token t is bit `t % 8` of byte `t // 8`.

That is the layout of the int32 token bitmasks of vLLM, llguidance and xgrammar read as bytes on
a little-endian machine (token `32*w + k` is bit k of word w), so a packed row fills such a
bitmask by a copy (`fill_words`), and `fill_rows` fills many rows at once (compiled, in one call
that releases the GIL when it writes 1 MiB or more, where the C module `decoding.tokens._walk`
is built and `TYPEDECODE_COMPILED_WALK` is not 0; else `fill_words` per row). Unused bits past the last token
are 0.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from decoding.tokens.compiled import compiled_module


def pack(flags: np.ndarray) -> np.ndarray:
    """uint8 [ceil(n / 8)]: the n bools of `flags`, packed."""
    return np.packbits(flags, bitorder="little")


def unpack(bits: np.ndarray, count: int) -> np.ndarray:
    """bool [count]: the first `count` flags of packed `bits`."""
    return np.unpackbits(bits, count=count, bitorder="little").view(bool)


_EIGHT = np.arange(8, dtype=np.int64)


def ids(bits: np.ndarray, count: int) -> np.ndarray:
    """int64, ascending: the ids of the set flags among the first `count` of packed `bits`.
    Where at most a quarter of the bytes are non-zero (a state that allows few tokens), only
    those bytes are unpacked: 262,144 flags cost a pass over 32 kB instead of 262 kB."""
    nonzero = np.flatnonzero(bits[:(count + 7) // 8].view(bool))  # bytes: faster as bool
    if 4 * len(nonzero) > len(bits):
        return np.flatnonzero(unpack(bits, count))
    flags = np.unpackbits(bits[nonzero], bitorder="little").view(bool).reshape(-1, 8)
    found = (nonzero[:, None] * 8 + _EIGHT)[flags]
    return found[found < count] if len(found) and found[-1] >= count else found


def count(bits: np.ndarray) -> int:
    """How many flags are set."""
    return int(np.bitwise_count(bits).sum(dtype=np.int64))


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


def fill_rows(bits: Sequence[np.ndarray], eos: Sequence[np.ndarray], out: np.ndarray) -> None:
    """Row i of `out` (int32 [at least len(bits), words], rows contiguous): `bits[i]` as
    `fill_words` writes it, plus the flags of the token ids in `eos[i]` (int64; empty: none).
    Every row must fit (`ValueError` otherwise, before anything is written)."""
    if sys.byteorder != "little":  # pragma: no cover - no such machine runs the tests
        raise RuntimeError("int32 bitmasks are filled on little-endian machines only")
    kernel = getattr(compiled_module(), "fill_rows", None)  # None: not built, or built before it
    if kernel is not None:
        kernel(bits if type(bits) is list else list(bits),
               eos if type(eos) is list else list(eos), out)
        return
    width = out.shape[1] * 32 if out.ndim == 2 else 0
    if out.ndim != 2 or len(out) < len(bits) or any(
            len(b) * 8 > width or (len(e) and not 0 <= e.min() <= e.max() < width)
            for b, e in zip(bits, eos)):
        raise ValueError(f"fill_rows: {len(bits)} rows do not fit an int32 bitmask of shape "
                         f"{out.shape}")
    for row, b, e in zip(out, bits, eos):
        fill_words(b, row)
        flags = row.view(np.uint8)
        flags[e >> 3] |= (1 << (e & 7)).astype(np.uint8)
