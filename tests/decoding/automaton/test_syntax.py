"""Tests of the regex syntax layer (decoding.automaton.syntax) and its character sets (decoding.automaton.charclass).

The main check is differential and independent of the automaton: for random patterns, the HIR
is printed back as an explicit regex (`render`: every CharSet as a class of `\\U` ranges) and
`regex.fullmatch` must agree on the original and the printed pattern for many strings, drawn from
the pattern's own characters, from the HIR's language and at random.
"""

from __future__ import annotations

import functools
import random

import pytest
import regex
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from decoding.automaton import charclass
from decoding.automaton.hir import (
    SURROGATES,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Node,
    Repeat,
    to_expr,
)
from decoding.automaton.syntax import MAX_NESTING, parse
from decoding.errors import (
    PatternSyntaxError,
    PatternTooComplex,
    UnsupportedPattern,
)

# ------------------------------------------------------------------------------------ helpers


def render(node: Node) -> str:
    """The HIR as an explicit regex (no flags, no shorthand classes)."""
    if isinstance(node, CharSet):
        if not node.ranges:
            return r"[^\U00000000-\U0010ffff]"
        return "[" + "".join(r"\U%08x-\U%08x" % r for r in node.ranges) + "]"
    if isinstance(node, Concat):
        return "".join(f"(?:{render(item)})" for item in node.items)
    if isinstance(node, Alternation):
        return "(?:" + "|".join(render(item) for item in node.items) + ")"
    if isinstance(node, Repeat):
        high = "" if node.max is None else str(node.max)
        return f"(?:{render(node.item)}){{{node.min},{high}}}"
    assert isinstance(node, Empty)
    return ""


def sample(node: Node, rnd: random.Random) -> str | None:
    """A random string of the node's language (None if the draw hit an empty set or a long
    repetition)."""
    if isinstance(node, CharSet):
        if not node.ranges:
            return None
        lo, hi = rnd.choice(node.ranges)
        return chr(rnd.randint(lo, min(hi, lo + 300) if rnd.random() < 0.8 else hi))
    if isinstance(node, Concat):
        parts = [sample(item, rnd) for item in node.items]
        return None if None in parts else "".join(parts)
    if isinstance(node, Alternation):
        return sample(rnd.choice(node.items), rnd)
    if isinstance(node, Repeat):
        if node.min > 30:
            return None
        high = node.min + 2 if node.max is None else min(node.max, node.min + 2)
        parts = [sample(node.item, rnd) for _ in range(rnd.randint(node.min, high))]
        return None if None in parts else "".join(parts)
    return ""


def walk(node: Node):
    yield node
    if isinstance(node, (Concat, Alternation)):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Repeat):
        yield from walk(node.item)


def assert_hir_invariants(node: Node) -> None:
    for sub in walk(node):
        if isinstance(sub, CharSet):
            previous = -2
            for lo, hi in sub.ranges:
                assert previous + 1 < lo <= hi <= 0x10FFFF, sub.ranges
                assert hi < SURROGATES[0] or lo > SURROGATES[1], sub.ranges
                previous = hi
        elif isinstance(sub, Repeat):
            assert 0 <= sub.min and (sub.max is None or sub.min <= sub.max)


def fullmatch(pattern: str, text: str) -> bool | None:
    """regex's verdict, or None when regex itself takes too long (catastrophic backtracking)."""
    try:
        return regex.fullmatch(pattern, text, timeout=2.0) is not None
    except TimeoutError:
        return None


def strings_for(pattern: str, node: Node, rnd: random.Random, count: int = 12) -> list[str]:
    """Strings to compare on: drawn from the HIR, mutated, and from the pattern's characters."""
    pool = [c for c in pattern if not 0xD800 <= ord(c) <= 0xDFFF] or ["a"]
    pool += ["a", "A", "0", "_", " ", "\n", "é", "É", "ß", "ẞ", "K", "\u212a", "ſ", "ı",
             "İ", "ς", "Σ", "中", "😀", "\u0301", "٣", "\u2028", "-", "]"]
    out = []
    for _ in range(count):
        text = sample(node, rnd)
        if text is None or rnd.random() < 0.3:
            text = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 6)))
        elif text and rnd.random() < 0.4:
            i = rnd.randrange(len(text))
            text = text[:i] + rnd.choice(["", rnd.choice(pool), text[i] * 2]) + text[i + 1:]
        out.append(text[:40])
    return out


