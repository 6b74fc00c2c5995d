"""Shortest words of expressions (decoding.automaton.shortest), against brute force.

The reference is a breadth-first search over the lazy DFA's rows (`Automaton.expand`): the
length of the shortest byte path from the initial state to an accepting one. `shortest_word`
must match the expression, have exactly that length, and the distance must drop by exactly one
along its first byte. Checked on random patterns, and on intersections, differences and text
complements of two random patterns (where the search over derivatives runs). About 10 s.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding.automaton import expr as x
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.shortest import distance, shortest_word
from decoding.automaton.syntax import parse
from decoding.errors import EmptyLanguage
from tests.strategies import patterns

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def brute_distance(e: x.Expr) -> int | None:
    """Shortest path to acceptance in the DFA of `e` (None: the language is empty)."""
    try:
        automaton = Automaton(e)
    except EmptyLanguage:
        return None
    frontier, seen, depth = [automaton.initial_state], {automaton.initial_state}, 0
    while frontier:
        if any(automaton.is_accepting(s) for s in frontier):
            return depth
        nxt = []
        for s in frontier:
            for t in automaton.expand(s).tolist():
                if t != DEAD and t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier, depth = nxt, depth + 1
    return None


def check(e: x.Expr) -> None:
    expected = brute_distance(e)
    word = shortest_word(e)
    assert distance(e) == expected
    if word is None:
        return
    assert len(word) == expected and e.matches(word)
    if word:
        assert distance(x.derivative(e, word[0])) == len(word) - 1


@SETTINGS
@given(patterns())
def test_random_patterns(pattern):
    check(to_expr(parse(pattern)))


@SETTINGS
@given(patterns(), patterns(), st.sampled_from(["and", "minus", "not"]))
def test_intersections_and_complements(a, b, how):
    ea, eb = to_expr(parse(a)), to_expr(parse(b))
    e = {"and": lambda: x.both(ea, eb), "minus": lambda: x.difference(ea, eb),
         "not": lambda: x.complement(ea)}[how]()
    check(e)


@pytest.mark.parametrize("pattern, word", [
    ("abc", b"abc"), ("a*b{3}", b"bbb"), ("(ab|c)+d", b"cd"), ("[é日]x", "éx".encode()),
    (r'\{"a":[0-9]+\}', b'{"a":0}'), ("x{1000}", b"x" * 1000),
])
def test_known_words(pattern, word):
    assert shortest_word(to_expr(parse(pattern))) == word


def test_a_word_that_must_avoid_a_marker():
    """Text not containing "ab", then "ab": the shortest is the marker itself; after "a" the
    marker's rest is one byte away."""
    marker = x.literal("ab")
    e = x.cat(x.complement(x.cat(x.TOP, marker, x.TOP)), marker)
    assert shortest_word(e) == b"ab"
    assert shortest_word(x.derivative(e, ord("a"))) == b"b"
    assert shortest_word(x.both(x.literal("a"), x.literal("b"))) is None
