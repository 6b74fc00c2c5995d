"""JSON strings as regexes: the quoted text, its length bounds, its `pattern` and `format`.

Contract of `string_rx(min_length, max_length, pattern, format)` (and `string_regex`, its text):
- The result matches quoted JSON string texts (`"..."`) and only valid ones: no raw `"`, `\\`
  or control character inside, only the JSON escapes.
- Lengths count the characters (code points) of the decoded value, as `jsonschema` does. Each
  escape decodes to one character because `\\uXXXX` escapes of surrogates (D800-DFFF) are
  never produced: an astral character is written raw (one character), never as a surrogate
  pair, which keeps the count exact without pairing escapes.
- Without `pattern`/`format`, every spelling is allowed (`STRING_CHAR`). With them, the value
  language (from `ecma` or `formats`) is spelled one way per character, the way
  `json.dumps(..., ensure_ascii=False)` writes it: raw, except `\\"`, `\\\\`, the short
  escapes `\\b \\f \\n \\r \\t` and `\\u00xx` for the other control characters. The set of
  decoded values matched is then exactly the pattern's.
- `pattern` or `format` together with length bounds is restricted in the value language when
  it has a single variable-length part (e.g. `^[a-z]+$`, `^x-\\d{2,}$`, an unanchored `[a-z]`),
  after simplifications that keep the language (a repeat next to an unanchored end keeps only
  its minimum; small alternations are distributed), which keeps a regex text; otherwise the
  spelled language is intersected with the strings of the allowed lengths (`rx.both`: exact,
  but without regex text, so `string_regex` raises `UnsupportedSchemaError` naming no
  keyword's loss and `string_rx` serves). `pattern` together with `format` is their
  intersection likewise. Each character having one spelling, intersecting spellings
  intersects the decoded values.
- No string at all (minLength > maxLength, a pattern that matches nothing, or nothing of the
  allowed lengths): `numbers.EmptyRangeError`, an `UnsupportedSchemaError` naming the keyword.
"""

from __future__ import annotations

import functools
import math

from decoding.automaton import charclass
from decoding.automaton.hir import Alternation, CharSet, Concat, Empty, Node, Repeat
from schema2re import ecma, formats
from schema2re.errors import SchemaError, SchemaToRegexError
from schema2re.numbers import EmptyRangeError, literal_trie
from schema2re.rx import EMPTY, Rx, alt, both, cat, escape_in_class, lit, minus, raw, rep

_HEX = "[0-9a-fA-F]"
_NOT_SURROGATE_HEX = f"(?:[0-9a-cA-Ce-fE-F]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}})"
STRING_CHAR = rf'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u{_NOT_SURROGATE_HEX})'

MAX_DISTRIBUTED = 16  # alternatives produced by distributing one alternation for lengths
MAX_SPLITS = 2  # nested distributions
MAX_CONTAINING = 16  # largest maxLength for "contains a character of a set" patterns
MAX_SLACK = 8  # largest maxLength minus width for "contains this fixed-width text" patterns
_SHORT_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r",
                  0x09: "\\t"}
_SPELLED = charclass.normalize([(0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C)])  # never written raw
_ANY_TEXT = Repeat(CharSet(charclass.ALL), 0, None)


def string_regex(min_length: int = 0, max_length: int | None = None, pattern: str | None = None,
                 format: str | None = None, *, pointer: str = "") -> str:
    """Regex text of the quoted JSON strings satisfying the keywords (see module doc):
    `string_rx`'s text, `UnsupportedSchemaError` where that needs an intersection."""
    return string_rx(min_length, max_length, pattern, format, pointer=pointer).text


def string_rx(min_length: int = 0, max_length: int | None = None, pattern: str | None = None,
              format: str | None = None, *, pointer: str = "") -> Rx:
    """The quoted JSON strings satisfying the keywords (see module doc).

    Memoized per process on the keywords (the result is a function of them alone; `pointer`
    only names the place in errors): a schema repeats its string shapes (a `format`, a key
    `pattern`, a plain string) and so do the schemas of one process. Arguments that are not
    plain ints, strings or None are not memoized (`1.0`, `True`: their checks and errors stay
    their own); an error is raised again by a translation that names `pointer`.
    """
    key = (min_length, max_length, pattern, format)
    if not all(type(k) in _MEMO_TYPES for k in key):
        return _string_rx(*key, pointer)
    try:
        return _memo_string_rx(*key)
    except SchemaToRegexError:
        return _string_rx(*key, pointer)  # raises the same error, at `pointer`