def assert_same_language(pattern: str, node: Node, rnd: random.Random) -> None:
    rendered = render(node)
    for text in strings_for(pattern, node, rnd):
        expected = fullmatch(pattern, text)
        got = fullmatch(rendered, text)
        assume(expected is not None and got is not None)
        assert expected == got, (pattern, text, rendered[:300])


# -------------------------------------------------------------------------- pattern grammar

_LITERALS = list("abcxyzABZ019_,:\"'/<>=!&%@~`") + list("éßẞſKıİΣσς中文😀\u0301 \t")
_ESCAPES = [r"\n", r"\t", r"\x41", r"\x7a", r"\u00e9", r"\U0001F600", r"\N{LATIN SMALL LETTER A}",
            r"\0", r"\012", r"\101", r"\.", r"\-", r"\"", r"\\", r"\*", r"\[", r"\]", r"\{",
            r"\}", r"\|", r"\(", r"\)", r"\^", r"\$", r"\?", r"\+", r"\é", r"\ "]
_CLASSES = [r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\h", r"\p{Lu}", r"\p{L}", r"\P{N}",
            r"\pL", r"\p{Greek}", r"\p{Ll}", "."]
_SET_MEMBERS = ["a", "z", "A", "0", "_", "é", "ß", "ſ", "K", "中", "😀", " ", "^", "[", ".",
                "*", r"\]", r"\\", r"\-", r"\n", r"\x41", r"\u00e9", r"\101", r"\b",
                "a-f", "A-Z", "0-9", "α-ω", "x-z", r"\x41-\x5a", "\u00c0-\u00ff", "k-s",
                "\u0100-\u017f",
                r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\p{Lu}", r"\P{L}", "[:alpha:]",
                "[:digit:]", "[:^space:]", "[:punct:]"]
_QUANTIFIERS = ["*", "+", "?", "{2}", "{1,3}", "{0,}", "{,2}", "{0}", "{1}", "{1,1}", "*?", "+?",
                "??", "{1,2}?", "{2,}?"]


@st.composite
def _set(draw) -> str:
    members = draw(st.lists(st.sampled_from(_SET_MEMBERS), min_size=1, max_size=4))
    first = draw(st.sampled_from(["", "", "]", "-"]))
    last = draw(st.sampled_from(["", "", "", "-"]))
    negate = draw(st.sampled_from(["", "", "^"]))
    if not first and members[0] == "^":
        members[0] = "a"
    return "[" + negate + first + "".join(members) + last + "]"


_atoms = st.one_of(
    st.sampled_from(_LITERALS),
    st.sampled_from(_ESCAPES),
    st.sampled_from(_CLASSES),
    _set(),
)


def _extend(children):
    return st.one_of(
        st.lists(children, min_size=2, max_size=4).map("".join),
        st.lists(children, min_size=2, max_size=3).map(lambda items: "(?:" + "|".join(items) + ")"),
        st.tuples(st.sampled_from(["(", "(?:", "(?P<n>", "(?<m>", "(?i:", "(?s:", "(?-i:",
                                   "(?x:", "(?#c)(?:"]), children).map(lambda t: t[0] + t[1] + ")"),
        st.tuples(children, st.sampled_from(_QUANTIFIERS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
        st.tuples(st.sampled_from(_LITERALS + _CLASSES), st.sampled_from(_QUANTIFIERS)).map(
            lambda t: (t[0] if len(t[0]) > 1 or t[0] not in " \t" else "x") + t[1]),
        st.lists(children, min_size=1, max_size=3).map(
            lambda items: "(?:" + "|".join(items) + "|)"),
    )


_bodies = st.recursive(_atoms, _extend, max_leaves=8)


@st.composite
def patterns(draw) -> str:
    flags = draw(st.sampled_from(["", "", "", "(?i)", "(?s)", "(?m)", "(?is)", "(?u)", "(?ims)",
                                  "(?p)", "(?w)", "(?V0)", "(?a)", "(?ai)"]))
    body = draw(_bodies)
    shape = draw(st.integers(0, 3))
    start = draw(st.sampled_from(["", "^", r"\A"]))
    end = draw(st.sampled_from(["", "$", r"\Z", r"\z"]))
    if shape == 1:  # anchors inside top-level alternatives
        other = draw(_bodies)
        return f"{flags}{start}{body}|{other}{end}"
    if shape == 2:  # anchors inside a group at the ends
        return f"{flags}({start}{body}|{start}x){end}"
    return f"{flags}{start}{body}{end}"


_seeds = st.integers(0, 2**32 - 1)  # for random.Random: hypothesis' own randoms are slow

_settings = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ----------------------------------------------------------------------- differential tests

# What the parser refuses although regex compiles it (the reasons' words), each documented.
_DOCUMENTED_CORNERS = ("reads by its context", "classes cover every character",
                       "with a case-insensitive group and an alternation")


@_settings
@given(patterns(), _seeds)
def test_random_patterns_match_regex(pattern, seed):
    # Everything the grammar makes is supported, except the documented corners.
    check_against_regex(pattern, random.Random(seed), allowed_unsupported=_DOCUMENTED_CORNERS)


@_settings
@given(patterns(), _seeds, st.data())
def test_verbose_patterns_match_regex(pattern, seed, data):
    """Whitespace and comments inserted anywhere, read in verbose mode: regex and the parser
    must agree on validity and, where supported, on the language."""
    pieces = list(pattern)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(pieces)))
        pieces.insert(at, data.draw(st.sampled_from([" ", "\n", "  ", "\t", "#c\n"])))
    check_against_regex("(?x)" + "".join(pieces), random.Random(seed))


