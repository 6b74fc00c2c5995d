"""schema2re.strings, .ecma and .formats: JSON string regexes checked against `json`, Python's
`re` (the `jsonschema` validator's engine), ECMA-262 (node, when installed), the
JSON-Schema-Test-Suite and jsonschema's FormatChecker.

Soundness is checked by sampling the value language (random walks over the HIR of the pattern)
and asking the reference engines; the spelling by matching `json.dumps(value)`.
"""

from __future__ import annotations

import glob
import json
import random
import re
import shutil
import subprocess
import warnings
from collections import Counter
from pathlib import Path

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from decoding.automaton import syntax
from decoding.automaton.hir import Alternation, CharSet, Concat, Repeat
from schema2re import to_expression
from schema2re.ecma import ecma_to_hir_regex
from schema2re.errors import SchemaError, SchemaToRegexError, UnsupportedSchemaError
from schema2re.formats import FORMATS, format_regex
from schema2re.numbers import EmptyRangeError
from schema2re.strings import STRING_CHAR, string_regex, string_rx

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NODE = shutil.which("node")
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates

# Characters where the engines or JSON spellings differ: newline kinds, quote, backslash,
# controls, NBSP/BOM/ideographic space, an Arabic-Indic and an NKo digit, é, an astral char.
_INTERESTING = [0x0A, 0x0D, 0x22, 0x5C, 0x20, 0x09, 0x00, 0x1F, 0x7F, 0x85, 0xA0, 0xE9, 0x663,
                0x7C0, 0x2028, 0x3000, 0xFEFF, 0x1F600, 0x5F, 0x2D]


def _matches(pattern: str, text: str) -> bool:
    return regex.fullmatch(pattern, text) is not None


def _dumps(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sample(node, rng: random.Random, extra: int = 3) -> str:
    """A random string of the HIR language (repeats go at most `extra` past their minimum)."""
    if isinstance(node, CharSet):
        if rng.random() < 0.3:
            picks = [c for c in _INTERESTING if any(a <= c <= b for a, b in node.ranges)]
            if picks:
                return chr(rng.choice(picks))
        low = [(a, min(b, 0x7E)) for a, b in node.ranges if a <= 0x7E]
        a, b = rng.choice(low if low and rng.random() < 0.7 else node.ranges)
        return chr(rng.randint(a, b))
    if isinstance(node, Concat):
        return "".join(_sample(x, rng, extra) for x in node.items)
    if isinstance(node, Alternation):
        return _sample(rng.choice(node.items), rng, extra)
    if isinstance(node, Repeat):
        top = node.min + extra if node.max is None else min(node.max, node.min + extra)
        return "".join(_sample(node.item, rng, extra) for _ in range(rng.randint(node.min, top)))
    return ""


def _python_search(pattern: str, value: str) -> bool:
    """Python's re finds the pattern (true for the ECMA-only syntax `\\u{...}`, `(?<name>`,
    which Python cannot compile: there only ECMA judges)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return re.search(pattern, value) is not None
        except re.error:
            return True


def _ecma_search(jobs: list[tuple[str, list[str]]]) -> list[list[bool] | None]:
    """RegExp(pattern, "u").test(s) for each job, by one node process (without the u flag for
    the Annex B literals `{`, `}`, `]` that u-mode rejects)."""
    script = ("let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{"
              "process.stdout.write(JSON.stringify(JSON.parse(d).map(([p,ss])=>{let r;"
              "try{r=new RegExp(p,'u')}catch(e){try{r=new RegExp(p)}catch(e2){return null}}"
              "return ss.map(s=>r.test(s))})))})")
    assert NODE is not None
    done = subprocess.run([NODE, "-e", script], input=json.dumps(jobs).encode(),
                          capture_output=True, check=True, timeout=120)
    return json.loads(done.stdout)


def _check_sampled(patterns: list[str], per_pattern: int, seed: int = 0) -> int:
    """Sample each converted pattern's language; every sample must be found by Python's re
    (and by ECMA when node exists) and spelled by the string regex. Returns samples checked."""
    rng = random.Random(seed)
    jobs = []
    for p in patterns:
        value_language = ecma_to_hir_regex(p)
        rx = string_regex(pattern=p)
        samples = sorted({_sample(value_language, rng, rng.choice([1, 3, 6]))
                          for _ in range(per_pattern)})
        for s in samples:
            assert _python_search(p, s), f"Python's re does not find {p!r} in {s!r}"
            assert _matches(rx, _dumps(s)), f"{s!r} not spelled by the regex of {p!r}"
        jobs.append((p, samples))
    if NODE:
        for (p, samples), found in zip(jobs, _ecma_search(jobs)):
            assert found is not None, f"node rejects the pattern {p!r}"
            for s, ok in zip(samples, found):
                assert ok, f"ECMA does not find {p!r} in {s!r}"
    return sum(len(s) for _, s in jobs)


# --- plain strings ------------------------------------------------------------------------

@FAST
@given(TEXT)
def test_plain_string_accepts_both_json_dumps_spellings(value):
    pattern = string_regex()
    assert _matches(pattern, _dumps(value))
    # ensure_ascii writes astral characters as surrogate pairs, which are never produced
    assert _matches(pattern, json.dumps(value)) == all(ord(c) <= 0xFFFF for c in value)


def _spellings(value: str, rng: random.Random) -> str:
    """A random valid JSON spelling of `value` (raw, short escape or \\uXXXX per char)."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t", "/": "\\/"}
    out = []
    for ch in value:
        options = []
        if ch not in '"\\' and ord(ch) >= 0x20:
            options.append(ch)
        if ch in short:
            options.append(short[ch])
        if ord(ch) <= 0xFFFF:
            hexa = f"{ord(ch):04x}"
            options.append("\\u" + (hexa.upper() if rng.random() < 0.5 else hexa))
        out.append(rng.choice(options))
    return '"' + "".join(out) + '"'


