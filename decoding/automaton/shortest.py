"""Shortest words: for an expression, one of the shortest byte strings of its language.

`shortest_word(e)` returns a byte string of minimal length in the language of `e` (None when the
language is empty); `distance(e)` is its length. Together with derivatives this is the distance
from an automaton state (an expression, `decoding.automaton.dfa`) to the nearest accepting state:
`distance(derivative(e, b)) >= distance(e) - 1` for every byte b, with equality for the first
byte of `shortest_word(e)`.

How (exact, for every expression):
- by structure where the structure decides it: `EMPTY` is b""; a byte set, its lowest byte; a
  character set, the UTF-8 encoding of its lowest code point (the shortest encodings have the
  lowest code points); a concatenation, the concatenation of its parts' words (a
  concatenation's parts are never empty languages: `NOTHING` is absorbed); an alternation, the
  shortest of its items' words (ties: the first in the alternation's fixed order); a repetition
  `r{lo,hi}`, `lo` copies of `r`'s word;
- a nullable expression is b"" at once;
- an intersection or complement (not nullable) by a breadth-first search over its derivatives
  (one byte per class of bytes with one derivative, `expr.class_starts`): a derivative without
  `&` and `~` is finished by structure, so the search stops at the first level past the best
  word found so far. At most `MAX_SEARCH` derivatives; one more raises `PatternTooComplex`.
Results are memoized on the expression (weakly: the memo never keeps an expression alive).
Concatenation chains are walked in a loop, not by recursion, so long literals are fine.

Threads: the memo is filled without a lock; a word is a function of the expression alone (ties
are broken by the alternation's fixed order and the search's byte order), so two threads store
the same value.
"""

from __future__ import annotations

import weakref

from decoding.automaton.expr import (AND, BYTES, CAT, CHARS, NOT, NOTHING_KIND, OR,
                                     REPEAT, Expr, class_starts, derivative)
from decoding.errors import PatternTooComplex

MAX_SEARCH = 20_000
"""Most derivatives one intersection's or complement's search explores."""

_NONE = b"\x00none"  # memo marker for the empty language (never a word: words are bytes objects)
_MEMO: weakref.WeakKeyDictionary[Expr, bytes | None] = weakref.WeakKeyDictionary()


def distance(e: Expr) -> int | None:
    """Length of the shortest string of `e` (None: `e` is empty)."""
    word = shortest_word(e)
    return None if word is None else len(word)


def shortest_word(e: Expr) -> bytes | None:
    """One shortest string of `e` (None: `e` is empty); see the module docstring."""
    found = _MEMO.get(e)
    if found is None:
        word = _word(e)
        _MEMO[e] = found = _NONE if word is None else word
    return None if found is _NONE else found


def _word(e: Expr) -> bytes | None:
    k = e.kind
    if k == NOTHING_KIND:
        return None
    if e.nullable:
        return b""
    if k == BYTES:
        return bytes(((e.mask & -e.mask).bit_length() - 1,))
    if k == CHARS:
        return chr(e.ranges[0][0]).encode("utf-8")
    if k == CAT:
        parts = []
        while e.kind == CAT:
            head, e = e.items
            parts.append(shortest_word(head))
        parts.append(shortest_word(e))
        return None if any(p is None for p in parts) else b"".join(parts)
    if k == OR:
        words = [w for w in map(shortest_word, e.items) if w is not None]
        return min(words, key=len) if words else None
    if k == REPEAT:
        word = shortest_word(e.items[0])
        return None if word is None else word * e.lo
    if k in (AND, NOT):
        return _search(e)
    return None  # EMPTY_KIND is nullable: never here


def _search(e: Expr) -> bytes | None:
    """Breadth-first search over the derivatives of a boolean, non-nullable `e`."""
    best: bytes | None = None
    seen = {e}
    frontier: list[tuple[Expr, bytes]] = [(e, b"")]
    depth = 0
    while frontier and (best is None or depth + 1 < len(best)):
        depth += 1
        nxt = []
        for x, path in frontier:
            for b in class_starts(x):
                y = derivative(x, b)
                if y.kind == NOTHING_KIND or y in seen:
                    continue
                seen.add(y)
                if len(seen) > MAX_SEARCH:
                    raise PatternTooComplex(
                        f"finding the shortest completion of an intersection or complement "
                        f"explored more than {MAX_SEARCH:,} derivatives", None, None)
                step = path + bytes((b,))
                if y.nullable or not y.boolean:
                    rest = shortest_word(y)
                    if rest is not None and (best is None or len(step) + len(rest) < len(best)):
                        best = step + rest
                    continue
                nxt.append((y, step))
        frontier = nxt
    return best