def check_against_regex(pattern: str, rnd: random.Random,
                        allowed_unsupported: tuple[str, ...] | None = None) -> None:
    """regex rejects => parse raises a PatternError; regex accepts => parse gives the same
    language or raises UnsupportedPattern (any, or one whose reason contains one of
    `allowed_unsupported`) or PatternTooComplex, never a syntax error."""
    try:
        regex.compile(pattern)
        accepted = True
    except Exception:  # regex raises error, ValueError, TypeError... on bad patterns
        accepted = False
    try:
        node = parse(pattern)
    except UnsupportedPattern as exc:
        assert allowed_unsupported is None or not accepted \
            or any(words in exc.reason for words in allowed_unsupported), exc
        return
    except PatternTooComplex:
        return
    except PatternSyntaxError:
        assert not accepted, f"regex accepts {pattern!r}"
        return
    assert accepted, f"regex rejects {pattern!r}"
    assert_hir_invariants(node)
    assert_same_language(pattern, node, rnd)


_noise = st.text(st.sampled_from(list("()[]{}|?*+^$.\\-:,<>=!#&aAbBdgipPswxXzZN019_ ") + ["\n"]),
                 max_size=14)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_noise, _seeds)
def test_random_text_is_read_like_regex(pattern, seed):
    check_against_regex(pattern, random.Random(seed))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["a", "(?:ab)", "[a-z]", "x", ""]),
       st.text(st.sampled_from(list("{}0123456789,<=deisxc+: ")), max_size=12),
       _seeds)
def test_braces_are_literal_exactly_when_regex_says(prefix, braces, seed):
    check_against_regex(prefix + "{" + braces, random.Random(seed))


