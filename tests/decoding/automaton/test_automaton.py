"""The automaton accepts exactly the strings `regex.fullmatch` accepts (differential), errors are
typed, and its state invariants hold."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding import EmptyLanguage, PatternTooComplex
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from tests.strategies import patterns, strings_for


def automaton_for(pattern: str, **limits) -> Automaton:
    return Automaton(to_expr(parse(pattern)), pattern=pattern, **limits)


def accepts(a: Automaton, text: str) -> bool:
    return a.is_accepting(a.walk(a.initial_state, text.encode("utf-8")))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_differential_against_regex_fullmatch(data):
    pattern = data.draw(patterns(), label="pattern")
    try:
        a = automaton_for(pattern)
    except EmptyLanguage:
        # Then no string may match; probe with strings anyway.
        for _ in range(5):
            s = data.draw(strings_for(pattern), label="string")
            assert regex.fullmatch(pattern, s) is None
        return
    for _ in range(8):
        s = data.draw(strings_for(pattern), label="string")
        assert accepts(a, s) == (regex.fullmatch(pattern, s) is not None), (pattern, s)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_every_live_state_can_still_reach_a_match(data):
    """Walking byte by byte never leaves the language's prefixes without landing in DEAD."""
    pattern = data.draw(patterns(), label="pattern")
    try:
        a = automaton_for(pattern)
    except EmptyLanguage:
        return
    s = data.draw(strings_for(pattern), label="string")
    state = a.initial_state
    raw = s.encode("utf-8")
    for i, b in enumerate(raw):
        state = a.step(state, b)
        if state == DEAD:
            break
        # A live state means some completion exists: search it breadth-first over bytes.
        assert _some_completion(a, state), (pattern, raw[: i + 1])


def _some_completion(a: Automaton, state: int, budget: int = 2000) -> bool:
    frontier, seen = [state], {state}
    while frontier and budget > 0:
        s = frontier.pop(0)
        budget -= 1
        if a.is_accepting(s):
            return True
        for t in set(a.expand(s).tolist()) - {DEAD} - seen:
            seen.add(t)
            frontier.append(t)
    return False


@pytest.mark.parametrize("pattern, texts", [
    (r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}',
     ['{"action": "Final Answer", "action_input": "Annapolis"}',
      '{ "action":"Final Answer","action_input":{"a": 1}}']),
    (r"a|b|c|ab|abc", ["ab", "abc", "c"]),            # leftmost-first engines get these wrong
    (r"x*?y+?z??", ["yy", "xxyz", "y"]),
    (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", ["-0.5", "10", "0"]),
    (r"[日本]+🎉", ["日本日🎉"]),
])
def test_known_matches(pattern, texts):
    a = automaton_for(pattern)
    for t in texts:
        assert regex.fullmatch(pattern, t)
        assert accepts(a, t)
    assert not accepts(a, texts[0] + "\x00")


def test_multibyte_character_is_split_across_byte_steps():
    a = automaton_for("é|日")
    s = a.step(a.initial_state, "日".encode()[0])
    assert s != DEAD and not a.is_accepting(s)
    s = a.walk(s, "日".encode()[1:])
    assert a.is_accepting(s)
    # An invalid continuation byte kills the match.
    assert a.step(a.step(a.initial_state, 0xC3), 0x41) == DEAD


def test_empty_language_is_reported():
    with pytest.raises(EmptyLanguage, match="matches no string"):
        automaton_for("a[^\\x00-\\U0010ffff]b")


def test_nested_counters_are_never_expanded():
    # 1.5 million copies of a 3-byte item: the eager NFA would need ~9 million states.
    pattern = "(?:(?:abc|def){5000}){300}"
    a = automaton_for(pattern)
    state = a.walk(a.initial_state, b"abcdef" * 500)
    assert state != DEAD and not a.is_accepting(state)
    assert a.step(state, ord("x")) == DEAD
    assert a.num_states <= 2 * 3000  # states appear only as bytes are read


def test_dfa_state_limit_is_enforced_lazily():
    # (a|b)*a(a|b){12} needs 2**13 DFA states: more than the limit of 1000.
    pattern = "[ab]*a[ab]{12}"
    a = automaton_for(pattern, max_states=1000)
    with pytest.raises(PatternTooComplex, match="more than 1,000 states"):
        for i in range(2**13):
            a.walk(a.initial_state, format(i, "013b").replace("0", "a").replace("1", "b").encode())