_MEMO_TYPES = (int, str, type(None))


@functools.lru_cache(maxsize=1024)
def _memo_string_rx(lo: int, hi: int | None, pattern: str | None, format: str | None) -> Rx:
    return _string_rx(lo, hi, pattern, format, "")


def _string_rx(min_length, max_length, pattern, format, pointer: str) -> Rx:
    lo, hi = _check_lengths(min_length, max_length, pointer)
    if pattern is None and format is None:
        body = rep(raw(STRING_CHAR), lo, hi)
        if body is None:
            raise EmptyRangeError(f"minLength {lo} exceeds maxLength {hi}", "minLength", pointer)
        return _quoted(body)
    values = []  # (keyword, value language) of pattern and format
    ahead: tuple[ecma.Lookahead, ...] = ()  # the pattern's leading lookaheads
    if pattern is not None:
        language, ahead = ecma.ecma_pattern(pattern, pointer=pointer)
        values.append(("pattern", language))
    if format is not None:
        text = formats.format_regex(format, pointer=pointer)
        if lo == 0 and hi is None and pattern is None:
            return _quoted(raw(text))  # printable ASCII without quote or backslash: as is
        values.append(("format", ecma.ecma_to_hir_regex(f"^(?:{text})$", pointer=pointer)))
    contents = []
    for keyword, value in values:
        least, most = _length_range(value)
        # Restricted unless every value already has an allowed length.
        if lo > least or (hi is not None and (most is None or most > hi)):
            try:
                value = _with_lengths(value, lo, hi, keyword, pointer)
            except _NoExactLength:  # the lengths are intersected below instead
                contents.append(json_content_rx(Repeat(CharSet(charclass.ALL), lo, hi), pointer))
        contents.append(json_content_rx(value, pointer))
    for negative, start in ahead:
        spelled = _spell(start)  # None: no value starts so
        contents.append(minus(_spell(_ANY_TEXT), spelled) if negative else spelled)
    # Each character has one spelling, so intersecting (subtracting) spellings intersects
    # (subtracts) the values.
    content = contents[0] if len(contents) == 1 else both(contents)
    if content is None:
        keyword = values[-1][0]
        raise EmptyRangeError(f"no string satisfies {keyword} together with the other string "
                              "keywords", keyword, pointer)
    return _quoted(content)


def _quoted(content: Rx) -> Rx:
    return cat(lit('"'), content, lit('"'))  # type: ignore[return-value]


def _check_lengths(lo, hi, pointer: str) -> tuple[int, int | None]:
    for name, value in (("minLength", lo), ("maxLength", hi)):
        if value is None and name == "maxLength":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SchemaError(f"{name} must be a non-negative integer, not {value!r}", name,
                              pointer)
    return int(lo), None if hi is None else int(hi)


# --- HIR -> JSON string content ------------------------------------------------------------

def json_content_rx(node: Node, pointer: str = "") -> Rx:
    """Regex of the JSON string contents (between the quotes) spelling, one way per character,
    the values of the HIR language `node`; raises when that language is empty."""
    result = _spell(node)
    if result is None:
        raise EmptyRangeError("no string satisfies the pattern", "pattern", pointer)
    return result


def _spell(node: Node) -> Rx | None:
    if isinstance(node, CharSet):
        return _spell_set(tuple(node.ranges))
    if isinstance(node, Concat):
        return cat(*(_spell(x) for x in node.items))
    if isinstance(node, Alternation):
        return alt(_spell(x) for x in node.items)
    if isinstance(node, Repeat):
        return rep(_spell(node.item), node.min, node.max)
    assert isinstance(node, Empty)
    return EMPTY