@pytest.mark.parametrize("pattern, matches, rejects", [
    ("a|b|c|ab|abc", ["ab", "abc", "c"], ["bc", ""]),
    ("x*?y+?z??", ["yy", "xxyz", "y"], ["xz", ""]),
    (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", ["-0.5", "10", "0"], ["01", "-", "1."]),
    ("a{,3}", ["", "aaa"], ["aaaa", "a{,3}"]),
    ("a{,}", ["", "aaaa"], ["a{,}"]),
    ("a{}", ["a{}"], ["a"]),
    ("a{ 1}", ["a{ 1}"], ["a"]),
    ("a{x}", ["a{x}"], ["a"]),
    ("a{e,x}", ["a{e,x}"], ["a"]),
    ("{x}", ["{x}"], [""]),
    ("a{1,2", ["a{1,2"], ["a"]),
    ("[]a]", ["]", "a"], ["b"]),
    ("[^]a]", ["b"], ["]", "a"]),
    ("[a-]", ["a", "-"], ["b"]),
    (r"[\d-z]", ["-", "5", "z"], ["a"]),
    (r"[a-\d]", ["a", "-", "7"], ["b"]),
    ("[[a]]", ["a]", "[]"], ["a", "[a]"]),
    ("[[:alpha:]]+", ["abcé"], ["a1"]),
    ("[[:a]", ["[", ":", "a"], ["]"]),
    (r"[\b]", ["\b"], ["b"]),
    (r"[\18]", ["\x01", "8"], ["1"]),
    (r"\012\0\400\777", ["\n\x00\u0100\u01ff"], [""]),
    (r"\N{LATIN SMALL LETTER A}\N{latin small letter b}\N", ["abN"], [""]),
    (r"\N{LATIN SMALL LETTER A", ["N{LATIN SMALL LETTER A"], [""]),
    (r"\g\g<a", ["gg<a"], [""]),
    (r"(\g<1>)", ["g<1>"], [""]),
    (r"\pX\p{", ["pXp{"], [""]),
    ("(?x)a b # c\n d", ["abd"], ["a b"]),
    ("(?x)a{1 , 2}", ["a", "aa"], ["a{1 , 2}"]),
    ("(?x)a{1 2}", ["a" * 12], ["a"]),
    (r"(?x)\x4 1[ ]\ ", ["A  "], [""]),
    ("(?x)(? i)a", ["A"], [""]),
    ("a(?i)b|c", ["aB", "C"], ["AB"]),
    ("(?:a(?i)b|c)d", ["aBd", "Cd"], ["aBD", "CD", "Ad"]),
    ("(?i:a)b", ["Ab"], ["AB"]),
    ("(?i)a(?-i:b)", ["Ab"], ["AB"]),
    ("(?i)[^k]", ["a"], ["k", "K", "\u212a"]),
    ("(?i)straße", ["STRAẞE", "Straße"], ["STRASSE"]),
    ("(?i)[a-z]+", ["\u212aſ"], ["é"]),
    (r"(?i)[\p{Lu}a][\p{Lu}b]", ["aB", "Ab"], ["\u0138\u0138", "1a"]),
    (r"(?i)[a\p{Lu}]|[^\P{Lu}1]", ["a", "B", "b"], ["\u0138", "1"]),
    (r"(?i)(?:\w|\d|[\s])+", ["aé 1"], ["-"]),
    (r"(?x)\p { L u }", ["A"], ["a"]),
    (r"[\d\D]", ["a", "\n"], [""]),
    ("(?w).", ["a"], ["\r", "\u2028", "\n"]),
    ("(?s).", ["\n"], [""]),
    (".", ["\r", "\u2028"], ["\n"]),
    (r"(?a)\w(?ai:k)", ["ak"], ["éK", "a\u212a"]),
    (r"\w(?a)", ["a"], ["é"]),
    ("^$", [""], ["a"]),
    ("^*a", ["a"], [""]),
    ("$", [""], ["\n"]),
    (r"(?m)^a$\Z", ["a"], ["a\n"]),
    ("(^a|^b)", ["a", "b"], [""]),
    ("(?:^|a)b", ["b", "ab"], ["aab"]),
    ("(^a)?b", ["ab", "b"], [""]),
    ("a(b$)?", ["a", "ab"], ["abb"]),
    ("a$|b$", ["a", "b"], [""]),
    ("(?:)*a(?:){3}", ["a"], [""]),
    ("a{0}b", ["b"], ["ab"]),
    ("(?#comment)a(?#x\\)y)*", ["", "aaa"], ["b"]),
    ("a(?i)*", ["", "aaa"], ["AAA", "b"]),
    (r"[\ud800-\udfff]|\ud800|x", ["x"], [""]),
    ("(a)|b", ["a", "b"], [""]),
    ("a|", ["a", ""], ["b"]),
    ("|", [""], ["a"]),
])
def test_examples_match_regex(pattern, matches, rejects):
    node = parse(pattern)
    assert_hir_invariants(node)
    rendered = render(node)
    for text in matches:
        assert regex.fullmatch(pattern, text), (pattern, text)  # the table itself is right
        assert regex.fullmatch(rendered, text), (pattern, text)
    for text in rejects:
        assert not regex.fullmatch(pattern, text), (pattern, text)
        assert not regex.fullmatch(rendered, text), (pattern, text)


def test_literals_and_groups_give_a_flat_hir():
    assert parse("ab") == Concat((CharSet(((97, 97),)), CharSet(((98, 98),))))
    assert parse("(?:a|b|c)") == CharSet(((97, 99),))
    assert parse("a{1}") == CharSet(((97, 97),))
    assert parse("(?:)") == Empty()
    assert parse("x{0,2}?") == Repeat(CharSet(((120, 120),)), 0, 2, 1)
    assert parse("(?i)k") == CharSet(((75, 75), (107, 107), (0x212A, 0x212A)))


# ----------------------------------------------------------------------------------- errors

_HINT = "engine="


@pytest.mark.parametrize("pattern, error, words, pos", [
    ("(ab", PatternSyntaxError, "missing )", 0),
    ("a(b(c)", PatternSyntaxError, "missing )", 1),
    ("ab)", PatternSyntaxError, "unbalanced parenthesis", 2),
    ("*a", PatternSyntaxError, "nothing to repeat", 0),
    ("a|+", PatternSyntaxError, "nothing to repeat", 2),
    ("a**", PatternSyntaxError, "multiple repeat", 2),
    ("a{2}{3}", PatternSyntaxError, "multiple repeat", 4),
    ("x{3,2}", PatternSyntaxError, "min repeat greater than max repeat", 1),
    ("x{4294967295}", PatternSyntaxError, "repeat count too big", 1),
    ("ab[z-a]", PatternSyntaxError, "bad character range", 5),
    ("ab[a", PatternSyntaxError, "unterminated character set", 2),
    ("ab[]", PatternSyntaxError, "unterminated character set", 2),
    ("a\\q", PatternSyntaxError, "bad escape \\q", 1),
    ("a\\", PatternSyntaxError, "bad escape (end of pattern)", 1),
    ("[\\8]", PatternSyntaxError, "bad escape \\8", 1),
    ("a\\x4", PatternSyntaxError, "incomplete escape \\x4", 1),
    ("\\U00110000", PatternSyntaxError, "bad hex escape", 0),
    ("\\N{NO SUCH NAME}", PatternSyntaxError, "undefined character name", 0),
    ("a\\p{Nope}", PatternSyntaxError, "unknown property", 1),
    ("[[:nope:]]", PatternSyntaxError, "unknown property", 1),
    ("(?Q)", PatternSyntaxError, "unknown extension", 2),
    ("(?-:a)", PatternSyntaxError, "no flags after '-'", 3),
    ("(?i-i)", PatternSyntaxError, "flag turned on and off", 5),
    ("(?P<1>a)", PatternSyntaxError, "bad character in group name", 4),
    ("(?P<a>x", PatternSyntaxError, "missing )", 0),
    ("(*FOO)", PatternSyntaxError, "unknown verb", 0),
    ("(a\\1)", PatternSyntaxError, "cannot refer to an open group", 2),
    ("a(?#x", PatternSyntaxError, "unterminated comment", 1),
    ("(?a)(?u)x", PatternSyntaxError, "mutually incompatible", 4),
    (r"\w(?u)(?a)", PatternSyntaxError, "mutually incompatible", 6),
    (r"(?a)\w(?u:\d)", UnsupportedPattern, "mixing ASCII", 10),
    ("ab(?=c)", UnsupportedPattern, "lookahead", 2),
    ("a(?!c)", UnsupportedPattern, "lookahead", 1),
    ("(?<=a)b", UnsupportedPattern, "lookbehind", 0),
    ("(?<!a)b", UnsupportedPattern, "lookbehind", 0),
    ("(a)\\1", UnsupportedPattern, "backreference", 3),
    ("(?P<x>a)(?P=x)", UnsupportedPattern, "backreference", 8),
    ("(?P<x>a)\\g<x>", UnsupportedPattern, "backreference", 8),
    ("(?>ab)", UnsupportedPattern, "atomic group", 0),
    ("ab*+", UnsupportedPattern, "possessive", 2),
    ("a++", UnsupportedPattern, "possessive", 1),
    ("a?+", UnsupportedPattern, "possessive", 1),
    ("a{2}+", UnsupportedPattern, "possessive", 1),
    ("(a)(?(1)b|c)", UnsupportedPattern, "conditional", 3),
    ("a\\b", UnsupportedPattern, "word boundary", 1),
    ("\\Ba", UnsupportedPattern, "word boundary", 0),
    ("\\Ga", UnsupportedPattern, "\\G", 0),
    ("a\\X", UnsupportedPattern, "grapheme", 1),
    ("a\\K", UnsupportedPattern, "\\K", 1),
    ("a\\R", UnsupportedPattern, "\\R", 1),
    ("a{e<=1}", UnsupportedPattern, "fuzzy", 1),
    ("(?:ab){1<=s<=2,i}", UnsupportedPattern, "fuzzy", 6),
    ("\\L<words>", UnsupportedPattern, "named list", 0),
    ("a(?R)", UnsupportedPattern, "recursion", 1),
    ("(a)(?1)", UnsupportedPattern, "recursion", 3),
    ("(?P<n>a)(?&n)", UnsupportedPattern, "group call", 8),
    ("(?|a|b)", UnsupportedPattern, "branch reset", 0),
    ("a(*PRUNE)", UnsupportedPattern, "verb", 1),
    ("(?V1)a", UnsupportedPattern, "VERSION1", 0),
    ("(?r)a", UnsupportedPattern, "REVERSE", 0),
    ("(?L)a", UnsupportedPattern, "LOCALE", 0),
    ("(?fi)a", UnsupportedPattern, "full case folding", 5),
    (r"(?a:\w)\w", UnsupportedPattern, "mixing ASCII", 4),
    ("a^b", UnsupportedPattern, "anchor '^'", 1),
    ("a$b", UnsupportedPattern, "anchor '$'", 1),
    ("(a$)b", UnsupportedPattern, "anchor '$'", 2),
    ("(?:a|b$)c", UnsupportedPattern, "anchor '$'", 6),
    ("(^a)*", UnsupportedPattern, "anchor '^'", 1),
    ("a(^b)", UnsupportedPattern, "anchor '^'", 2),
    ("^*a", None, None, None),
    ("a$*", None, None, None),
    ("(?:^)*a(?:$)+", None, None, None),
    ("(^|a)*", UnsupportedPattern, "anchor '^'", 1),
    ("$*a", UnsupportedPattern, "anchor '$'", 0),
    ("x\\Ay", UnsupportedPattern, "anchor '\\\\A'", 1),
    ("\\Zx", UnsupportedPattern, "anchor '\\\\Z'", 0),
    (r"(?i)\p{Lu}|x", UnsupportedPattern, "reads by its context", 4),
    (r"(?i)(?:a|[\p{Ll}])", UnsupportedPattern, "reads by its context", 9),
    # "\u0138" matches (?i)\p{Lu} but not (?i)x?\p{Lu} (regex 2026.5.9): refused everywhere.
    (r"(?i)x?\p{Lu}", UnsupportedPattern, "reads by its context", 6),
    (r"(?i)\p{Lu}[\p{Lu}]", UnsupportedPattern, "reads by its context", 4),
    # regex releases give these three different languages (or crash): refused on every release.
    (r"[^\d\D]", UnsupportedPattern, "classes cover every character", 0),
    (r"(?i)[^\d\D]", UnsupportedPattern, "classes cover every character", 4),
    (r"x[^a\w\D]", UnsupportedPattern, "classes cover every character", 1),
    # One-character alternatives merged into one set by regex 2026.5.9, which then crashes.
    (r"(?i)(?:[\d]|[\D])", UnsupportedPattern, "cover every character", 7),
    (r"(?i)(?:(?:[\d]|x)|[\D])", UnsupportedPattern, "cover every character", 10),
    (r"(?i)(?:[\d]+|[\D])", None, None, None),
    (r"(?i)(?:[\D]|[0-9])", None, None, None),
    (r"(?i)[\s\S]|[\d_]|.", None, None, None),
    ("a{100001}", PatternTooComplex, "repeat count", 1),
    ("a{2,200000}", PatternTooComplex, "repeat count", 1),
])
def test_errors_name_the_problem_and_position(pattern, error, words, pos):
    if error is None:
        parse(pattern)
        return
    with pytest.raises(error) as caught:
        parse(pattern)
    exc = caught.value
    assert words in exc.reason
    assert exc.pos == pos
    assert exc.pattern == pattern
    if error is UnsupportedPattern:
        assert _HINT in str(exc)
    if pos is not None:
        lines = str(exc).split("\n")
        assert lines[0].endswith(f"at position {pos}")
        assert lines[1] == "  " + repr(pattern)[1:-1]
        assert lines[2] == "  " + " " * (len(repr(pattern[:pos])) - 2) + "^"
    if error is PatternSyntaxError:
        with pytest.raises(Exception):  # regex rejects it too
            regex.compile(pattern)


def test_deep_nesting_is_an_error_not_a_crash():
    for opener in ("(", "(?:", "(?i:", "(?P<g>"):
        with pytest.raises(PatternTooComplex) as caught:
            parse(opener * 10_000 + "a" + ")" * 10_000)
        assert caught.value.pos == MAX_NESTING * len(opener)
    with pytest.raises(PatternTooComplex):
        parse("(" * 10_000)
    node = parse("(" * MAX_NESTING + "a" + ")" * MAX_NESTING)
    assert node == CharSet(((97, 97),))
    with pytest.raises(PatternSyntaxError):
        parse("[" * 10_000)
    with pytest.raises(PatternSyntaxError):
        parse(")" * 10_000)


def test_long_patterns_parse():
    assert len(parse("a" * 100_000).items) == 100_000
    assert len(parse("|".join(f"w{i}" for i in range(5000))).items) == 5000
    assert isinstance(parse("(?:a|b)*" * 2000), Concat)


def test_non_patterns_are_typed_errors():
    with pytest.raises(UnsupportedPattern, match="bytes"):
        parse(b"abc")
    with pytest.raises(UnsupportedPattern, match="bytes"):
        parse(regex.compile(b"abc"))
    with pytest.raises(PatternSyntaxError, match="str or regex.Pattern"):
        parse(42)


# --------------------------------------------------------------------------- Pattern objects


@pytest.mark.parametrize("text, flags, same_as", [
    ("abc", regex.I, "(?i)abc"),
    ("a.b", regex.S, "(?s)a.b"),
    ("a b # c", regex.X, "ab"),
    (r"\w+", regex.A, r"(?a)\w+"),
    (r"\w+", 0, r"\w+"),
    ("(?i)ab", 0, "(?i)ab"),
    ("(?i)ab", regex.I, "(?i)ab"),
    ("(?x)a b", 0, "ab"),
    ("a(?s:.)", regex.I, "(?i)a(?s:.)"),
    ("(?i:a)b", regex.I, "(?i)ab"),
    ("a", regex.V0 | regex.P | regex.B | regex.E | regex.T, "a"),
])
def test_compiled_patterns_use_their_flags(text, flags, same_as):
    assert render(parse(regex.compile(text, flags))) == render(parse(same_as))


def test_compiled_pattern_with_ambiguous_flags():
    # .flags cannot tell whether I was passed (then `a` is case-insensitive too) or only inline.
    for text, flags in [("a(?i)b", regex.I), ("a(?i)b", 0), ("a(?-i)b", regex.I)]:
        with pytest.raises(UnsupportedPattern, match="ambiguous"):
            parse(regex.compile(text, flags))
    assert parse(regex.compile("a(?s)b", 0)) == parse("ab")  # no dot: the flag changes nothing
    with pytest.raises(UnsupportedPattern, match="VERSION1"):
        parse(regex.compile("a", regex.V1))
    with pytest.raises(UnsupportedPattern, match="REVERSE"):
        parse(regex.compile("a", regex.R))


# --------------------------------------------------------------------------------- charclass


@functools.lru_cache(maxsize=1)
def _all_text() -> str:
    return "".join(chr(c) for lo, hi in charclass.ALL for c in range(lo, hi + 1))


@pytest.mark.parametrize("item, flags", [(r"\w", ""), (r"\d", ""), (r"\s", ""), (r"\W", ""),
                                          (".", ""), (".", "w"), (r"\w", "a"), (r"\p{Lu}", "i")])
def test_regex_class_equals_regex_on_every_code_point(item, flags):
    ranges = charclass.regex_class(item, flags)
    every = _all_text()
    expected = "".join(regex.findall(f"(?{flags}){item}" if flags else item, every))
    assert "".join(chr(c) for lo, hi in ranges for c in range(lo, hi + 1)) == expected


def test_case_closure_covers_every_cased_character():
    """No character outside the case table matches anything else case-insensitively: the
    class of all of them, matched with (?i) over every code point, finds exactly them."""
    keys = charclass.from_code_points(charclass._case_table(False)[0])
    others = charclass.complement(keys)
    assert charclass.regex_class(render(CharSet(others)), "i") == others


def test_case_closure_in_literal_strings():
    """Case-insensitive literal strings (compiled by regex as one string op) match the same
    characters as single characters do."""
    keys, values = charclass._case_table(False)
    haystack = "".join(f"x{chr(c)}y" for c in keys)
    for c in keys:
        matched = {m.group()[1] for m in regex.finditer("(?i)x" + regex.escape(chr(c)) + "y",
                                                         haystack)}
        closure = charclass.case_closure(((c, c),))
        expected = {chr(x) for lo, hi in closure for x in range(lo, hi + 1)}
        assert matched == expected, hex(c)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0x2FFF), st.integers(0, 40)), min_size=1, max_size=5),
       st.booleans())
