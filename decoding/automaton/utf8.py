"""Code-point ranges -> sequences of UTF-8 byte ranges.

`utf8_sequences(lo, hi)` splits the inclusive code-point range into pieces whose UTF-8 encodings
all have the same length and can each be written as one byte range per position. Every code
point in the range is encoded by exactly one returned sequence and no other string is. Surrogates
(0xD800..0xDFFF) are never encoded: callers pass ranges without them.
"""

from __future__ import annotations

_LENGTH_LIMITS = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)

ByteRanges = tuple[tuple[int, int], ...]


def utf8_sequences(lo: int, hi: int) -> list[ByteRanges]:
    """The byte-range sequences matching exactly the UTF-8 encodings of code points lo..hi."""
    out: list[ByteRanges] = []
    stack = [(lo, hi)]
    while stack:
        a, b = stack.pop()
        if a > b:
            continue
        split = _split_point(a, b)
        if split is not None:
            stack.append((split + 1, b))
            stack.append((a, split))
            continue
        ea, eb = chr(a).encode("utf-8"), chr(b).encode("utf-8")
        out.append(tuple(zip(ea, eb)))
    return out


def _split_point(a: int, b: int) -> int | None:
    """Where to cut [a, b] so that both halves encode as byte-range sequences (None: no cut)."""
    for limit in _LENGTH_LIMITS:
        if a <= limit < b:
            return limit
    n = len(chr(a).encode("utf-8"))
    for i in range(1, n):
        mask = (1 << (6 * i)) - 1
        if a & ~mask != b & ~mask:
            if a & mask:
                return a | mask
            if b & mask != mask:
                return (b & ~mask) - 1
    return None
