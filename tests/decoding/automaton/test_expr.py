"""Tests of the expression layer (decoding.automaton.expr), its regex rendering
(decoding.automaton.render) and the lazy DFA over expressions with `&` and `~`.

What is checked:
- Differential against `regex.fullmatch`: the expression of a random pattern accepts exactly the
  strings the pattern matches, and `render.to_text` of it, read back by `regex`, does too; read
  back by `syntax.parse` it has exactly the same language.
- `class_starts`: the bytes of one run have one derivative; `derivative_classes` gives every
  byte the very node `derivative` does (random patterns, JSON Schema states).
- Intersection, difference and text complement of two random patterns accept exactly what the
  boolean combination of the two `regex.fullmatch` results says; `is_empty` agrees with brute
  force (no short string when empty; a witness, verified by `regex`, when not).
- Hash-consing and normal forms: equal constructions are the same object, digests are a function
  of the structure only (equal in another process), `nullable` is right.
- The lazy DFA over an intersection or complement: every live state on a random byte walk has a
  completion (found over the DFA's rows, verified by `regex`), and acceptance equals `matches`.
- Large bounded repetitions stay counters: they build at once and are exact at their bounds.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding.automaton import expr as x
from decoding.automaton import render
from decoding.automaton.dfa import DEAD, Automaton, expr_key
from decoding.automaton.expr import Expr
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.errors import EmptyLanguage, PatternTooComplex
from tests.strategies import patterns, strings_for

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------------------------------ helpers


def expr_of(pattern: str) -> Expr:
    return to_expr(parse(pattern))


def full(pattern: str, text: str) -> bool:
    return regex.fullmatch(pattern, text) is not None


def same_language(a: Expr, b: Expr) -> bool:
    """Exact: the symmetric difference is empty (or the very same expression)."""
    return a is b or x.is_empty(x.alt(x.difference(a, b), x.difference(b, a)))


# Each operation: how to build its expression from the two patterns' expressions, and its truth
# for a string given whether the first and the second pattern match that string.
OPERATIONS: dict[str, tuple[Callable[[Expr, Expr], Expr], Callable[[bool, bool], bool]]] = {
    "both": (x.both, lambda p, q: p and q),
    "difference": (x.difference, lambda p, q: p and not q),
    "complement": (lambda p, q: x.complement(p), lambda p, q: not p),
}


def combined(data: st.DataObject) -> tuple[str, str, str, Expr, Callable[[str], bool]]:
    """Two drawn patterns, an operation on them, its expression and its `regex`-based truth."""
    p = data.draw(patterns(), label="p")
    q = data.draw(patterns(), label="q")
    op = data.draw(st.sampled_from(sorted(OPERATIONS)), label="op")
    make, truth = OPERATIONS[op]
    return p, q, op, make(expr_of(p), expr_of(q)), lambda s: truth(full(p, s), full(q, s))


def combined_along(data: st.DataObject) -> tuple[str, str, str, list[Expr]]:
    """`combined`'s patterns and operation, its expression and that expression's derivatives
    along the first bytes of a string drawn for either pattern."""
    p, q, op, e, _ = combined(data)
    raw = data.draw(strings_for(p) | strings_for(q), label="string").encode()
    exprs = [e]
    for b in raw[:4]:
        exprs.append(x.derivative(exprs[-1], b))
    return p, q, op, exprs


def witness(e: Expr, budget: int = 20_000) -> bytes | None:
    """A shortest byte string of `e`, searched breadth-first over derivatives (None: none found
    within `budget` expressions)."""
    way: dict[Expr, bytes] = {e: b""}
    frontier = [e]
    while frontier and len(way) < budget:
        nxt = []
        for y in frontier:
            if y.nullable:
                return way[y]
            for b in x.class_starts(y):
                z = x.derivative(y, b)
                if z is not x.NOTHING and z not in way:
                    way[z] = way[y] + bytes((b,))
                    nxt.append(z)
        frontier = nxt
    return None


def completion(a: Automaton, state: int, budget: int = 20_000) -> bytes | None:
    """Bytes leading from `state` to an accepting state, breadth-first over the DFA's rows (one
    byte per class), or None when none is found within `budget` states."""
    starts = np.flatnonzero(np.diff(a.byte_class, prepend=-1)).tolist()
    way = {state: b""}
    frontier = [state]
    while frontier and len(way) < budget:
        nxt = []
        for s in frontier:
            if a.is_accepting(s):
                return way[s]
            for c, t in enumerate(a.expand(s).tolist()):
                if t != DEAD and t not in way:
                    way[t] = way[s] + bytes((starts[c],))
                    nxt.append(t)
        frontier = nxt
    return None


# --------------------------------------------------------------- differential against regex


@SETTINGS
@given(st.data())
def test_expression_and_its_rendering_agree_with_regex(data: st.DataObject) -> None:
    pattern = data.draw(patterns(), label="pattern")
    e = expr_of(pattern)
    text = render.to_text(e)
    assert e.nullable == full(pattern, "")
    for _ in range(8):
        s = data.draw(strings_for(pattern), label="string")
        expected = full(pattern, s)
        assert e.matches(s) == expected, (pattern, s)
        assert full(text, s) == expected, (pattern, text, s)


@SETTINGS
@given(patterns())
def test_rendering_parses_back_to_the_same_language(pattern: str) -> None:
    """Exact (`same_language`), so it catches what strings drawn from the pattern would rarely
    show, such as a character rendered as a wider class."""
    e = expr_of(pattern)
    assert same_language(expr_of(render.to_text(e)), e), (pattern, render.to_text(e))


@pytest.mark.parametrize("e", [
    x.NOTHING,
    x.repeat(x.literal("x"), 0, 1_000_000),
    x.EMPTY,
    x.optional(x.repeat(x.literal("ab"), 2, None)),
    x.cat(x.chars([(0x41, 0x5A), (0xE9, 0xE9)]), x.repeat(x.literal("{"), 0, 100_000)),
])
def test_rendered_text_parses_back_or_is_refused(e: Expr) -> None:
    """render's contract for expressions that no pattern gave: the text parses back to the same
    language, or there is no text (`NoRegexText`)."""
    try:
        text = render.to_text(e)
    except render.NoRegexText:
        return
    assert same_language(expr_of(text), e), text


@SETTINGS
@given(st.data())
def test_bytes_between_boundaries_have_one_derivative(data: st.DataObject) -> None:
    """`boundaries`/`class_starts`: every byte has the derivative of the first byte of its run,
    for combined expressions and their derivatives along a drawn string."""
    p, q, op, exprs = combined_along(data)
    for y in exprs:
        starts = x.class_starts(y)
        assert starts[0] == 0 and starts == sorted(set(starts))
        run_start = 0
        for byte in range(256):
            if byte in starts:
                run_start = byte
            assert x.derivative(y, byte) is x.derivative(y, run_start), (op, p, q, byte)


def walked_cuts(e: Expr) -> int:
    """`byte_cuts` by a walk over every node below `e`, character sets lowered (the reference
    the construction-time field must equal)."""
    bits, seen, stack = 0, set(), [e]
    while stack:
        y = stack.pop()
        if y in seen:
            continue
        seen.add(y)
        if y.kind == x.BYTES:
            bits |= y.mask ^ (y.mask << 1)
        stack.extend((x.lowered(y),) if y.kind == x.CHARS else y.items)
    return bits


@SETTINGS
@given(st.data())
def test_byte_cuts_are_those_of_every_node_below(data: st.DataObject) -> None:
    """`byte_cuts`, set when a node is made, equals a walk over the expression, for combined
    expressions and their derivatives along a drawn string; and the automaton's byte classes
    never put two bytes with different derivatives in one class."""
    p, q, op, exprs = combined_along(data)
    for y in exprs:
        assert x.byte_cuts(y) == walked_cuts(y), (op, p, q)
    if exprs[0] is x.NOTHING or x.is_empty(exprs[0]):
        return
    classes = Automaton(exprs[0]).byte_class
    for y in exprs:
        first = {}
        for byte in range(256):
            d = first.setdefault(int(classes[byte]), x.derivative(y, byte))
            assert x.derivative(y, byte) is d, (op, p, q, byte)


code_points = st.integers(0, 0x10FFFF)


@SETTINGS
@given(st.lists(st.tuples(code_points, code_points).map(sorted), min_size=1, max_size=6))
def test_byte_cuts_of_a_character_set_are_those_of_its_utf8_form(ranges: list) -> None:
    """A character set's cuts, read off its UTF-8 sequences without lowering it, equal those of
    its lowered form (whose alternations merge byte sets)."""
    e = x.chars(ranges)
    assert x.byte_cuts(e) == walked_cuts(e)


@pytest.mark.parametrize("ranges", [[(0x41, 0x5A), (0x5C, 0x60)], [(0xC0, 0xC5), (0xC7, 0xCF)],
                                    [(0x4E00, 0x4E01), (0x4E05, 0x4E06)], [(0x7F, 0x80)],
                                    [(0xD000, 0xE100)], [(0xFFFF, 0x10000)], [(0, 0x10FFFF)]])
def test_byte_cuts_of_character_sets_next_to_encoding_boundaries(ranges: list) -> None:
    e = x.chars(ranges)
    assert x.byte_cuts(e) == walked_cuts(e) != 0


# ------------------------------------------------------------------- intersection, complement


@SETTINGS
@given(st.data())
def test_boolean_operations_agree_with_regex(data: st.DataObject) -> None:
    p, q, op, e, truth = combined(data)
    assert e.nullable == truth("")
    for _ in range(8):
        s = data.draw(strings_for(p) | strings_for(q), label="string")
        assert e.matches(s) == truth(s), (op, p, q, s)


@SETTINGS
@given(st.data())
def test_neg_is_the_byte_complement(data: st.DataObject) -> None:
    pattern = data.draw(patterns(), label="pattern")
    e = expr_of(pattern)
    raw = data.draw(st.binary(max_size=6) | strings_for(pattern).map(str.encode), label="bytes")
    assert x.neg(e).matches(raw) == (not e.matches(raw))


ALPHABET_AB = "ab"
SMALL_LENGTH = 7


def small_patterns() -> st.SearchStrategy[str]:
    """Patterns over the letters a and b, small enough for brute force over short strings."""
    atoms = st.sampled_from(["a", "b", "[ab]", "aa", "ab"])

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quantified = st.tuples(children, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{2,}"]))
        return st.one_of(quantified.map(lambda t: f"(?:{t[0]}){t[1]}"),
                         st.lists(children, min_size=2, max_size=3).map("".join),
                         st.lists(children, min_size=2, max_size=3).map(
                             lambda items: "(?:" + "|".join(items) + ")"))

    return st.recursive(atoms, extend, max_leaves=5)


SHORT_STRINGS = ["".join(t) for n in range(SMALL_LENGTH + 1)
                 for t in itertools.product(ALPHABET_AB, repeat=n)]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(small_patterns(), small_patterns(), st.sampled_from(sorted(OPERATIONS)))
def test_is_empty_agrees_with_brute_force(p: str, q: str, op: str) -> None:
    make, truth = OPERATIONS[op]
    e = make(expr_of(p), expr_of(q))
    if x.is_empty(e):
        assert not any(truth(full(p, s), full(q, s)) for s in SHORT_STRINGS), (op, p, q)
    else:
        found = witness(e)
        assert found is not None, (op, p, q)
        s = found.decode("utf-8")
        assert truth(full(p, s), full(q, s)), (op, p, q, s)


@pytest.mark.parametrize("e, empty", [
    (x.both(expr_of("a+"), expr_of("b+")), True),
    (x.both(expr_of("[a-z]{4,12}"), expr_of("[a-z]+(-[a-z]+)*")), False),
    (x.both(expr_of("a{3}"), x.neg(expr_of("a*"))), True),
    (x.both(expr_of("a{3}"), x.complement(expr_of("a*"))), True),
    (x.both(expr_of("(?:aa)+"), expr_of("(?:aaa)+")), False),
    (x.difference(expr_of("a*"), expr_of("(?:aa)*")), False),
    (x.complement(expr_of("(?s).*")), True),
    (x.complement(x.TEXT), True),
    (x.neg(x.TEXT), False),  # invalid UTF-8
    (x.both(expr_of("[^a]"), expr_of("é|a")), False),
    (x.both(expr_of("[^é]"), expr_of("é")), True),
])
def test_is_empty_on_known_cases(e: Expr, empty: bool) -> None:
    assert x.is_empty(e) == empty
    if not empty:
        assert e.matches(witness(e))


def test_is_empty_decides_concatenations_and_alternations_by_their_parts(monkeypatch) -> None:
    # Exploring this intersection needs 8 derivatives, over the budget set here; a branch or
    # part that decides the answer alone keeps it from being explored (or from raising).
    monkeypatch.setattr(x, "MAX_EMPTINESS_STATES", 3)
    hard = x.both(expr_of("[a-h]{8}"), expr_of("(?:a|[^a])bcdefgh"))
    with pytest.raises(PatternTooComplex):
        x.is_empty(hard)
    assert not x.is_empty(x.alt(hard, x.both(expr_of("ab"), expr_of("a[b-c]"))))
    empty = x.both(expr_of("ab"), expr_of("ac"))  # one derivative shows it empty
    assert x.is_empty(x.cat(hard, expr_of("z"), empty))
    with pytest.raises(PatternTooComplex):  # nothing else decides: the budget still holds
        x.is_empty(x.cat(hard, expr_of("z")))
    checked = x.both(expr_of("[a-z]+"), expr_of("x[0-9a-z]*"))
    assert not x.is_empty(checked)  # memoized on it: the schema's whole expression is then
    assert not x.is_empty(x.cat(expr_of('"'), x.repeat(checked, 1, 3), expr_of('"')))  # known
    assert checked._empty is False


def test_character_set_of_surrogates_only_is_empty() -> None:
    surrogates = x.chars([(0xD800, 0xDFFF)])
    assert x.is_empty(surrogates)
    assert x.is_empty(x.both(x.neg(x.literal("b")), x.cat(x.literal("a"), surrogates)))
    with pytest.raises(EmptyLanguage):
        Automaton(surrogates)


def test_witness_of_an_intersection_is_the_shortest_common_string() -> None:
    assert witness(x.both(expr_of("(?:aa)+"), expr_of("(?:aaa)+"))) == b"a" * 6
    assert witness(x.difference(expr_of("[a-z]+"), expr_of("[a-y]*"))) == b"z"


# ------------------------------------------------------------------ hash-consing, normal forms


def test_equal_constructions_are_one_object() -> None:
    a, b, c = x.literal("a"), expr_of("b+"), expr_of("[0-9]{2}")
    assert x.alt(a, b) is x.alt(b, a)
    assert x.both(a, b) is x.both(b, a)
    assert x.neg(x.neg(b)) is b
    assert x.cat(x.cat(a, b), c) is x.cat(a, x.cat(b, c)) is x.cat(a, b, c)
    assert x.alt(b, b) is b and x.both(c, c) is c
    assert x.alt(a, x.alt(b, a), b) is x.alt(a, b)
    assert x.both(b, x.both(c, b)) is x.both(b, c)
    assert x.alt(b, x.NOTHING) is b and x.both(b, x.TOP) is b
    assert x.cat(b, x.EMPTY) is b and x.cat(b, x.NOTHING) is x.NOTHING
    assert x.both(b, x.NOTHING) is x.NOTHING and x.alt(b, x.TOP) is x.TOP
    assert x.repeat(b, 1, 1) is b and x.repeat(c, 0, 0) is x.EMPTY
    assert x.repeat(expr_of("a?"), 2, 5) is x.repeat(expr_of("a?"), 0, 5)
    assert x.alt(x.literal("a"), x.literal("b")) is x.byteset(0b11 << ord("a")) is expr_of("[ab]")
    assert x.alt(expr_of("é"), x.literal("a")) is expr_of("[aé]")
    assert x.literal("ab") is expr_of("ab") and x.literal(b"ab") is x.literal("ab")
    assert expr_of("([0-9]+)(,[0-9]+)*") is expr_of("[0-9]+(?:,[0-9]+)*")


def test_derivatives_are_memoized_and_interned() -> None:
    e = expr_of("(?:ab|ac)*d")
    first = x.derivative(e, ord("a"))
    assert x.derivative(e, ord("a")) is first
    assert first is x.cat(expr_of("[bc]"), e)
    assert x.derivative(x.derivative(first, ord("b")), ord("d")) is x.EMPTY


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**256 - 1), st.integers(1, 2**256 - 1),
       st.sampled_from([0, 61, 122, 183]))
def test_byte_sets_have_the_same_digest_only_when_equal(m: int, n: int, shift: int) -> None:
    # Python hashes an int modulo 2**61 - 1: masks one 61-bit shift apart must not collide.
    shifted = (m << shift) & (2**256 - 1) or m
    for a, b in ((m, n), (m, shifted)):
        assert (x.byteset(a).digest == x.byteset(b).digest) == (a == b)


def test_states_of_byte_sets_one_61_bit_shift_apart_stay_apart() -> None:
    # [zZ] (bytes 0x5A, 0x7A) and the continuation bytes 0x97, 0xB7 that `.\W` meets after a
    # 2-byte character once had one digest, hence one automaton state: after "Zé" was read,
    # "{aZ" was refused.
    pattern = "\\{a[zZ]|.\\W"
    automaton = Automaton(expr_of(pattern))
    automaton.walk(automaton.initial_state, "Zé".encode())
    for text in ("{aZ", "{az", "Zé", "Z!"):
        state = automaton.walk(automaton.initial_state, text.encode())
        assert automaton.is_accepting(state) == (regex.fullmatch(pattern, text) is not None)


@SETTINGS
@given(st.lists(patterns(), min_size=1, max_size=3))
def test_distinct_derivatives_have_distinct_state_keys(ps: list[str]) -> None:
    # The automaton merges states by key: the derivatives of several patterns (up to 300
    # expressions, one byte per run of `boundaries`) must never share a key unless identical.
    seen: dict[tuple[int, ...], Expr] = {}
    done: set[Expr] = set()
    frontier = [expr_of(p) for p in ps]
    while frontier and len(seen) < 300:
        e = frontier.pop()
        known = seen.setdefault(expr_key(e), e)
        assert known is e, (ps, e, known)
        if e not in done and e.kind != x.NOTHING_KIND:
            done.add(e)
            cuts = x.boundaries(e)
            frontier += [x.derivative(e, b) for b in range(256) if cuts >> b & 1 or b == 0]


def test_expressions_are_not_pickled() -> None:
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(expr_of("a"))


@SETTINGS
@given(patterns(), patterns())
def test_identity_is_structural_equality(p: str, q: str) -> None:
    ep, eq = expr_of(p), expr_of(q)
    assert expr_of(p) is ep
    assert (ep is eq) == (ep.digest == eq.digest)
    assert x.alt(ep, eq) is x.alt(eq, ep) and x.both(ep, eq) is x.both(eq, ep)
    assert x.neg(x.neg(x.both(ep, eq))) is x.both(ep, eq)


DIGEST_CASES = {
    "json string": r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"',
    "unicode": r"(?i)[à-ÿ日本]+🎉?\w{2,5}",
    "alternation": r"a|b|c|ab|abc",
}
DIGEST_SCRIPT = """
from decoding.automaton import expr as x
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
import json, sys
cases = json.loads(sys.argv[1])
out = {name: repr(to_expr(parse(p)).digest) for name, p in cases.items()}
a, b = to_expr(parse(cases["json string"])), to_expr(parse(cases["unicode"]))
out["boolean"] = repr(x.difference(x.both(a, b), x.complement(b)).digest)
print(json.dumps(out))
"""


def test_digests_are_equal_in_another_process() -> None:
    # Another string-hash seed too: the digest may depend on nothing but the structure.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT, json.dumps(DIGEST_CASES)],
                          capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    theirs = json.loads(done.stdout)
    ours = {name: repr(expr_of(p).digest) for name, p in DIGEST_CASES.items()}
    a, b = expr_of(DIGEST_CASES["json string"]), expr_of(DIGEST_CASES["unicode"])
    ours["boolean"] = repr(x.difference(x.both(a, b), x.complement(b)).digest)
    assert theirs == ours
    assert len(set(ours.values())) == len(ours)


def test_nullable() -> None:
    a = x.literal("a")
    assert x.EMPTY.nullable and not x.NOTHING.nullable and x.TOP.nullable and x.TEXT.nullable
    assert not a.nullable and x.optional(a).nullable and x.repeat(a, 0, 3).nullable
    assert not x.repeat(a, 2, None).nullable and x.repeat(x.optional(a), 2, None).nullable
    assert x.neg(a).nullable and not x.neg(x.TEXT).nullable and not x.complement(x.EMPTY).nullable
    assert x.both(x.optional(a), x.repeat(a, 0, None)).nullable
    assert not x.both(x.optional(a), a).nullable
    assert not x.cat(x.optional(a), a).nullable and x.cat(x.optional(a), x.EMPTY).nullable


# ------------------------------------------------------------------ lazy DFA with & and ~


@SETTINGS
@given(st.data())
def test_dfa_walks_stay_on_prefixes_of_the_language(data: st.DataObject) -> None:
    p, q, op, e, truth = combined(data)
    try:
        a = Automaton(e)
    except EmptyLanguage:
        assert x.is_empty(e)
        for _ in range(4):
            s = data.draw(strings_for(p) | strings_for(q), label="string")
            assert not truth(s), (op, p, q, s)
        return
    for _ in range(3):
        raw = data.draw(st.one_of(strings_for(p).map(str.encode), strings_for(q).map(str.encode),
                                  st.binary(max_size=6)), label="bytes")
        state = a.initial_state
        for i in range(len(raw) + 1):
            if i:
                state = a.step(state, raw[i - 1])
            if state == DEAD:
                break
            rest = completion(a, state)
            assert rest is not None, (op, p, q, raw[:i])
            whole = (raw[:i] + rest).decode("utf-8")
            assert truth(whole), (op, p, q, raw[:i], rest)
        end = a.walk(a.initial_state, raw)
        assert a.is_accepting(end) == e.matches(raw), (op, p, q, raw)


def test_dfa_of_an_intersection_on_a_known_case() -> None:
    a = Automaton(x.both(expr_of("[a-z]{4,12}"), expr_of("[a-z]+(-[a-z]+)*")))
    assert a.is_accepting(a.walk(a.initial_state, b"abcd"))
    assert not a.is_accepting(a.walk(a.initial_state, b"abc"))
    assert a.walk(a.initial_state, b"ab-") == DEAD  # [a-z]{4,12} has no dash
    assert a.walk(a.initial_state, b"a" * 13) == DEAD
    with pytest.raises(EmptyLanguage):
        Automaton(x.both(expr_of("a{3}"), x.complement(expr_of("a*"))))


def test_dfa_of_a_text_complement_on_a_known_case() -> None:
    a = Automaton(x.complement(expr_of("(?s).*a")))
    assert a.is_accepting(a.initial_state)
    s = a.walk(a.initial_state, b"xa")
    assert s != DEAD and not a.is_accepting(s)
    assert a.is_accepting(a.step(s, ord("b")))
    assert a.walk(a.initial_state, b"\xff") == DEAD  # not UTF-8: outside the text complement


# ------------------------------------------------------------------------- large repetitions


def test_bounded_string_repetition_is_a_counter_exact_at_its_bounds() -> None:
    pattern = r'"(?:[^"\\]|\\.){0,32767}"'
    e = expr_of(pattern)
    assert e.size < 40  # not expanded
    a = Automaton(e, pattern=pattern)
    assert a.num_states == 2  # the dead state and the initial one
    for n, ok in [(0, True), (32767, True), (32768, False)]:
        text = '"' + "a" * n + '"'
        assert e.matches(text) == ok == full(pattern, text), n
    # The DFA has about 9 states per counter value (one per UTF-8 lead-byte range), so a walk to
    # the bound would pass the default state limit; a shorter one shows the counter is lazy.
    state = a.walk(a.initial_state, b'"' + b"\\\"" * 500 + b"a" * 100)
    assert a.is_accepting(a.step(state, ord('"'))) and a.num_states < 10 * 1000


def test_million_counter_builds_at_once() -> None:
    e = x.repeat(x.literal("x"), 0, 1_000_000)
    assert e.kind == x.REPEAT and e.hi == 1_000_000 and e.size == 2
    a = Automaton(e)
    assert a.num_states == 2
    assert a.is_accepting(a.walk(a.initial_state, b"x" * 1000)) and a.num_states == 1002
    nested = x.repeat(x.repeat(x.literal("xy"), 1000, 1000), 1000, 1000)
    assert nested.size < 10 and not nested.nullable and not nested.matches("xy" * 999)


def test_largest_parsed_counter_is_exact_at_its_bounds() -> None:
    pattern = "x{99998,100000}"  # syntax.MAX_REPEAT is 100,000
    e = expr_of(pattern)
    assert e.kind == x.REPEAT and e.size == 2
    for n, ok in [(99997, False), (99998, True), (100000, True), (100001, False)]:
        assert e.matches("x" * n) == ok, n


# ------------------------------------------------------------- derivatives of every byte at once


def assert_classes_are_the_derivatives(y: Expr) -> None:
    """`derivative_classes(y)`: disjoint masks, one per distinct derivative, none NOTHING, and
    every byte leads to the very node `derivative` gives it (NOTHING outside every mask)."""
    classes = x.derivative_classes(y)
    seen = 0
    for mask, d in classes:
        assert mask and not mask & seen and d is not x.NOTHING
        seen |= mask
    assert len({d for _, d in classes}) == len(classes)
    of = {b: d for mask, d in classes for b in range(256) if mask >> b & 1}
    for b in range(256):
        assert x.derivative(y, b) is of.get(b, x.NOTHING), b


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_derivative_classes_are_the_derivative_at_every_byte(data: st.DataObject) -> None:
    """Differential against `derivative` byte by byte, for random patterns and their
    derivatives along a drawn string (the classes of the parts memoized in between)."""
    p = data.draw(patterns(), label="p")
    y = expr_of(p)
    raw = data.draw(strings_for(p), label="string").encode()
    for b in raw[:3]:
        if y is x.NOTHING:
            break
        assert_classes_are_the_derivatives(y)
        y = x.derivative(y, b)


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 3},
                                      "b": {"type": "integer"}}},
    {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}},
     "additionalProperties": {"type": "string"}},
    {"type": "array", "items": {"enum": ["x", "é", 1.5, None]}, "maxItems": 4}])
def test_derivative_classes_of_schema_states(schema: dict) -> None:
    """The same on the states of JSON Schema expressions (member orders alive side by side,
    string bodies with counters, escapes, UTF-8), breadth-first over 200 derivatives."""
    from schema2re import to_expression
    todo, seen = [to_expression(schema)], set()
    while todo and len(seen) < 200:
        y = todo.pop(0)
        if y in seen:
            continue
        seen.add(y)
        assert_classes_are_the_derivatives(y)
        todo.extend(d for _, d in x.derivative_classes(y))


def test_derivative_classes_refuse_intersections_and_complements() -> None:
    with pytest.raises(ValueError):
        x.derivative_classes(x.both(expr_of("a+"), expr_of("[ab]+")))