def test_case_closure_of_sets_matches_regex(spans, ascii_only):
    ranges = charclass.normalize((lo, lo + width) for lo, width in spans)
    assume(ranges)
    flags = "ai" if ascii_only else "i"
    assert charclass.case_closure(ranges, ascii_only) == charclass.regex_class(
        render(CharSet(ranges)), flags)


_spans = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)).map(sorted).map(tuple),
                  max_size=6)


@given(_spans, _spans)
def test_range_set_algebra(a, b):
    def members(ranges):
        return {c for lo, hi in ranges for c in range(lo, hi + 1)}

    na, nb = charclass.normalize(a), charclass.normalize(b)
    assert members(na) == members(a)
    assert all(hi + 1 < lo2 for (_, hi), (lo2, _) in zip(na, na[1:]))
    assert members(charclass.union(na, nb)) == members(a) | members(b)
    comp = charclass.complement(na)
    assert comp[-1] == (0xE000, 0x10FFFF)
    low_part = {c for lo, hi in comp for c in range(lo, min(hi, 299) + 1)}
    assert low_part == set(range(300)) - members(a)
    assert charclass.complement(comp) == na


def test_normalize_drops_surrogates():
    assert charclass.normalize([(0xD700, 0xE010)]) == ((0xD700, 0xD7FF), (0xE000, 0xE010))
    assert charclass.normalize([(0xD800, 0xDFFF)]) == ()
    assert charclass.from_code_points([0xD800, 65]) == ((65, 65),)


