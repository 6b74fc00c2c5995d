"""Expressions -> `regex`-module text, and short descriptions for messages.

Contract: `to_text(e)` returns text `t` such that `regex.fullmatch(t, s)` holds exactly for the
strings `s` (of Unicode scalar values: surrogates are not text) whose UTF-8 encoding is in `e`,
and that `decoding.automaton.syntax.parse` reads back to the same language. It uses only literals, escapes, classes, `(?:...)`, `|` and the quantifiers
`? * + {n} {n,} {n,m}` (counts up to `syntax.MAX_REPEAT`). Expressions with `&` or `~`, or byte sets that are not ASCII (which only
derivatives make), have no such text: `NoRegexText`. Text longer than `max_chars` raises
`NoRegexText` as soon as a part passes the limit (shared parts are rendered once per call).
"""

from __future__ import annotations

from decoding.automaton.expr import (AND, BYTES, CAT, CHARS, EMPTY, EMPTY_KIND, NOT, NOTHING,
                                     OR, REPEAT, Expr, mask_ranges,
                                     without_surrogates)
from decoding.automaton.syntax import MAX_REPEAT
from decoding.errors import NoRegexText

_MAX_CODE_POINT = 0x10FFFF
_META = set("\\.^$|?*+()[]{}#- \t\n\r\f\v&~")
_CLASS_META = set("\\]^-[&~|")
# Precedence of a text: ALT needs a group inside a concatenation, CAT one under a quantifier.
ALT, CAT_PREC, ATOM = 0, 1, 2


def escape_char(code: int, in_class: bool = False) -> str:
    """One code point as text that stands for exactly itself (inside a class if `in_class`)."""
    ch = chr(code)
    if ch in (_CLASS_META if in_class else _META):
        return "\\" + ch
    if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return ch


def escape(text: str) -> str:
    return "".join(escape_char(ord(c)) for c in text)


def class_text(ranges: tuple[tuple[int, int], ...]) -> str:
    """A character class (or a single escaped character) for inclusive code-point ranges; a
    set reaching the last code point is written negated (`[^...]` of what it lacks, the
    surrogates aside: they are not text)."""
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return escape_char(ranges[0][0])
    if ranges[-1][1] == _MAX_CODE_POINT:
        missing, at = [], 0
        for lo, hi in ranges:
            missing.extend(without_surrogates(at, lo - 1))
            at = hi + 1
        return "[^" + _class_body(tuple(missing)) + "]" if missing else r"[\s\S]"
    return "[" + _class_body(ranges) + "]"


def _class_body(ranges: tuple[tuple[int, int], ...]) -> str:
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(escape_char(lo, True))
        elif hi == lo + 1:
            parts.append(escape_char(lo, True) + escape_char(hi, True))
        else:
            parts.append(f"{escape_char(lo, True)}-{escape_char(hi, True)}")
    return "".join(parts)


def to_text(e: Expr, max_chars: int | None = None) -> str:
    """`regex`-module text for `e` (see the module docstring)."""
    return _Renderer(max_chars).text(e)[0]


def describe(e: Expr, limit: int = 80) -> str:
    """A short description of `e` for messages: its text when it has one, cut to `limit`."""
    try:
        text = to_text(e, max_chars=4 * limit)
    except NoRegexText:
        text = {AND: "intersection", NOT: "complement"}.get(e.kind, "expression") \
            + f" #{e.fingerprint[:12]}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Renderer:
    def __init__(self, max_chars: int | None):
        self.max_chars = max_chars
        self.memo: dict[Expr, tuple[str, int]] = {}

    def text(self, e: Expr) -> tuple[str, int]:
        found = self.memo.get(e)
        if found is None:
            found = self.memo[e] = self._render(e)
            if self.max_chars is not None and len(found[0]) > self.max_chars:
                raise NoRegexText(f"the regex would exceed {self.max_chars:,} characters")
        return found

    def _render(self, e: Expr) -> tuple[str, int]:
        k = e.kind
        if k == NOTHING.kind:
            return r"[^\x00-\U0010ffff]", ATOM
        if k == EMPTY_KIND:
            return "", ATOM
        if k == BYTES:
            if e.mask >> 128:
                raise NoRegexText("a set of non-ASCII bytes has no regex text")
            return class_text(tuple(mask_ranges(e.mask))), ATOM
        if k == CHARS:
            return class_text(e.ranges), ATOM
        if k == CAT:
            parts = []
            x = e
            while x.kind == CAT:
                parts.append(self._grouped(x.items[0], CAT_PREC))
                x = x.items[1]
            parts.append(self._grouped(x, CAT_PREC))
            return "".join(parts), CAT_PREC
        if k == OR:
            items = [i for i in e.items if i is not EMPTY]
            body = "|".join(self.text(i)[0] for i in items)
            if len(items) < len(e.items):  # optional
                inner = self._grouped(items[0], ATOM) if len(items) == 1 else f"(?:{body})"
                return inner + "?", CAT_PREC
            return body, ALT
        if k == REPEAT:
            lo, hi = e.lo, e.hi
            if max(lo, hi or 0) > MAX_REPEAT:
                raise NoRegexText(f"a repetition bound above {MAX_REPEAT:,} has no regex text")
            q = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi))
            if q is None:
                q = f"{{{lo}}}" if lo == hi else f"{{{lo},}}" if hi is None else f"{{{lo},{hi}}}"
            return self._grouped(e.items[0], ATOM) + q, CAT_PREC
        raise NoRegexText("intersection and complement have no regex text")

    def _grouped(self, e: Expr, need: int) -> str:
        text, prec = self.text(e)
        if prec < need or (need == ATOM and not text):
            return f"(?:{text})"
        return text

