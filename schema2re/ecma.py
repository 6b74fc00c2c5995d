"""ECMA-262 `pattern` -> HIR (decoding.automaton.hir) of the strings it matches, as JSON Schema means it.

`ecma_to_hir_regex(pattern)` is the language of the (decoded) string values s in which the
pattern finds a match anywhere: JSON Schema patterns are not anchored, so a pattern without
`^`/`$` becomes `.*pattern.*` (here `.` is any character). `^` and `$` are resolved where
every path reaching them has consumed nothing before / will consume nothing after (e.g.
`^a|b$`, `(^|,)x`); under a quantifier they raise `UnsupportedSchemaError`; where they can
never hold (`a^b`) the language is empty (an empty `CharSet`).

Two readings, one language: the JSON Schema spec says ECMA-262, and the `jsonschema` validator
uses Python's `re`. Every construct is given the meaning both engines agree on, so that a
matched string is accepted by both: each character set is the intersection of its ECMA set and
its Python set (`\\d` is [0-9], `\\D` excludes every Unicode digit, `\\w` is [A-Za-z0-9_],
`\\s` is the ECMA white space that Python also counts as space, `.` excludes \\n \\r \\u2028
\\u2029, `$` is the very end), and constructs whose meaning differs between them are refused.

Syntax: u-mode ECMA with the lenient Annex B literals `{`, `}`, `]`: literals, `.`, classes
with ranges and negation, `\\d \\D \\w \\W \\s \\S`, `\\t \\n \\v \\f \\r \\0 \\cX \\xHH \\uHHHH
\\u{H...}`, `\\p{..}`/`\\P{..}` of General_Category values (the code points Python's
`unicodedata` assigns to the category; Python's `re` has no `\\p`, so ECMA alone judges),
identity escapes of non-alphanumerics, groups `( )`, `(?: )`, `(?<name> )`, alternation,
quantifiers `* + ? {n} {n,} {n,m}` (lazy or not: same language).
Lookaheads: `ecma_pattern` also reads lookaheads `(?=X)` / `(?!X)` that stand at the start of a
pattern anchored by `^` (`^(?!@@)[\\w@]+$`, `^(?=.*\\d)(?=.*[a-z]).{8,}$`), outside any group
and with no top-level alternation: each is returned apart, as the language of the values whose
start X matches, for the caller to intersect (or subtract). Inside a negative lookahead the
readings are united instead (each set is the union of its ECMA and Python sets, and a `$` also
holds before a final newline, as in Python), so that a value excluded by either engine is
excluded. `ecma_to_hir_regex` refuses lookaheads.
Errors: a malformed pattern raises `SchemaError(keyword="pattern")`; other lookaround,
backreferences, `\\b`, `\\p{..}` of properties other than General_Category, surrogate escapes,
repetition counts over `MAX_REPEAT`, groups nested deeper than `MAX_NESTING` and other divergent
constructs raise `UnsupportedSchemaError(keyword="pattern")`; both carry the pointer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from decoding.automaton.charclass import (
    ALL,
    Ranges,
    complement,
    intersect,
    matched_ranges,
    normalize,
)
from decoding.automaton.hir import (
    MAX_CODE_POINT,
    SURROGATES,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Node,
    Repeat,
    concat,
)
from schema2re.errors import SchemaError, UnsupportedSchemaError

MAX_REPEAT = 1000  # largest {n,m} count accepted
MAX_ALTERNATIVES = 64  # anchored alternatives produced when resolving ^ and $
MAX_NESTING = 100  # groups nested deeper are refused (the parser recurses on groups)


_ECMA_SPACE = ((0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
               (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
               (0xFEFF, 0xFEFF))
_ECMA_WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_ECMA_DIGIT = ((0x30, 0x39),)
_LINE_TERMINATORS = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))
_CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}


# --- character sets ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _python_class(kind: str) -> Ranges:
    """What Python's `re` matches with \\d, \\w or \\s on str (Unicode), as `re` finds it."""
    return matched_ranges(re.compile(rf"\{kind}+"))


@dataclass(frozen=True)
class _Set:
    """A character set in both readings: the ECMA one and the Python one."""

    ecma: Ranges
    python: Ranges