def test_recent_parses_are_shared_and_errors_are_raised_every_time():
    text = r'\{"n": ?[0-9]{1,3}\}'
    assert parse(text) is parse(text)
    compiled = regex.compile(text, regex.I)
    assert parse(compiled) is parse(regex.compile(text, regex.I)) and parse(compiled) != parse(text)
    for _ in range(2):
        with pytest.raises(PatternSyntaxError):
            parse("a(b")


def test_case_dependent_class_beside_a_case_insensitive_branch_is_refused():
    # regex 2026.5.9 reads `[^\p{Lu}]` case-insensitively once a `(?i:...)` group is in another
    # branch and rejects "ſa" (ſ folds to S, an uppercase letter); 2026.12.2 accepts it, as the
    # class alone does. Releases disagree, so the parser refuses the pattern on every release.
    pattern = r"(?:a|[^\p{Lu}])a|(?i:a)"
    assert regex.fullmatch(r"[^\p{Lu}]a", "ſa")
    with pytest.raises(UnsupportedPattern, match="case-insensitive group") as info:
        parse(pattern)
    assert pattern[info.value.pos] == "["
    # Without an alternation, or without a case-dependent class or negated set, nothing changes.
    for kept, text in [(r"[^\p{Lu}]a(?i:b)", "ſaB"), (r"[A-Z]x|(?i:b)", "Sx"),
                       (r"[^A-Z0-9]x(?i:b)", "axB")]:
        language = to_expr(parse(kept))
        for probe in (text, text.upper(), text.lower(), "B", "Sx"):
            assert language.matches(probe) == (regex.fullmatch(kept, probe) is not None)


