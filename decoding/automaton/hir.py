"""High-level intermediate representation of a regular language over Unicode code points.

The parser (`decoding.automaton.syntax`) produces these nodes; `to_expr` turns them into
expressions (`decoding.automaton.expr`). Invariants:
- A `CharSet` holds sorted, disjoint, non-adjacent inclusive ranges of Unicode scalar values
  (0..0x10FFFF without the surrogates 0xD800..0xDFFF). An empty `CharSet` matches nothing.
- Flags (case-insensitivity, dot-all) are already applied: nodes carry no flags.
- Anchors are already resolved: nodes carry no assertions. The language is the set of strings
  that `regex.fullmatch` accepts.
- Group captures and laziness are gone: they do not change the language.
- `Repeat.max` is None for an unbounded repetition; `0 <= min` and `min <= max` otherwise.
- `pos` fields are 0-based positions in the pattern text, used in error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from decoding.automaton.expr import Expr

MAX_CODE_POINT = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)


@dataclass(frozen=True)
class CharSet:
    """One character from a set of code-point ranges."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Concat:
    """The items one after another."""

    items: tuple["Node", ...]


@dataclass(frozen=True)
class Alternation:
    """Any one of the items."""

    items: tuple["Node", ...]


@dataclass(frozen=True)
class Repeat:
    """`item` repeated between `min` and `max` times (`max` None: unbounded)."""

    item: "Node"
    min: int
    max: int | None
    pos: int = 0


@dataclass(frozen=True)
class Empty:
    """The empty string."""


Node = Union[CharSet, Concat, Alternation, Repeat, Empty]


def concat(items) -> Node:
    """The concatenation of `items` (any iterable of nodes), flattened, without empty parts."""
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Concat):
            flat.extend(item.items)
        elif not isinstance(item, Empty):
            flat.append(item)
    if not flat:
        return Empty()
    return flat[0] if len(flat) == 1 else Concat(tuple(flat))


def literal(text: str) -> Node:
    """The node matching exactly `text`."""
    if not text:
        return Empty()
    if len(text) == 1:
        return CharSet(((ord(text), ord(text)),))
    return Concat(tuple(CharSet(((ord(c), ord(c)),)) for c in text))


def to_expr(node: Node) -> "Expr":
    """The expression (`decoding.automaton.expr`) with the same language as `node`."""
    from decoding.automaton import expr as x

    memo: dict[int, x.Expr] = {}
    # Post-order without recursion: patterns nest up to MAX_NESTING groups deep.
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if id(n) in memo:
            continue
        children = n.items if isinstance(n, (Concat, Alternation)) else \
            (n.item,) if isinstance(n, Repeat) else ()
        if not ready:
            stack.append((n, True))
            stack.extend((c, False) for c in children)
            continue
        if isinstance(n, CharSet):
            e = x.chars(n.ranges)
        elif isinstance(n, Concat):
            e = x.cat_of(memo[id(c)] for c in n.items)
        elif isinstance(n, Alternation):
            e = x.alt_of(memo[id(c)] for c in n.items)
        elif isinstance(n, Repeat):
            e = x.repeat(memo[id(n.item)], n.min, n.max)
        else:
            e = x.EMPTY
        memo[id(n)] = e
    return memo[id(node)]