def _class_escape(letter: str) -> _Set:
    ecma = {"d": _ECMA_DIGIT, "w": _ECMA_WORD, "s": _ECMA_SPACE}[letter.lower()]
    python = _python_class(letter.lower())
    if letter.isupper():
        return _Set(complement(ecma), complement(python))
    return _Set(ecma, python)


_DOT = _Set(complement(_LINE_TERMINATORS), complement(((0x0A, 0x0A),)))

# General_Category values as ECMA-262 names them (short, long and other aliases), by the
# two-letter categories each stands for. Python's `re` has no `\p`: there only ECMA judges.
_CATEGORY_GROUPS = {
    ("L", "Letter"): "Lu Ll Lt Lm Lo", ("LC", "Cased_Letter"): "Lu Ll Lt",
    ("Lu", "Uppercase_Letter"): "Lu", ("Ll", "Lowercase_Letter"): "Ll",
    ("Lt", "Titlecase_Letter"): "Lt", ("Lm", "Modifier_Letter"): "Lm", ("Lo", "Other_Letter"): "Lo",
    ("M", "Mark", "Combining_Mark"): "Mn Mc Me", ("Mn", "Nonspacing_Mark"): "Mn",
    ("Mc", "Spacing_Mark"): "Mc", ("Me", "Enclosing_Mark"): "Me", ("N", "Number"): "Nd Nl No",
    ("Nd", "Decimal_Number", "digit"): "Nd", ("Nl", "Letter_Number"): "Nl",
    ("No", "Other_Number"): "No", ("P", "Punctuation", "punct"): "Pc Pd Ps Pe Pi Pf Po",
    ("Pc", "Connector_Punctuation"): "Pc", ("Pd", "Dash_Punctuation"): "Pd",
    ("Ps", "Open_Punctuation"): "Ps", ("Pe", "Close_Punctuation"): "Pe",
    ("Pi", "Initial_Punctuation"): "Pi", ("Pf", "Final_Punctuation"): "Pf",
    ("Po", "Other_Punctuation"): "Po", ("S", "Symbol"): "Sm Sc Sk So", ("Sm", "Math_Symbol"): "Sm",
    ("Sc", "Currency_Symbol"): "Sc", ("Sk", "Modifier_Symbol"): "Sk", ("So", "Other_Symbol"): "So",
    ("Z", "Separator"): "Zs Zl Zp", ("Zs", "Space_Separator"): "Zs",
    ("Zl", "Line_Separator"): "Zl", ("Zp", "Paragraph_Separator"): "Zp",
    ("Cc", "Control", "cntrl"): "Cc", ("Cf", "Format"): "Cf", ("Co", "Private_Use"): "Co",
}
_CATEGORIES = {name: cats for names, cats in _CATEGORY_GROUPS.items() for name in names}


@lru_cache(maxsize=None)
def _category_table() -> dict[str, list[tuple[int, int]]]:
    """The code point ranges of each two-letter category, as `unicodedata` assigns them (one
    walk over all code points, about 0.3 s, the first time a `\\p` is read)."""
    table: dict[str, list[tuple[int, int]]] = {}
    for code in range(MAX_CODE_POINT + 1):
        out = table.setdefault(unicodedata.category(chr(code)), [])
        if out and out[-1][1] == code - 1:
            out[-1] = (out[-1][0], code)
        else:
            out.append((code, code))
    return table


@lru_cache(maxsize=None)
def _category_ranges(categories: str) -> Ranges:
    """The code points `unicodedata` assigns to one of the (space-separated) categories."""
    table = _category_table()
    return normalize([r for category in categories.split() for r in table.get(category, ())])


@lru_cache(maxsize=None)
def _assigned() -> Ranges:
    """Every code point of an assigned, non-surrogate category (what `\\P{..}` ranges over)."""
    return _category_ranges(" ".join(sorted(set(" ".join(_CATEGORY_GROUPS.values()).split()))))


# --- anchors (resolved after parsing) ------------------------------------------------------

@dataclass(frozen=True)
class _Anchor:
    """`^` (start=True) or `$` inside a parsed pattern, before resolution."""

    start: bool


