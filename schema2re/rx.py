"""Regex fragments: build regex text by composition, with correct grouping and a size cap.

A fragment is an `Rx` (text plus precedence); `None` stands for the empty language (a
fragment that matches nothing), and every combinator propagates it: `cat` with a `None` part is
`None`, `alt` drops `None` branches. The text uses only the subset that both the `regex`
module and typedecode's automaton compiler read: literals, backslash escapes of
metacharacters, classes, `(?:...)`, `|`, and the quantifiers `* + ? {n} {n,} {n,m}`.

Invariants: no fragment is longer than `MAX_CHARS`, nests groups deeper than `MAX_NESTING`
or counts a repeat above `MAX_REPEAT` (the limits of typedecode's parser,
`decoding.automaton.syntax`, which `regex` accepts too); building one raises
`UnsupportedSchemaError` (compact output keeps the automaton small).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from decoding.automaton.syntax import MAX_NESTING, MAX_REPEAT
from schema2re.errors import UnsupportedSchemaError

MAX_CHARS = 400_000

# Precedence: ALT texts need a group inside a concatenation, CAT texts need one under a
# quantifier, ATOM texts need none.
ALT, CAT, ATOM = 0, 1, 2

_META = set("\\.^$|?*+()[]{}")
_CLASS_META = set("\\]^-[")


@dataclass(frozen=True)
class Rx:
    """A regex fragment: `text`, its precedence (ALT, CAT or ATOM), its group nesting depth."""

    text: str
    prec: int
    depth: int = 0


EMPTY = Rx("", ATOM)


def _checked(text: str, prec: int, depth: int = 0) -> Rx:
    if len(text) > MAX_CHARS:
        raise UnsupportedSchemaError(
            f"the regex would exceed {MAX_CHARS} characters; simplify the schema "
            "(fewer alternatives, smaller bounds, lower max_depth)"
        )
    if depth > MAX_NESTING:
        raise UnsupportedSchemaError(
            f"the regex would nest groups deeper than {MAX_NESTING}; the schema nests too deeply "
            "(lower max_depth)"
        )
    return Rx(text, prec, depth)


def _paren_depth(text: str) -> int:
    """Deepest group nesting in regex text (escapes and classes skipped)."""
    depth = deepest = 0
    i, n = 0, len(text)
    in_class = False
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if text.startswith("^]", i + 1):
                i += 2
            elif text.startswith("]", i + 1):
                i += 1
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest


def escape(text: str) -> str:
    """`text` as a regex matching exactly it (only metacharacters are escaped)."""
    return "".join("\\" + c if c in _META else c for c in text)


def escape_in_class(char: str) -> str:
    """One character written so that it is literal inside `[...]`."""
    if char in _CLASS_META:
        return "\\" + char
    if ord(char) < 0x20:
        return f"\\x{ord(char):02x}"
    return char


def lit(text: str) -> Rx:
    """The fragment matching exactly `text`."""
    if len(text) <= 1:
        return _checked(escape(text), ATOM)
    return _checked(escape(text), CAT)


def raw(text: str, prec: int = ALT) -> Rx:
    """A fragment from regex text built elsewhere (grouped conservatively by default)."""
    return _checked(text, prec, _paren_depth(text))


def _group(rx: Rx, need: int) -> str:
    return rx.text if rx.prec >= need else f"(?:{rx.text})"


def _depth(rx: Rx, need: int) -> int:
    return rx.depth if rx.prec >= need else rx.depth + 1


def cat(*parts: Rx | None) -> Rx | None:
    """Concatenation; `None` if any part is `None`."""
    if any(p is None for p in parts):
        return None
    present = [p for p in parts if p.text]  # type: ignore[union-attr]
    if not present:
        return EMPTY
    if len(present) == 1:
        return present[0]  # type: ignore[return-value]
    return _checked("".join(_group(p, CAT) for p in present), CAT,  # type: ignore[arg-type]
                    max(_depth(p, CAT) for p in present))  # type: ignore[arg-type]


def alt(branches: Iterable[Rx | None]) -> Rx | None:
    """Alternation of the non-`None` branches (duplicates removed); `None` if there are none."""
    seen: dict[str, Rx] = {}
    for b in branches:
        if b is not None and b.text not in seen:
            seen[b.text] = b
    if not seen:
        return None
    items = list(seen.values())
    if len(items) == 1:
        return items[0]
    if any(not b.text for b in items):
        return opt(alt(b for b in items if b.text))
    return _checked("|".join(b.text for b in items), ALT, max(b.depth for b in items))


def rep(rx: Rx | None, lo: int, hi: int | None) -> Rx | None:
    """`rx` repeated lo..hi times (`hi` None: unbounded); `None` only if lo > 0 and rx is `None`."""
    if hi is not None and hi < lo:
        return None
    if max(lo, hi or 0) > MAX_REPEAT:
        raise UnsupportedSchemaError(f"a repetition bound above {MAX_REPEAT} (a length or item count) "
                                     "is too large for the automaton")
    if rx is None:
        return EMPTY if lo == 0 else None
    if hi == 0 or not rx.text:
        return EMPTY
    if lo == hi == 1:
        return rx
    if (lo, hi) == (0, None):
        q = "*"
    elif (lo, hi) == (1, None):
        q = "+"
    elif (lo, hi) == (0, 1):
        q = "?"
    elif hi is None:
        q = f"{{{lo},}}"
    elif lo == hi:
        q = f"{{{lo}}}"
    else:
        q = f"{{{lo},{hi}}}"
    return _checked(_group(rx, ATOM) + q, CAT, _depth(rx, ATOM))


def opt(rx: Rx | None) -> Rx:
    """`rx` or nothing."""
    result = rep(rx, 0, 1)
    assert result is not None
    return result


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
