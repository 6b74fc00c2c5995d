"""Regex fragments: languages built by composition, as shared expressions, rendered on request.

A fragment is an `Rx`: an expression (`decoding.automaton.expr`, hash-consed, so a fragment
used in many places is one shared node) and, on request, its `regex`-module text. `None` stands
for the empty language (a fragment that matches nothing), and every combinator propagates it:
`cat` with a `None` part is `None`, `alt` drops `None` branches. `both` and `minus` (intersection
and difference) have no regex text; `Rx.text` raises `UnsupportedSchemaError` for them, and for
text longer than `MAX_CHARS`.

Invariants: repetitions are counters (never expanded), so bounds cost nothing until rendered;
`raw` text is read by `decoding.automaton.syntax`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from decoding.automaton import expr as x
from decoding.automaton.hir import to_expr
from decoding.automaton.render import NoRegexText, escape_char, to_text
from decoding.automaton.syntax import parse
from schema2re.errors import UnsupportedSchemaError

MAX_CHARS = 400_000

_META = set("\\.^$|?*+()[]{}")


@dataclass(frozen=True)
class Rx:
    """A regex fragment: its expression, and its regex text (rendered when first asked for)."""

    expr: x.Expr
    _text: list = field(default_factory=list, compare=False, repr=False)

    @property
    def text(self) -> str:
        """Regex text of the fragment; `UnsupportedSchemaError` when there is none."""
        if not self._text:
            try:
                self._text.append(to_text(self.expr, MAX_CHARS))
            except NoRegexText as exc:
                raise UnsupportedSchemaError(
                    f"{exc}: the schema needs intersection or complement, or a regex over "
                    f"{MAX_CHARS:,} characters; schema2re.to_expression (and decoding.compile, "
                    "generate) still handle it") from None
        return self._text[0]

    @property
    def size(self) -> int:
        """Nodes in the fragment's expression tree (shared parts counted each time)."""
        return self.expr.size


EMPTY = Rx(x.EMPTY)


def escape(text: str) -> str:
    """`text` as a regex matching exactly it (only metacharacters are escaped)."""
    return "".join("\\" + c if c in _META else c for c in text)


def escape_in_class(char: str) -> str:
    """One character written so that it is literal inside `[...]`."""
    return escape_char(ord(char), in_class=True)


@functools.lru_cache(maxsize=4096)
def lit(text: str) -> Rx:
    """The fragment matching exactly `text` (memoized: keys, quotes and separators recur in
    every schema, and a kept fragment keeps its nodes in the intern table for the next)."""
    return Rx(x.literal(text))


@functools.lru_cache(maxsize=4096)
def raw(text: str) -> Rx:
    """A fragment from regex text built elsewhere (parsed once per text)."""
    return Rx(to_expr(parse(text)))


def of(expression: x.Expr) -> Rx | None:
    """The fragment of an expression (None for the empty language)."""
    return None if expression is x.NOTHING else Rx(expression)


def cat(*parts: Rx | None) -> Rx | None:
    """Concatenation; `None` if any part is `None`."""
    if any(p is None for p in parts):
        return None
    return of(x.cat_of(p.expr for p in parts))  # type: ignore[union-attr]


def alt(branches: Iterable[Rx | None]) -> Rx | None:
    """Alternation of the non-`None` branches; `None` if there are none."""
    return of(x.alt_of(b.expr for b in branches if b is not None))


def both(parts: Iterable[Rx | None]) -> Rx | None:
    """Intersection: the strings every part matches; `None` if any part is `None` or nothing
    is left (decided exactly)."""
    items = list(parts)
    if any(p is None for p in items):
        return None
    e = x.both_of(p.expr for p in items)  # type: ignore[union-attr]
    return None if x.is_empty(e) else Rx(e)


def minus(rx: Rx | None, other: Rx | None) -> Rx | None:
    """The strings of `rx` that `other` does not match; `None` if nothing is left."""
    if rx is None or other is None:
        return rx
    e = x.difference(rx.expr, other.expr)
    return None if x.is_empty(e) else Rx(e)


def rep(rx: Rx | None, lo: int, hi: int | None) -> Rx | None:
    """`rx` repeated lo..hi times (`hi` None: unbounded); `None` only if lo > 0 and rx is `None`."""
    if hi is not None and hi < lo:
        return None
    if rx is None:
        return EMPTY if lo == 0 else None
    return of(x.repeat(rx.expr, lo, hi))


def opt(rx: Rx | None) -> Rx:
    """`rx` or nothing."""
    return EMPTY if rx is None else Rx(x.optional(rx.expr))


Trie = dict[str | None, "Trie"]
"""A node of a `string_trie`: character -> the node after it; the key `None` marks an end."""


def string_trie(texts: Iterable[str]) -> Trie:
    """The trie of `texts`, for building factored alternations of them (or their complement).

    Each node maps a character to the node of what follows it, in the order the characters are
    first met, and maps `None` to an empty node where one of the texts ends. No texts: `{}`.
    """
    root: Trie = {}
    for text in texts:
        node = root
        for char in text:
            node = node.setdefault(char, {})
        node[None] = {}
    return root