# --- public entry point --------------------------------------------------------------------

def ecma_to_hir_regex(pattern: str, *, pointer: str = "") -> Node:
    """HIR of the string values s such that `pattern` matches somewhere in s (see module doc)."""
    return _searched(_parser(pattern, pointer, lookaheads=False).parse(), pattern, pointer)


Lookahead = tuple[bool, Node]
"""(negative, HIR of the values whose start the lookahead's pattern matches)."""


def ecma_pattern(pattern: str, *, pointer: str = "") -> tuple[Node, tuple[Lookahead, ...]]:
    """(language, lookaheads): a value matches `pattern` iff it is in the HIR `language` (the
    pattern without its leading lookaheads, as `ecma_to_hir_regex` reads it), in the language of
    every positive lookahead and in that of no negative one (see the module doc)."""
    parser = _parser(pattern, pointer, lookaheads=True)
    tree = parser.parse()
    if parser.lookaheads and isinstance(tree, Alternation):
        parser.unsupported("a lookahead in a pattern with top-level alternatives", 0)
    ahead = tuple((negative, _prefixed(inner, negative, pattern, pointer))
                  for negative, inner in parser.lookaheads)
    return _searched(tree, pattern, pointer), ahead


_ANY_TEXT = Repeat(CharSet(ALL), 0, None)


def _parser(pattern: Any, pointer: str, lookaheads: bool) -> "_Parser":
    if not isinstance(pattern, str):
        raise SchemaError(f"pattern must be a string, not {pattern!r}", "pattern", pointer)
    return _Parser(pattern, pointer, lookaheads)


def _searched(tree: Any, pattern: str, pointer: str) -> Node:
    """The values in which the parsed `tree` matches somewhere."""
    branches = []
    for at_start, body, at_end in _anchored(tree, pattern, pointer):
        items = ([] if at_start else [_ANY_TEXT]) + [body] + ([] if at_end else [_ANY_TEXT])
        branches.append(concat(items))
    return alternation(branches) if branches else CharSet(())


def _prefixed(tree: Any, negative: bool, pattern: str, pointer: str) -> Node:
    """The values whose start the lookahead's parsed `tree` matches (it stands at position 0,
    so a `^` in it holds; a `$` ends the value, or in a negative one also a final newline)."""
    before_end = Alternation((Empty(), CharSet(((0x0A, 0x0A),)))) if negative else Empty()
    branches = [concat([body, before_end if at_end else _ANY_TEXT])
                for _, body, at_end in _anchored(tree, pattern, pointer)]
    return alternation(branches) if branches else CharSet(())


# --- parser --------------------------------------------------------------------------------