@FAST
@given(TEXT, st.integers(0, 6), st.one_of(st.none(), st.integers(0, 8)), st.randoms())
def test_lengths_count_decoded_characters_whatever_the_spelling(value, lo, hi, rng):
    if hi is not None and hi < lo:
        with pytest.raises(EmptyRangeError):
            string_regex(min_length=lo, max_length=hi)
        return
    pattern = string_regex(min_length=lo, max_length=hi)
    text = _spellings(value, rng)
    assert json.loads(text) == value
    assert _matches(pattern, text) == (lo <= len(value) and (hi is None or len(value) <= hi))


@FAST
@given(st.text(st.sampled_from(['"', "\\", "a", "u", "0", "D", "8", "n", "/", "\x01", "\x7f",
                                "é", "😀", " "]), max_size=14))
def test_invalid_json_strings_never_match(body):
    text = '"' + body + '"'
    for pattern in (string_regex(), string_regex(max_length=3), string_regex(pattern="a")):
        if _matches(pattern, text):
            value = json.loads(text)  # must be a valid JSON string
            assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def test_bad_lengths_raise_schema_error():
    for bad in ({"min_length": -1}, {"max_length": 2.5}, {"min_length": True}):
        with pytest.raises(SchemaError):
            string_regex(**bad)


# --- patterns -----------------------------------------------------------------------------

CURATED = [
    "abc", "^abc", "abc$", "^abc$", "^$", "a|b", "^a|b$", "(^|,)x", "x(,|$)", "(?:^a|^b)c",
    r"^\d+$", r"\D", r"^\w+$", r"\W", r"^\s*$", r"\S", r"^.$", r"[^a-z]", r"[\s\S]", r"[^\d\s]",
    r"^[\w\-\.]+@[a-z]+\.(com|org)$", r"^\x41\u00e9\u{1F600}$", r"\cJ", r"^\0$", r"[\b]",
    r"^(?<year>\d{4})-\d{2}$", r"a{2,3}?b+?c*?", r"^a{2}$", r"x{3,}", r"^[a-c-]+$", r"[-a]",
    r"^\/path\/[^/]+$", r"a{", r"a}", r"]", r"^\$\^\.\*\+\?\(\)\[\]\{\}\|\\$", r'"quoted"',
    r"^[\x00-\x1f]+$", r"\t\n\r\v\f", r"^[^\u0000-\u007f]+$", r"\u2028", r"[\u2000-\u200a]",
    r"^\+?[1-9]\d{1,14}$", r"^#[0-9a-fA-F]{6}$", r"^[A-Z]{2}-\d{3}$", r"(ab)+", r"^(a|bc)*d$",
]