@pytest.mark.parametrize("pattern", [r"[^A-Z0-9]x|(?i:b)", r"a|(?:[^]k-s]|(?i:a))a",
                                     r"(?i:b)|[^ab]x"])
def test_negated_set_beside_a_case_insensitive_branch_is_refused(pattern):
    # regex 2026.5.9 reads a negated set of several members case-insensitively here: it rejects
    # "ax" for the first pattern although [^A-Z0-9] alone matches "a".
    with pytest.raises(UnsupportedPattern, match="case-insensitive group") as info:
        parse(pattern)
    assert pattern[info.value.pos] == "["


@pytest.mark.parametrize("pattern", [r"(?ai)\p{Ll}", r"(?ai)x[\P{Lu}]", r"(?ai)[[:upper:]]"])
def test_case_dependent_property_under_ascii_and_ignorecase_is_refused(pattern):
    # regex 2026.5.9 fullmatches "(?ai)\p{Ll}" against "A" and "é" while a search finds only
    # a-z: two readings of one pattern, so the engine refuses it.
    with pytest.raises(UnsupportedPattern, match="reads by its context") as info:
        parse(pattern)
    assert pattern[info.value.pos] in "\\["


@pytest.mark.parametrize("pattern", [r"(?ai)[\p{Ll}\d]+", r"(?i)[\p{Ll}\d]", r"(?a)\p{Lu}",
                                     r"\p{Ll}+"])
def test_properties_read_one_way_stay_supported(pattern):
    language = to_expr(parse(pattern))
    for text in ("a", "A", "é", "É", "\u212a", "1"):
        assert language.matches(text) == (regex.fullmatch(pattern, text) is not None), text
