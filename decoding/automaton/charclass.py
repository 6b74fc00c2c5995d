"""Sets of Unicode code points for the regex syntax layer.

A *range set* (`Ranges`) is a tuple of inclusive `(lo, hi)` code-point pairs that are sorted,
disjoint and non-adjacent, and contain no surrogate (0xD800..0xDFFF): exactly the form of
`hir.CharSet.ranges`. Every function here returns range sets in that form.

Sets that depend on Unicode tables (`\\d \\w \\s`, `\\p{...}`, POSIX classes, `.`, case-insensitive
matching) are never re-implemented: they are read off the `regex` module itself, by running a
pattern over one string holding every Unicode scalar value in order, so they agree with `regex`
exactly, whatever its Unicode version. Each such set is computed lazily, once per process, and
cached. Case-insensitive matching follows `regex` VERSION0 simple case folding, which is symmetric
but not transitive (I~i, i~U+0130, but not I~U+0130): `case_closure` applies one step of it.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any, Iterable

import numpy as np
import regex

from decoding.automaton.hir import MAX_CODE_POINT, SURROGATES

Ranges = tuple[tuple[int, int], ...]

ALL: Ranges = ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, MAX_CODE_POINT))
_GAP = SURROGATES[1] - SURROGATES[0] + 1


def normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """The range set of the union of `ranges` (any order, overlaps allowed), surrogates removed."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    result: list[tuple[int, int]] = []
    for lo, hi in out:
        if hi < SURROGATES[0] or lo > SURROGATES[1]:
            result.append((lo, hi))
            continue
        if lo < SURROGATES[0]:
            result.append((lo, SURROGATES[0] - 1))
        if hi > SURROGATES[1]:
            result.append((SURROGATES[1] + 1, hi))
    return tuple(result)


def from_code_points(code_points: Iterable[int]) -> Ranges:
    """The range set holding exactly the given code points (surrogates dropped)."""
    return normalize((c, c) for c in code_points)


def union(*sets: Ranges) -> Ranges:
    """The union of range sets."""
    if len(sets) == 1:
        return sets[0]
    return normalize(r for s in sets for r in s)


def complement(ranges: Ranges) -> Ranges:
    """Every scalar value not in `ranges`."""
    out = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODE_POINT:
        out.append((nxt, MAX_CODE_POINT))
    return normalize(out)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """The scalar values in both `a` and `b`."""
    return complement(union(complement(a), complement(b)))


@functools.lru_cache(maxsize=1)
def _all_scalars_text() -> str:
    """Every Unicode scalar value once, in order (string index i is code point i, or i + 0x800
    from the surrogate gap on). Made from numpy ranges of little-endian UTF-32 units: a few ms,
    where an array filled from Python ints took some 20 ms (inside the first mask of the first
    pattern that names a class such as `\\s`)."""
    code_points = np.concatenate((np.arange(SURROGATES[0], dtype="<u4"),
                                  np.arange(SURROGATES[1] + 1, MAX_CODE_POINT + 1, dtype="<u4")))
    return code_points.tobytes().decode("utf-32-le")


def _code_point(index: int) -> int:
    return index if index < SURROGATES[0] else index + _GAP


@functools.lru_cache(maxsize=4096)
def regex_class(item: str, flags: str = "") -> Ranges:
    """The characters c such that `regex.fullmatch(f"(?{flags}){item}", c)` matches.

    `item` must be pattern text matching exactly one character (a class, escape, property or dot);
    `flags` are inline flag letters ("i", "a", "s", "w", "x"). VERSION0 semantics.
    Raises `regex.error` when `regex` rejects the item.
    """
    prefix = f"(?{flags})" if flags else ""
    return matched_ranges(regex.compile(f"{prefix}(?:{item})+", regex.VERSION0))


def matched_ranges(pattern: Any) -> Ranges:
    """The scalar values found by `pattern`, a compiled `re` or `regex` pattern that matches runs
    of characters of one class, in a text of every scalar value."""
    spans = [m.span() for m in pattern.finditer(_all_scalars_text())]
    return normalize((_code_point(start), _code_point(end - 1)) for start, end in spans)


@functools.lru_cache(maxsize=2)
def _case_table(ascii_only: bool) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Sorted code points that match some other character case-insensitively, and for each the
    code points it matches (itself included)."""
    candidates = regex_class(r"[\p{Changes_When_Casemapped}\p{Changes_When_Casefolded}]")
    code_points = [c for lo, hi in candidates for c in range(lo, hi + 1)]
    text = "".join(map(chr, code_points))
    prefix = "(?ai)" if ascii_only else "(?i)"
    keys: list[int] = []
    values: list[tuple[int, ...]] = []
    for c in code_points:
        pattern = regex.compile(prefix + regex.escape(chr(c)), regex.VERSION0, cache_pattern=False)
        matched = tuple(sorted(ord(m.group()) for m in pattern.finditer(text)))
        if len(matched) > 1:
            keys.append(c)
            values.append(matched)
    return tuple(keys), tuple(values)


def case_closure(ranges: Ranges, ascii_only: bool = False) -> Ranges:
    """The characters that `regex` (VERSION0, flag i; with flag a too when `ascii_only`) matches
    case-insensitively against some member of `ranges`."""
    keys, values = _case_table(ascii_only)
    extra: list[int] = []
    for lo, hi in ranges:
        for i in range(bisect.bisect_left(keys, lo), bisect.bisect_right(keys, hi)):
            extra.extend(values[i])
    if not extra:
        return ranges
    return union(ranges, from_code_points(extra))