def test_curated_patterns_are_sound_and_spelled():
    assert _check_sampled(CURATED, 60) > 1000


# Unicode property escapes (General_Category) and control escapes: ECMA alone judges them.
PROPERTY_PATTERNS = [r"^\p{L}+$", r"\p{Lu}\p{Nd}", r"^[\P{L}_]{2}$", r"^\p{digit}+$",
                     r"^\p{gc=Sc}$", r"^\p{General_Category=Letter}\P{N}$", r"^[^\p{L}\d]$",
                     r"\p{Letter}cole", r"^\cC\cz$"]


def test_property_escapes_are_sound_under_ecma():
    assert _check_sampled(PROPERTY_PATTERNS, 40) > 200


@pytest.mark.parametrize("pattern,value,expected", [
    (r"^\p{Letter}+$", "éA", True), (r"^\p{Letter}+$", "1", False),
    (r"^\p{digit}+$", "4\u09ea", True), (r"^\p{digit}+$", "a", False),
    (r"^\P{L}$", "1", True), (r"^\P{L}$", "é", False), (r"^\cC$", "\x03", True),
])
def test_property_escape_examples(pattern, value, expected):
    assert _matches(string_regex(pattern=pattern), _dumps(value)) is expected
    assert to_expression({"pattern": pattern}).matches(_dumps(value)) is expected


@pytest.mark.parametrize("pattern,error", [
    (r"\p{Script=Greek}", UnsupportedSchemaError), (r"\p{Foo}", UnsupportedSchemaError),
    (r"\p{gc=Foo}", SchemaError), (r"\p{L", SchemaError), (r"\p", SchemaError),
])
def test_property_escape_errors(pattern, error):
    with pytest.raises(error) as info:
        ecma_to_hir_regex(pattern)
    assert info.value.keyword == "pattern"


def test_the_meta_schema_check_reads_patterns_as_ecma():
    """`\\p{..}`, `\\cX`, `(?<name>..)` are valid ECMA that Python's `re` rejects; a malformed
    pattern is still a SchemaError."""
    assert to_expression({"patternProperties": {"^\\p{Lu}$": {"type": "integer"}},
                          "additionalProperties": False}).matches('{"É":1}')
    assert to_expression({"pattern": "^(?<n>a)\\cJ$"}).matches('"a\\n"')
    with pytest.raises(SchemaError, match="is not a 'regex'"):
        to_expression({"pattern": "(a"})


@pytest.mark.parametrize("pattern,value,expected", [
    (r"^\d$", "٣", False),  # a digit for Python, not for ECMA
    (r"^\D$", "٣", False),  # a non-digit for ECMA, not for Python
    (r"^\D$", "x", True),
    (r"^\w$", "é", False),
    (r"^\W$", "é", False),
    (r"^\W$", "-", True),
    (r"^\s$", "\u00a0", True),
    (r"^\s$", "\ufeff", False),  # ECMA white space, not Python's
    (r"^\s$", "\x1c", False),  # Python white space, not ECMA's
    (r"^\S$", "\x1c", False),
    (r"^.$", "\n", False),
    (r"^.$", "\u2028", False),
    (r"^.$", "😀", True),
    (r"^a$", "a\n", False),  # Python's $ also matches before a final newline
    (r"^a$", "a", True),
    (r"a", "xxaxx", True),
    (r"^a", "xa", False),
    (r"a$", "ax", False),
    (r"(^|,)x", "a,x", True),
    (r"(^|,)x", "ax", False),
    (r'^"\\$', '"\\', True),
    (r"^[^a]$", "\n", True),
    (r"^\cJ$", "\n", True),
])
def test_pattern_semantics_are_what_both_engines_agree_on(pattern, value, expected):
    assert _matches(string_regex(pattern=pattern), _dumps(value)) == expected