@functools.lru_cache(maxsize=1024)
def _spell_set(ranges: tuple[tuple[int, int], ...]) -> Rx | None:
    """One character of the set, in its canonical JSON spelling (memoized: patterns share
    their classes)."""
    plain = charclass.intersect(ranges, charclass.complement(_SPELLED))
    spelled = charclass.intersect(ranges, _SPELLED)
    escapes = [_escape_of(code) for lo, hi in spelled for code in range(lo, hi + 1)]
    branches: list[Rx | None] = [_class_rx(plain) if plain else None]
    if escapes:
        branches.append(literal_trie(escapes))
    return alt(branches)


def _escape_of(code: int) -> str:
    return _SHORT_ESCAPES.get(code, f"\\u{code:04x}")


def _class_rx(ranges) -> Rx:
    """A class (or literal) for non-empty ranges; a set reaching the top is written negated."""
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        code = ranges[0][0]
        return lit(chr(code)) if 0x20 <= code < 0x7F else raw(_char(code))
    if ranges[-1][1] == ecma.MAX_CODE_POINT:
        missing = charclass.complement(ranges)
        return raw("[^" + _class_body(missing) + "]")
    return raw("[" + _class_body(ranges) + "]")


def _class_body(ranges) -> str:
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_class_char(lo))
        elif hi == lo + 1:
            parts.append(_class_char(lo) + _class_char(hi))
        else:
            parts.append(_class_char(lo) + "-" + _class_char(hi))
    return "".join(parts)


def _class_char(code: int) -> str:
    if 0x20 <= code < 0x7F:
        return escape_in_class(chr(code))
    return _char(code)


def _char(code: int) -> str:
    """A character outside printable ASCII, as the regex subset writes it."""
    if code < 0x80:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return chr(code)  # astral: written raw (the subset has no \\U escape)


# --- length bounds on a value language -----------------------------------------------------

class _NoExactLength(Exception):
    """Internal: the language has several independent variable-length parts."""


def _with_lengths(node: Node, lo: int, hi: int | None, keyword: str, pointer: str) -> Node:
    """`node` restricted to lo..hi characters, as one HIR node (`_NoExactLength` when the
    language has several independent variable-length parts)."""
    result = _restrict(_simplify(node), lo, hi)
    if result is None:
        raise EmptyRangeError(f"no string satisfies {keyword} with the length bounds", keyword,
                              pointer)
    return result


def _length_range(node: Node) -> tuple[int, int | None]:
    if isinstance(node, CharSet):
        return 1, 1
    if isinstance(node, Empty):
        return 0, 0
    if isinstance(node, Concat):
        ranges = [_length_range(x) for x in node.items]
        tops = [r[1] for r in ranges]
        total = None if None in tops else sum(tops)  # type: ignore[arg-type]
        return sum(r[0] for r in ranges), total
    if isinstance(node, Alternation):
        ranges = [_length_range(x) for x in node.items]
        tops = [r[1] for r in ranges]
        longest = None if None in tops else max(tops)  # type: ignore[type-var]
        return min(r[0] for r in ranges), longest
    assert isinstance(node, Repeat)
    least, most = _length_range(node.item)
    total = None if node.max is None or most is None else most * node.max
    return least * node.min, (0 if node.max == 0 else total)


