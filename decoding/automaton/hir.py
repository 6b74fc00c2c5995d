"""High-level intermediate representation of a regular language over Unicode code points.

The parser (`decoding.automaton.syntax`) produces these nodes; the NFA compiler (`decoding.automaton.nfa`) consumes
them. Invariants:
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
from typing import Union

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