@pytest.mark.parametrize("pattern", [
    "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", r"(a)\1", r"(?<n>a)\k<n>", r"\bword\b", r"a\B",
    r"\p{Script=Greek}", r"\P{Any}", r"\uD83D\uDE00", r"\uDC00", "a{,3}", "[]", "[^]", "(?i)abc",
    "(?P<n>a)", r"\a", r"\z", r"\01", "(^a)*", r"[\d-z]", "x{1001}",
])
def test_unsupported_constructs_raise_with_keyword_and_pointer(pattern):
    with pytest.raises(UnsupportedSchemaError) as info:
        string_regex(pattern=pattern, pointer="/properties/p")
    assert info.value.keyword == "pattern" and info.value.pointer == "/properties/p"


@pytest.mark.parametrize("pattern", ["(", "a)", "[a", "a{3,2}", "*", "a**", "+a", "(?<>a)",
                                     r"\x4", r"\u{110000}", "^*", "a|*", r"[z-a]", "\\"])
def test_malformed_patterns_raise_schema_error(pattern):
    with pytest.raises(SchemaError) as info:
        string_regex(pattern=pattern, pointer="/p")
    assert info.value.keyword == "pattern"


def test_pattern_regexes_parse_with_the_decoding_engine():
    for pattern in CURATED:
        syntax.parse(string_regex(pattern=pattern))
    for name in FORMATS:
        syntax.parse(string_regex(format=name))
    syntax.parse(STRING_CHAR)


# --- patterns with lengths ----------------------------------------------------------------

EXACT_WITH_LENGTHS = [
    (r"^[a-z]+$", 0, 12), (r"^[a-z]+$", 3, None), (r"^x-\d{2,}$", 4, 7), (r"^\d{3}-\w+$", 6, 10),
    (r"[0-9]", 2, 5), (r"[0-9]", 4, None), (r"[0-9a-f]+", 12, 12), (r"ab", 2, 6),
    (r"^(https|http)://(a.com|bb.org)", 10, None), (r"^[A-Z]{2}$", 2, 2), (r"^(ab)*$", 1, 7),
    (r"^a?b?$", 1, 1), (r"^.*$", 0, 3), (r"x.*", 2, 4), (r"^$|^[a-z]{3,}$", 0, 4),
]


@pytest.mark.parametrize("pattern,lo,hi", EXACT_WITH_LENGTHS)
def test_pattern_and_lengths_intersect_exactly(pattern, lo, hi):
    both = string_regex(min_length=lo, max_length=hi, pattern=pattern)
    alone = string_regex(pattern=pattern)
    rng = random.Random(pattern)
    value_language = ecma_to_hir_regex(pattern)
    candidates = [_sample(value_language, rng, rng.choice([0, 2, 9])) for _ in range(300)]
    candidates += ["".join(rng.choice("ab0x-:/.Z\n") for _ in range(rng.randint(0, 14)))
                   for _ in range(300)]
    for value in candidates:
        text = _dumps(value)
        expected = _matches(alone, text) and lo <= len(value) and (hi is None or len(value) <= hi)
        assert _matches(both, text) == expected, (pattern, lo, hi, value)


INTERSECTED_WITH_LENGTHS = [(r"^[a-z]+[0-9]*$", 0, 5), (r"a.*b", 3, 40), (r"^(\w+\s)*\w+$", 1, 50),
                            (r"[0-9]", 0, 500)]


@pytest.mark.parametrize("pattern,lo,hi", INTERSECTED_WITH_LENGTHS)
def test_pattern_and_lengths_with_several_variable_parts_are_intersected(pattern, lo, hi):
    # No single regex text: the text form refuses, naming the way out; the expression is exact.
    with pytest.raises(UnsupportedSchemaError, match="to_expression"):
        string_regex(min_length=lo, max_length=hi, pattern=pattern)
    both = string_rx(min_length=lo, max_length=hi, pattern=pattern).expr
    alone = string_regex(pattern=pattern)
    rng = random.Random(pattern)
    value_language = ecma_to_hir_regex(pattern)
    candidates = [_sample(value_language, rng, rng.choice([0, 2, 9, 40])) for _ in range(300)]
    candidates += ["".join(rng.choice("ab0x-:/.Z \n") for _ in range(rng.randint(0, 60)))
                   for _ in range(300)]
    for value in candidates:
        text = _dumps(value)
        expected = _matches(alone, text) and lo <= len(value) and (hi is None or len(value) <= hi)
        assert both.matches(text) == expected, (pattern, lo, hi, value)