def test_state_keys_are_stable_across_builds():
    pattern = r'"[^"\\]*"(,\s*[0-9]+)*'
    a1, a2 = automaton_for(pattern), automaton_for(pattern)
    text = '"hé", 12, 3'.encode()
    s1, s2 = a1.walk(a1.initial_state, text), a2.walk(a2.initial_state, text)
    assert a1.key(s1) == a2.key(s2)
    # ... and across processes: the key is a digest of the expression's structure.
    code = ("from decoding.automaton.syntax import parse; from decoding.automaton.hir import "
            "to_expr; from decoding.automaton.dfa import Automaton; "
            f"a = Automaton(to_expr(parse({pattern!r}))); "
            f"print(list(a.key(a.walk(a.initial_state, {text!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(list(a1.key(s1)))


def test_deeply_nested_pattern_builds_and_size_estimate_is_not_exponential():
    pattern = "(?:a|" * 150 + "b" + ")*" * 150
    a = automaton_for(pattern)
    assert accepts(a, "aab") and accepts(a, "") and not accepts(a, "c")
    nested_optional = "(?:a" * 150 + "b" + ")?" * 150
    assert accepts(automaton_for(nested_optional), "a" * 150 + "b")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_every_row_entry_is_the_derivative_at_every_byte(data):
    """A row is filled one derivative per run of classes; every byte of every class must still
    lead to the state of its own derivative (differential against `derivative` byte by byte)."""
    from decoding.automaton.expr import derivative, is_empty
    pattern = data.draw(patterns(), label="pattern")
    try:
        a = automaton_for(pattern)
    except EmptyLanguage:
        return
    for state in list(range(1, min(a.num_states, 6))):
        row = a.expand(state).copy()
        e = a.expression_of(state)
        for b in range(256):
            d = derivative(e, b)
            target = row[a.byte_class[b]]
            if is_empty(d):
                assert target == DEAD, (pattern, state, b)
            else:
                assert target != DEAD and a.expression_of(int(target)) is d, (pattern, state, b)


@pytest.mark.parametrize("pattern", [r'\{"name":"[^"]*","id":[0-9]{1,3}\}', r"ab|ac|[a-c]d", r"é[xé]?",
                                     r"(?:[0-9]x|y)+z"])
def test_rows_of_states_that_start_with_a_byte_set_are_their_derivatives(pattern):
    """States `cat(B, r)` take their row without deriving (every byte of B leads to r): every
    state reached, each byte checked against `derivative`."""
    from decoding.automaton.expr import BYTES, CAT, derivative, is_empty
    a = automaton_for(pattern)
    todo, seen, fast = [a.initial_state], {a.initial_state}, 0
    while todo:
        state = todo.pop()
        e = a.expression_of(state)
        fast += (e.items[0] if e.kind == CAT else e).kind == BYTES
        row = a.expand(state)
        for b in range(256):
            d, target = derivative(e, b), int(row[a.byte_class[b]])
            assert (target == DEAD) == is_empty(d), (pattern, state, b)
            if target != DEAD:
                assert a.expression_of(target) is d
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
    assert fast  # the fast path ran


def test_flat_keys_are_every_key_in_state_order_as_states_are_added():
    a = automaton_for("[ab]*c[0-9]{2}")
    for text in (b"", b"a", b"abc1", b"bbbc42"):
        a.walk(a.initial_state, text)
        flat, ends = a.flat_keys()
        keys = [a.key(s) for s in range(a.num_states)]
        assert ends.tolist() == np.cumsum([len(k) for k in keys]).tolist()
        assert flat.dtype == np.int32 and flat.tolist() == [v for k in keys for v in k]


@pytest.mark.parametrize("count", [3, 200])  # a few states are checked one by one, many by numpy
def test_expand_all_gives_every_state_its_row_whatever_the_order_and_repeats(count):
    """States given with repeats, some with rows already: each ends with its row, every class's
    entry the state of its derivative (and no row is computed twice)."""
    from decoding.automaton.expr import derivative, is_empty
    a = automaton_for(r'\{"(?:alpha|beta|gamma)": "[a-z]{0,40}", "n": [0-9]{1,3}\}')
    todo, seen = [a.initial_state], {a.initial_state}
    while len(seen) < 60 and todo:  # some states with rows, some without
        for t in set(a.expand(todo.pop(0)).tolist()) - seen - {DEAD}:
            seen.add(t)
            todo.append(t)
    states = np.array(sorted(seen), dtype=np.int64)
    assert not a.expanded[states].all()
    computed = []
    compute_row = a._compute_row
    a._compute_row = lambda s: (computed.append(s), compute_row(s))
    a.expand_all(np.random.default_rng(count).choice(states, count))
    a.expand_all(states)
    assert a.expanded[states].all() and len(computed) == len(set(computed))
    for state in states.tolist():
        e = a.expression_of(state)
        for b in range(256):
            d, target = derivative(e, b), int(a.rows[state, a.byte_class[b]])
            assert (target == DEAD) == is_empty(d)
            assert target == DEAD or a.expression_of(target) is d


@pytest.mark.parametrize("pattern", [r'\{"name":"[^"]*","id":[0-9]{1,3}\}', r"ab|ac|[a-c]d",
                                     r"(?:\\u[0-9a-f]{4}|[^\\\x00-\x1f]){2,}x|y+", r"é[xé]?"])
def test_new_states_are_numbered_in_class_order(pattern):
    """A row made from derivative classes numbers the states it discovers in the order of the
    first class leading to each (as deriving run by run does), so numbers do not depend on how
    a row was computed."""
    a = automaton_for(pattern)
    todo, seen = [a.initial_state], {a.initial_state}
    while todo:
        state = todo.pop()
        before = a.num_states
        row = a.expand(state).tolist()
        fresh = [t for t in dict.fromkeys(row) if t >= before]
        assert fresh == list(range(before, a.num_states)), (pattern, state)
        for t in dict.fromkeys(row):
            if t != DEAD and t not in seen:
                seen.add(t)
                todo.append(t)