def _restrict(node: Node, lo: int, hi: int | None, splits: int = 0) -> Node | None:
    """The strings of `node` whose length is in [lo, hi]; None when there are none.
    `splits` counts the distributions made on the way (at most `MAX_SPLITS`)."""
    least, most = _length_range(node)
    if (hi is not None and least > hi) or (most is not None and most < lo):
        return None
    if least >= lo and (hi is None or (most is not None and most <= hi)):
        return node
    if isinstance(node, Alternation):
        kept = [r for x in node.items if (r := _restrict(x, lo, hi, splits)) is not None]
        return ecma.alternation(kept) if kept else None
    if isinstance(node, Repeat):
        width, width_max = _length_range(node.item)
        if width != width_max or width == 0:
            raise _NoExactLength
        first = max(node.min, math.ceil(lo / width))
        last = node.max if hi is None else min(hi // width, hi if node.max is None else node.max)
        if last is not None and first > last:
            return None
        return Repeat(node.item, first, last, node.pos)
    assert isinstance(node, Concat)
    ranges = [_length_range(x) for x in node.items]
    variable = [i for i, (a, b) in enumerate(ranges) if a != b]
    if len(node.items) >= 3 and node.items[0] == node.items[-1] == _ANY_TEXT \
            and len(variable) == 2:  # an unanchored fixed-width core
        core = ecma.concat(node.items[1:-1])
        width = _length_range(core)[0]
        if hi is not None and hi - width <= MAX_SLACK:
            return _placed(core, width, lo, hi)
        if isinstance(core, CharSet) and (lo if hi is None else hi) <= MAX_CONTAINING:
            return _containing(core, lo, hi)
    if len(variable) != 1:
        distributed = _distribute(node) if splits < MAX_SPLITS else None
        if distributed is None:
            raise _NoExactLength
        return _restrict(distributed, lo, hi, splits + 1)
    fixed = sum(a for i, (a, _) in enumerate(ranges) if i != variable[0])
    k = variable[0]
    inner = _restrict(node.items[k], max(lo - fixed, 0), None if hi is None else hi - fixed, splits)
    if inner is None:
        return None
    return ecma.concat(node.items[:k] + (inner,) + node.items[k + 1:])


def _placed(core: Node, width: int, lo: int, hi: int) -> Node | None:
    """Strings of length lo..hi that contain `core` (of fixed `width`): any i characters,
    the core, then the rest, for each i up to the slack hi - width."""
    anything = CharSet(charclass.ALL)
    branches = [ecma.concat([Repeat(anything, i, i), core,
                             Repeat(anything, max(lo - width - i, 0), hi - width - i)])
                for i in range(hi - width + 1)]
    return ecma.alternation(branches) if branches else None


def _containing(wanted: CharSet, lo: int, hi: int | None) -> Node | None:
    """Strings of length lo..hi containing a character of `wanted`, split by the position i
    of its first occurrence (unambiguous, so the automaton stays small)."""
    if hi is not None and hi > MAX_CONTAINING:
        raise _NoExactLength
    other = CharSet(charclass.complement(wanted.ranges))
    anything = CharSet(charclass.ALL)
    branches = []
    last = hi - 1 if hi is not None else max(lo - 1, 0)
    for i in range(last + 1):
        open_end = hi is None and i == last
        before = Repeat(other, i, None if open_end else i)
        after = Repeat(anything, max(lo - 1 - i, 0), None if hi is None else hi - 1 - i)
        branches.append(ecma.concat([before, wanted, after]))
    return ecma.alternation(branches) if branches else None


def _distribute(node: Concat) -> Node | None:
    """The concatenation as an alternation of concatenations, one per choice of the first
    variable-length alternation (or optional part) in it; None when there is none or too many."""
    for k, item in enumerate(node.items):
        choices = None
        if isinstance(item, Alternation) and len(item.items) <= MAX_DISTRIBUTED:
            choices = item.items
        elif isinstance(item, Repeat) and item.max is not None \
                and item.max - item.min < MAX_DISTRIBUTED:
            choices = tuple(Repeat(item.item, n, n, item.pos)
                            for n in range(item.min, item.max + 1))
        if choices is not None and _length_range(item)[0] != _length_range(item)[1]:
            return ecma.alternation([ecma.concat(node.items[:k] + (c,) + node.items[k + 1:])
                                      for c in choices])
    return None


def _simplify(node: Node) -> Node:
    """Language-preserving rewrites: next to an unbounded any-text, a repeat keeps only its
    minimum count (any text then X{a..b} = any text then X{a}), and any-texts merge."""
    if isinstance(node, Alternation):
        return ecma.alternation([_simplify(x) for x in node.items])
    if not isinstance(node, Concat):
        return node
    items = [_simplify(x) for x in node.items]
    out: list[Node] = []
    for i, item in enumerate(items):
        beside_any = (i > 0 and items[i - 1] == _ANY_TEXT) or (i + 1 < len(items)
                                                               and items[i + 1] == _ANY_TEXT)
        if item == _ANY_TEXT and out and out[-1] == _ANY_TEXT:
            continue
        if isinstance(item, Repeat) and item != _ANY_TEXT and beside_any:
            item = Repeat(item.item, item.min, item.min, item.pos) if item.min > 1 \
                else item.item if item.min == 1 else Empty()
        out.append(item)
    return ecma.concat(out)