def test_pattern_with_format_intersects_and_empty_intersections_raise():
    dated = string_rx(pattern="^2", format="date").expr
    assert dated.matches('"2024-02-29"') and not dated.matches('"1999-12-31"')
    assert not dated.matches('"2x"')
    with pytest.raises(EmptyRangeError) as info:
        string_regex(pattern="^abc$", max_length=2)
    assert info.value.keyword == "pattern"
    for impossible in ("a^b", "a$b", "/^x$/"):
        with pytest.raises(EmptyRangeError):
            string_regex(pattern=impossible)
    with pytest.raises(EmptyRangeError):
        string_regex(min_length=3, max_length=2)
    with pytest.raises(EmptyRangeError) as info:
        string_regex(format="date", max_length=9)
    assert info.value.keyword == "format"


# --- formats --------------------------------------------------------------------------------

VALID = {
    "date": ["2024-02-29", "2000-02-29", "1999-12-31", "0001-01-01", "2023-04-30"],
    "time": ["23:59:59Z", "00:00:00.123+05:30", "12:30:00-08:00", "08:00:00z"],
    "date-time": ["2024-01-01T00:00:00Z", "1985-04-12T23:20:50.52Z", "1996-12-19t16:39:57-08:00"],
    "duration": ["P1Y", "P1Y2M3DT4H5M6S", "PT0S", "P4W", "PT36H", "P1DT12H", "P3M"],
    "email": ["user@example.com", "first.last+tag@sub.example.org", "x@y.co"],
    "hostname": ["example.com", "a-b.c-d.example", "localhost", "ab-cd.example"],
    "ipv4": ["0.0.0.0", "255.255.255.255", "192.168.1.10"],
    "ipv6": ["::", "::1", "1::", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4",
             "1:2:3:4:5:6:1.2.3.4", "fe80::1:2", "1:2:3:4:5:6:7::"],
    "uuid": ["123e4567-e89b-12d3-a456-426614174000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"],
    "uri": ["http://example.com", "https://user:pw@host:8080/a/b?c=d&e#frag", "urn:isbn:123",
            "mailto:x@y.z", "file:///etc/hosts", "http://[::1]:80/", "a:"],
    "uri-reference": ["/a/b", "../x?y", "#frag", "", "//host/p", "http://e.com/%20"],
    "iri": ["http://example.com/a?b#c", "urn:x"],
    "iri-reference": ["/a/b", "#f", ""],
    "idn-email": ["user@example.com"],
    "idn-hostname": ["example.com", "localhost"],
    "json-pointer": ["", "/", "/a/b", "/a~0b/c~1d", "/ /%/[]", "/0/-"],
    "relative-json-pointer": ["0", "1#", "12/a/b", "0/"],
    "uri-template": ["", "http://example.com/{id}", "{+path}/x{?q,lang}", "{var:30}{list*}",
                     "/{a.b}{%41}", "a%20b"],
    "regex": ["", "^a+$", "[a-z]{2,}", "(?:ab|c)*d?", "x|y|^z$", "[^0-9_]", "(a)(b.)?",
              "^[a-zA-Z0-9_]{3,16}$", "a{12}", "[0-9]{4,4}", "x{0,99}", "b{10,}"],
}
VALID["host-name"], VALID["ip-address"] = VALID["hostname"], VALID["ipv4"]  # draft 3 names
INVALID = {
    "date": ["2023-02-29", "1900-02-29", "2024-13-01", "2024-04-31", "0000-01-01", "2024-1-01",
             "2024-01-01T00:00:00Z"],
    "time": ["24:00:00Z", "12:60:00Z", "12:00:60Z", "12:00:00", "12:00:00+24:00"],
    "date-time": ["2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-02-30T00:00:00Z"],
    "duration": ["P", "PT", "P1S", "1Y", "P1.5Y", "PT1H1D", "P1W2D"],
    "email": ["no-at-sign", "@example.com", "a@", "a@@b.com", "a b@c.com"],
    # Labels with "--" in the 3rd and 4th positions (IDNA, e.g. punycode "xn--") are never
    # generated: hostname checkers validate their punycode, which a regex cannot.
    "hostname": ["-a.com", "a-.com", "a..b", "a_b.com", "a" * 64 + ".com", "", "xn--X",
                 "xn--bcher-kva.example", "ab--cd.example"],
    "ipv4": ["256.0.0.1", "1.2.3", "01.2.3.4", "1.2.3.4.5"],
    "ipv6": [":::", "1:2:3:4:5:6:7:8:9", "12345::", "1::2::3", "::1%eth0", "1:2:3:4:5:6:7:8::"],
    "uuid": ["123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400"],
    "uri": ["//no-scheme", "http://a b", "1http://x", "", "http://x/%zz"],
    "uri-reference": ["http://a b", "a:b c", "%zz"],
    "iri": ["//no-scheme", "http://a b"],
    "iri-reference": ["http://a b", "%zz"],
    "idn-email": ["no-at-sign"],
    "idn-hostname": ["xn--X", "-a.com", "a" * 64],
    "json-pointer": ["a", "/~", "/~2", "#/a", "a/b"],
    "relative-json-pointer": ["", "/a", "01", "-1", "0##", "1#/a", "#"],
    "uri-template": ["{", "}", "{}", "{a", "{a b}", "{a:0}", "{=a}", "a b", "%zz", "{a,}"],
    "regex": ["(", ")", "[", "a**", "*a", "+", "[z-a]", "a{2,1}", "\\a", "(?<n>x)", "[]", "{",
              "a{9,3}", "a{3}{2}", "a{,3}"],
}
INVALID["host-name"], INVALID["ip-address"] = INVALID["hostname"], INVALID["ipv4"]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_examples(name):
    pattern = string_regex(format=name)
    for value in VALID[name]:
        assert _matches(pattern, _dumps(value)), (name, value)
    for value in INVALID[name]:
        assert not _matches(pattern, _dumps(value)), (name, value)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_samples_pass_the_installed_format_checker(name):
    checker = Draft202012Validator.FORMAT_CHECKER
    value_language = ecma_to_hir_regex(f"^(?:{format_regex(name)})$")
    printable = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
    rng = random.Random(name)
    samples = []
    for _ in range(400):
        value = _sample(value_language, rng, rng.choice([1, 3, 8]))
        assert {ord(c) for c in value} <= printable
        if name in checker.checkers:
            assert checker.conforms(value, name), (name, value)
        samples.append(value)
    if name == "regex" and NODE is not None:  # valid ECMA-262 too (u-mode, as JSON Schema reads it)
        assert None not in _ecma_search([(value, [""]) for value in samples])