class _Parser:
    """Recursive descent over the pattern; positions are kept for error messages."""

    def __init__(self, pattern: str, pointer: str, lookaheads: bool = False):
        self.text = pattern
        self.pointer = pointer
        self.i = 0
        self.depth = 0
        # The leading lookaheads read so far (None: refused), where the next one may start,
        # and whether sets are read as a union (inside a negative lookahead).
        self.lookaheads: list[tuple[bool, Any]] | None = [] if lookaheads else None
        self.lead = 1 if pattern.startswith("^") else -1
        self.union = False

    def parse(self):
        node = self.disjunction()
        if self.i < len(self.text):  # only an unmatched ")" stops a disjunction early
            self.syntax("unmatched ')'")
        return node

    # errors
    def syntax(self, message: str, at: int | None = None):
        where = self.i if at is None else at
        raise SchemaError(f"invalid regular expression {self.text!r}: {message} at position "
                          f"{where}", "pattern", self.pointer)

    def unsupported(self, message: str, at: int | None = None):
        where = self.i if at is None else at
        raise UnsupportedSchemaError(
            f"pattern {self.text!r}: {message} (position {where}) has no exact regular "
            "equivalent here", "pattern", self.pointer)

    # scanning
    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def take(self) -> str:
        if self.i >= len(self.text):
            self.syntax("unexpected end of pattern")
        ch = self.text[self.i]
        self.i += 1
        return ch

    # grammar
    def disjunction(self):
        branches = [self.alternative()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.alternative())
        return branches[0] if len(branches) == 1 else Alternation(tuple(branches))

    def alternative(self):
        items = []
        while self.i < len(self.text) and self.peek() not in "|)":
            items.append(self.term())
        if any(_has_anchor(x) for x in items):
            return Concat(tuple(items))  # kept as is for `_anchored`
        return concat(items)

    def term(self):
        start = self.i
        ch = self.peek()
        if ch in "^$":
            self.i += 1
            if self.quantifier() is not None:
                self.syntax("nothing to repeat", start)
            return _Anchor(ch == "^")
        atom = self.atom()
        bounds = self.quantifier()
        if bounds is None:
            return atom
        lo, hi = bounds
        if self.quantifier() is not None:
            self.syntax("nothing to repeat")
        if _has_anchor(atom):
            self.unsupported("an anchor under a quantifier", start)
        return Repeat(atom, lo, hi, start)

    def quantifier(self) -> tuple[int, int | None] | None:
        ch = self.peek()
        if ch in ("*", "+", "?"):
            self.i += 1
            bounds = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        elif ch == "{" and (braces := self.braces()) is not None:
            bounds = braces
        else:
            return None
        if self.peek() == "?":  # lazy: same language
            self.i += 1
        elif self.peek() == "+":
            self.syntax("possessive quantifiers are not ECMA-262")
        return bounds

    def braces(self) -> tuple[int, int | None] | None:
        """A `{n}`, `{n,}` or `{n,m}` quantifier at the cursor (consumed), else None."""
        j = self.i + 1
        close = self.text.find("}", j)
        if close < 0:
            return None
        body = self.text[j:close]
        lo_text, comma, hi_text = body.partition(",")
        if not lo_text.isdigit() or not lo_text.isascii():
            if comma and not lo_text and hi_text.isdigit():
                self.unsupported("'{,n}' (a quantifier for Python, literal text for ECMA)")
            return None
        if hi_text and (not hi_text.isdigit() or not hi_text.isascii()):
            return None
        lo = int(lo_text)
        hi = lo if not comma else (int(hi_text) if hi_text else None)
        if hi is not None and hi < lo:
            self.syntax("numbers out of order in {} quantifier")
        if max(lo, hi or 0) > MAX_REPEAT:
            self.unsupported(f"a repetition count over {MAX_REPEAT}")
        self.i = close + 1
        return lo, hi

    def atom(self):
        start = self.i
        ch = self.take()
        if ch == ".":
            return self.charset(_DOT)
        if ch == "(":
            return self.group(start)
        if ch == ")":
            self.syntax("unmatched ')'", start)
        if ch == "[":
            return self.char_class(start)
        if ch == "\\":
            return self.atom_escape(start)
        if ch in "*+?":
            self.syntax("nothing to repeat", start)
        if ch == "{":
            self.i = start
            if self.braces() is not None:
                self.syntax("nothing to repeat", start)
            self.i = start + 1
        return self.literal(ch, start)

    def literal(self, ch: str, at: int) -> Node:
        if SURROGATES[0] <= ord(ch) <= SURROGATES[1]:
            self.unsupported("a lone surrogate", at)
        return CharSet(((ord(ch), ord(ch)),))

    def group(self, start: int):
        if self.peek() == "?":
            kind = self.text[self.i:self.i + 3]
            if kind.startswith("?:"):
                self.i += 2
            elif kind.startswith(("?=", "?!")) and self.lookaheads is not None \
                    and self.depth == 0 and start == self.lead:
                return self.lookahead(start, negative=kind.startswith("?!"))
            elif kind.startswith(("?=", "?!", "?<=", "?<!")):
                self.unsupported("lookaround", start)
            elif kind.startswith("?<"):
                end = self.text.find(">", self.i)
                name = self.text[self.i + 2:end] if end > 0 else ""
                if not name or not (name[0].isalpha() or name[0] in "_$") \
                        or not all(c.isalnum() or c in "_$" for c in name):
                    self.syntax("invalid group name", start)
                self.i = end + 1
            else:
                self.unsupported("an inline group modifier (not ECMA-262)", start)
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.unsupported(f"groups nested more than {MAX_NESTING} deep", start)
        inner = self.disjunction()
        self.depth -= 1
        if self.peek() != ")":
            self.syntax("missing ')'", start)
        self.i += 1
        return inner

    def lookahead(self, start: int, negative: bool) -> Node:
        """A leading lookahead (the cursor on its `?`): recorded, and read as the empty string."""
        self.i += 2
        self.depth += 1
        self.union = negative
        inner = self.disjunction()
        self.depth -= 1
        self.union = False
        if self.peek() != ")":
            self.syntax("missing ')'", start)
        self.i += 1
        self.lead = self.i
        self.lookaheads.append((negative, inner))  # type: ignore[union-attr]
        return Empty()

    def charset(self, s: _Set) -> CharSet:
        """The characters of `s` in both readings, or in either inside a negative lookahead."""
        return CharSet(normalize(s.ecma + s.python) if self.union else intersect(s.ecma, s.python))

    def atom_escape(self, start: int) -> Node:
        ch = self.take()
        if ch in "dDwWsS":
            return self.charset(_class_escape(ch))
        if ch in "pP":
            return self.charset(self.property_escape(ch, start))
        if ch in "bB":
            self.unsupported("a word boundary", start)
        if ch.isdigit() and ch != "0" or ch == "k":
            self.unsupported("a backreference", start)
        code = self.char_escape(ch, start)
        return CharSet(((code, code),))

    def char_escape(self, ch: str, start: int) -> int:
        """The code point of a character escape whose letter `ch` was just read."""
        if ch in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[ch]
        if ch == "0":
            if self.peek().isdigit():
                self.unsupported("an octal escape", start)
            return 0
        if ch == "c":
            letter = self.peek()
            if not (letter.isascii() and letter.isalpha()):
                self.unsupported("'\\c' without a control letter", start)
            self.i += 1
            return ord(letter) % 32
        if ch == "x":
            return self.hex_digits(2, start)
        if ch == "u":
            if self.peek() == "{":
                close = self.text.find("}", self.i)
                digits = self.text[self.i + 1:close] if close > 0 else ""
                if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits) \
                        or int(digits, 16) > MAX_CODE_POINT:
                    self.syntax("invalid \\u{...} escape", start)
                self.i = close + 1
                value = int(digits, 16)
            else:
                value = self.hex_digits(4, start)
            if SURROGATES[0] <= value <= SURROGATES[1]:
                self.unsupported("a surrogate escape (ECMA pairs it, Python does not)", start)
            return value
        if ch.isascii() and ch.isalnum():
            self.unsupported(f"the escape '\\{ch}' (it means different things in ECMA and Python)",
                             start)
        if SURROGATES[0] <= ord(ch) <= SURROGATES[1]:
            self.unsupported("a lone surrogate", start)
        return ord(ch)  # identity escape

    def property_escape(self, letter: str, start: int) -> _Set:
        """`\\p{Name}` / `\\P{Name}` (just read: `letter`) of a General_Category value, also
        written `General_Category=Name` or `gc=Name`; the assigned code points of the category
        (for `\\P`: of every other category). Other properties (Script=, binary) are refused."""
        close = self.text.find("}", self.i) if self.peek() == "{" else -1
        if close < 0:
            self.syntax(f"'\\{letter}' without '{{name}}'", start)
        name = self.text[self.i + 1:close]
        self.i = close + 1
        key, _, value = name.rpartition("=")
        if key not in ("", "General_Category", "gc"):
            self.unsupported(f"the Unicode property {name!r} (only General_Category values)", start)
        if value not in _CATEGORIES:
            if key or not re.fullmatch(r"[A-Za-z_]+", value):
                self.syntax(f"unknown Unicode property {name!r}", start)
            self.unsupported(f"the Unicode property {name!r} (only General_Category values)", start)
        ranges = _category_ranges(_CATEGORIES[value])
        if letter == "P":
            ranges = intersect(_assigned(), complement(ranges))
        return _Set(ranges, ranges)

    def hex_digits(self, count: int, start: int) -> int:
        digits = self.text[self.i:self.i + count]
        if len(digits) < count or not all(c in "0123456789abcdefABCDEF" for c in digits):
            self.syntax("invalid hexadecimal escape", start)
        self.i += count
        return int(digits, 16)

    def char_class(self, start: int) -> Node:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        if self.peek() == "]":
            self.unsupported("'[]' or '[^]' (ECMA and Python read it differently)", start)
        ecma: list[tuple[int, int]] = []
        python: list[tuple[int, int]] = []
        while True:
            if self.i >= len(self.text):
                self.syntax("missing ']'", start)
            if self.peek() == "]":
                self.i += 1
                break
            first = self.class_atom(start)
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                dash = self.i
                self.i += 1
                last = self.class_atom(start)
                if isinstance(first, _Set) or isinstance(last, _Set):
                    self.unsupported("a range with a class escape as an end", dash)
                if last < first:
                    self.syntax("range out of order in character class", dash)
                ecma.append((first, last))
                python.append((first, last))
            elif isinstance(first, _Set):
                ecma.extend(first.ecma)
                python.extend(first.python)
            else:
                ecma.append((first, first))
                python.append((first, first))
        both = _Set(normalize(ecma), normalize(python))
        if negated:
            both = _Set(complement(both.ecma), complement(both.python))
        return self.charset(both)

    def class_atom(self, start: int) -> int | _Set:
        at = self.i
        ch = self.take()
        if ch != "\\":
            if SURROGATES[0] <= ord(ch) <= SURROGATES[1]:
                self.unsupported("a lone surrogate", at)
            return ord(ch)
        esc = self.take()
        if esc in "dDwWsS":
            return _class_escape(esc)
        if esc in "pP":
            return self.property_escape(esc, at)
        if esc == "b":
            return 0x08
        if esc == "-":
            return ord("-")
        if esc == "B" or (esc.isdigit() and esc != "0") or esc == "k":
            self.unsupported(f"'\\{esc}' in a character class", at)
        return self.char_escape(esc, at)


