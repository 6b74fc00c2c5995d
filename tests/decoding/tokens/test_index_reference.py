"""Every entry a `TokenIndex` hands out, whether walked, split (lexeme tables) or shared with another
state of its mask class, allows exactly the tokens that reading each token's bytes from the state
allows (random patterns, vocabularies of their own strings' pieces, states met along a string)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding import EmptyLanguage, PatternTooComplex
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.tokens.index import TokenIndex
from decoding.tokens.vocabulary import Vocabulary
from tests.strategies import patterns, strings_for


def _counted(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Patterns whose repetitions run past the tokens' length, so that mask classes (repetition
    bounds capped at the horizon) and lexeme tables are met."""
    body = body.map(_bare)
    lo = st.integers(0, 12)
    return st.tuples(body, lo, st.one_of(st.none(), st.integers(0, 12)), body).map(
        lambda t: f"(?:{t[0]}){{{t[1]},{'' if t[2] is None else t[1] + t[2]}}}{t[3]}")


def _bare(pattern: str) -> str:
    """`pattern` without its leading flag group and its anchors (allowed only around a whole
    pattern)."""
    for flag in ("(?i)", "(?s)"):
        pattern = pattern.removeprefix(flag)
    return pattern.removeprefix("^").removesuffix("$")


def _vocabulary(texts: list[str], cuts: list[int]) -> Vocabulary:
    """Every single byte, pieces of `texts` cut at `cuts` (pieces of UTF-8 sequences included),
    and an EOS token."""
    pieces = {bytes([b]) for b in range(256)}
    for text in texts:
        raw = text.encode("utf-8")
        for i, n in enumerate(cuts):
            piece = raw[i % max(len(raw), 1):][:n]
            if piece:
                pieces.add(piece)
    table = sorted(pieces) + [b""]
    return Vocabulary.from_token_bytes(table, [len(table) - 1], [len(table) - 1])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_entries_allow_exactly_the_tokens_read_from_the_state(data):
    pattern = data.draw(st.one_of(patterns(), _counted(patterns())), label="pattern")
    try:
        a = Automaton(to_expr(parse(pattern)), pattern=pattern)
    except (EmptyLanguage, PatternTooComplex):
        return
    texts = data.draw(st.lists(strings_for(pattern), min_size=1, max_size=4), label="texts")
    cuts = data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=12), label="cuts")
    vocab = _vocabulary(texts, cuts)
    index = TokenIndex(a, vocab)
    for text in texts:
        state = a.initial_state
        for b in text.encode("utf-8"):
            expected = [t for t, tb in enumerate(vocab.token_bytes)
                        if tb and a.walk(state, tb) != DEAD]
            assert index.token_ids(state).tolist() == expected, (pattern, text, state)
            state = a.step(state, b)
            if state == DEAD:
                break