def test_format_under_max_length_is_the_exact_intersection():
    bounded = string_rx(format="uri", min_length=1, max_length=2083).expr  # pydantic's HttpUrl
    whole = string_regex(format="uri")
    for url in ["https://example.com/path/to/page?x=1#frag", "http://a.b/" + "x" * 50,
                "http://a.b/" + "x" * 2072]:
        assert bounded.matches(_dumps(url)), url
    assert not bounded.matches(_dumps("http://a.b/" + "x" * 2073))
    value_language = ecma_to_hir_regex(whole[1:-1].join(["^(?:", ")$"]))
    rng = random.Random(5)
    for _ in range(200):
        value = _sample(value_language, rng, rng.choice([5, 60, 400]))
        text = _dumps(value)
        assert bounded.matches(text) == (1 <= len(value) <= 2083 and _matches(whole, text))


def test_format_with_lengths_and_unknown_formats():
    assert _matches(string_regex(format="date", min_length=10, max_length=10), '"2024-02-29"')
    uuid_rx = string_regex(format="uuid", max_length=40)
    assert _matches(uuid_rx, '"123e4567-e89b-12d3-a456-426614174000"')
    short_host = string_rx(format="hostname", max_length=20).expr
    assert short_host.matches('"a.bc"') and short_host.matches('"abcdefghijklmnopqrs"')
    assert not short_host.matches('"abcdefghijklmnopqrstu"')
    with pytest.raises(UnsupportedSchemaError, match="to_expression"):
        string_regex(format="hostname", min_length=5, max_length=10)
    host = string_rx(format="hostname", min_length=5, max_length=10).expr
    assert host.matches('"ab.cd"') and not host.matches('"a.bc"')
    assert not host.matches('"abcdefgh.ij"')
    with pytest.raises(UnsupportedSchemaError) as info:
        format_regex("topic", pointer="/f")
    assert info.value.keyword == "format" and info.value.pointer == "/f"