# --- anchor resolution ---------------------------------------------------------------------

def _has_anchor(node) -> bool:
    if isinstance(node, _Anchor):
        return True
    if isinstance(node, (Concat, Alternation)):
        return any(_has_anchor(x) for x in node.items)
    if isinstance(node, Repeat):
        return _has_anchor(node.item)
    return False


def _anchored(node, pattern: str, pointer: str) -> list[tuple[bool, Node, bool]]:
    """(anchored at start, body, anchored at end) alternatives equivalent to `node`; none when
    an anchor can never hold where it stands (`a^b`)."""
    if not _has_anchor(node):
        return [(False, node, False)]
    if isinstance(node, _Anchor):
        return [(node.start, Empty(), not node.start)]
    if isinstance(node, Alternation):
        out = [t for item in node.items for t in _anchored(item, pattern, pointer)]
    else:
        assert isinstance(node, Concat)
        out = [(False, Empty(), False)]
        for item in node.items:
            out = [joined for left in out for right in _anchored(item, pattern, pointer)
                   if (joined := _join(left, right)) is not None]
    if len(out) > MAX_ALTERNATIVES:
        raise UnsupportedSchemaError(f"pattern {pattern!r}: too many anchored alternatives",
                                     "pattern", pointer)
    return out


def _join(left, right):
    """Concatenation of two anchored alternatives; None when the anchors make it impossible."""
    start1, body1, end1 = left
    start2, body2, end2 = right
    if end1:  # `$` then more: what follows must match the empty string
        if not _nullable(body2):
            return None
        body2 = Empty()
    if start2:  # more then `^`: what precedes must match the empty string
        if not _nullable(body1):
            return None
        body1 = Empty()
    return start1 or start2, concat([body1, body2]), end1 or end2


def _nullable(node: Node) -> bool:
    if isinstance(node, Empty):
        return True
    if isinstance(node, CharSet):
        return False
    if isinstance(node, Concat):
        return all(_nullable(x) for x in node.items)
    if isinstance(node, Alternation):
        return any(_nullable(x) for x in node.items)
    assert isinstance(node, Repeat)
    return node.min == 0 or _nullable(node.item)


def alternation(items: Iterable[Node]) -> Node:
    """The HIR alternation of `items` (non-empty), without duplicates."""
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else Alternation(tuple(unique))