# --- real-world patterns ----------------------------------------------------------------------

def _real_patterns() -> Counter:
    found: Counter = Counter()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found[node["pattern"]] += 1
            if isinstance(node.get("patternProperties"), dict):
                found.update(list(node["patternProperties"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in glob.glob(str(DATA / "jsonschemabench-dev" / "*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                walk(json.loads(line)["schema"])
    return found


@pytest.mark.skipif(not (DATA / "jsonschemabench-dev").is_dir(), reason="shared data missing")
def test_real_world_patterns_convert_and_are_sound():
    patterns = _real_patterns()
    converted = []
    for p in patterns:
        try:
            string_regex(pattern=p)
            converted.append(p)
        except SchemaToRegexError as exc:
            assert isinstance(exc, UnsupportedSchemaError) and exc.keyword == "pattern", (p, exc)
    share = sum(patterns[p] for p in converted) / sum(patterns.values())
    assert share >= 0.99, share
    assert _check_sampled(sorted(converted), 6, seed=1) > 3000


@pytest.mark.skipif(not (DATA / "json-schema-test-suite").is_dir(), reason="shared data missing")
def test_json_schema_test_suite_pattern_cases():
    """Every string instance of a pure `pattern` case: a match implies the suite says valid;
    the valid ones missed are exactly the documented ECMA/Python divergences."""
    missed = []
    for path in glob.glob(str(DATA / "json-schema-test-suite/tests/draft2020-12/**/*.json"),
                          recursive=True):
        with open(path, encoding="utf-8") as f:
            cases = json.load(f)
        for case in cases:
            schema = case["schema"]
            if not (isinstance(schema, dict) and isinstance(schema.get("pattern"), str)
                    and set(schema) <= {"pattern", "type", "$schema"}):
                continue
            try:
                rx = string_regex(pattern=schema["pattern"])
            except UnsupportedSchemaError:
                continue
            for test in case["tests"]:
                if isinstance(test["data"], str):
                    matched = _matches(rx, _dumps(test["data"]))
                    assert not matched or test["valid"], (schema, test)
                    if test["valid"] and not matched:
                        missed.append(test["data"])
    assert sorted(missed) == sorted(["\u07c0", "\u07c0", "é", "\ufeff"])


@pytest.mark.parametrize("kind, test", [("d", str.isdecimal),
                                         ("w", lambda c: c.isalnum() or c == "_"),
                                         ("s", str.isspace)])
def test_python_classes_are_what_str_methods_say(kind, test):
    """\\d, \\w and \\s read as Python reads them (on str): every scalar value checked."""
    from schema2re.ecma import _python_class

    ranges = _python_class(kind)
    inside = {cp for lo, hi in ranges for cp in range(lo, hi + 1)}
    expected = {cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and test(chr(cp))}
    assert inside == expected


# --- leading lookaheads ---------------------------------------------------------------------

def _pattern_matches(pattern: str, value: str) -> bool:
    return to_expression({"type": "string", "pattern": pattern}).matches(_dumps(value))


@pytest.mark.parametrize("pattern, value, expected", [
    (r"^(?!@@)[\w@]+$", "a@b", True), (r"^(?!@@)[\w@]+$", "@@x", False),
    (r"^(?!@@)[\w@]+$", "x@@", True), (r"^(?!@@)[\w@]+$", "@", True),
    (r"^(?=.*\d)(?=.*[a-z]).{8,}$", "abcdefg1", True),
    (r"^(?=.*\d)(?=.*[a-z]).{8,}$", "abcdefgh", False),
    (r"^(?=.*\d)(?=.*[a-z]).{8,}$", "12345678", False),
    (r"^(?=ab)a", "abc", True), (r"^(?=ab)a", "a", False),
    (r"^(?!admin$)[a-z]+$", "admins", True), (r"^(?!admin$)[a-z]+$", "admin", False),
    (r"^(?!admin$)[a-z\n]+", "admin\n", False),  # Python's $ holds before a final newline
    (r"^(?!\d)\w+", "\u0663abc", False),  # a digit to Python (not to ECMA): excluded
    (r"^(?!.)", "\u2028", False),  # any character to Python, a line end to ECMA: excluded
    (r"^(?!.)", "\n", True), (r"^(?!.)", "", True),
    (r"^(?![^a])", "b", False), (r"^(?![^a])", "a", True),
    (r"^(?!a^)b", "b", True),  # a `^` that cannot hold: the lookahead never matches
])
def test_leading_lookaheads_mean_what_both_engines_agree_on(pattern, value, expected):
    assert _pattern_matches(pattern, value) == expected
    if expected:  # what typedecode accepts, jsonschema accepts
        assert Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(value)


@pytest.mark.parametrize("pattern", [
    "(?=a)b", "^a(?=b)", "^(?=a)b|c", "^((?=a)b)", "^(?=(?=a)a)", "^(?<=a)b", "x|^(?=a)",
])
def test_lookaheads_elsewhere_are_refused_with_keyword_and_pointer(pattern):
    with pytest.raises(UnsupportedSchemaError) as info:
        to_expression({"type": "object", "properties": {"p": {"type": "string",
                                                              "pattern": pattern}}})
    assert info.value.keyword == "pattern" and info.value.pointer == "/properties/p"


def test_a_lookahead_no_value_can_satisfy_empties_the_string():
    with pytest.raises(UnsupportedSchemaError, match="no string satisfies"):
        to_expression({"type": "string", "pattern": "^(?=a^)"})


def test_lookaheads_with_length_bounds_and_format_are_intersected():
    schema = {"type": "string", "pattern": r"^(?!x)[a-z]+$", "minLength": 2, "maxLength": 3}
    expression = to_expression(schema)
    for value in ["ab", "abc", "xa", "a", "abcd", "Ab"]:
        assert expression.matches(_dumps(value)) == Draft202012Validator(schema).is_valid(value)


_PIECES = st.sampled_from(["a", "b", "a*", "b?", ".", "(a|b)", "(ab|b)*", "[^a]", "\\w", "a+"])
_FRAGMENT = st.lists(_PIECES, min_size=0, max_size=3).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["?=", "?!"]), _FRAGMENT, st.booleans()),
                min_size=1, max_size=2),
       _FRAGMENT, st.booleans(), st.lists(st.text("ab\n", max_size=5), min_size=6, max_size=6))
def test_leading_lookaheads_match_pythons_search(ahead, rest, end, values):
    pattern = "^" + "".join(f"({kind}{x}{'$' if at_end else ''})" for kind, x, at_end in ahead) \
        + rest + ("$" if end else "")
    try:
        expression = to_expression({"type": "string", "pattern": pattern})
    except UnsupportedSchemaError as exc:  # no string satisfies it
        assert "no string satisfies" in str(exc)
        assert not any(re.search(pattern, v) for v in values if "\n" not in v), pattern
        return
    for value in values:
        found = re.search(pattern, value) is not None
        matched = expression.matches(_dumps(value))
        if "\n" in value:  # `$` differs (Python: also before a final newline): never accept more
            assert found or not matched, (pattern, value)
        else:
            assert matched == found, (pattern, value)


def test_string_rx_is_memoized_on_its_keywords_but_errors_keep_their_pointer() -> None:
    from schema2re.numbers import EmptyRangeError
    from schema2re.strings import string_rx

    assert string_rx(1, 8, "^[a-z]+$") is string_rx(1, 8, "^[a-z]+$", pointer="/elsewhere")
    for pointer in ("/properties/a", "/properties/b"):  # the second call hits no stale error
        with pytest.raises(EmptyRangeError) as caught:
            string_rx(5, 2, pointer=pointer)
        assert caught.value.pointer == pointer
    assert string_rx(1).expr.matches('"x"')
    with pytest.raises(SchemaError):  # True is not the memoized 1
        string_rx(True, pointer="/c")
