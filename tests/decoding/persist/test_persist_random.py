"""Warm equals cold on random patterns: a random token walk through a guide built with no cache,
one built cold into a store, and one restored warm from it says the same at every step (state
key, acceptance, mask)."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import decoding.guides.guide as guide_mod
from decoding import EmptyLanguage, PatternTooComplex
from decoding.persist import cached as persist
from tests.decoding.persist.test_persist import fresh  # noqa: F401 - the fixture, used by name
from tests.strategies import patterns


def _steps(guide, tokens: list[int]) -> list[tuple]:
    state, out = guide.initial_state, []
    for token in tokens:
        mask = guide.allowed_tokens(state).numpy()
        out.append((guide.automaton.key(state), guide.is_accepting(state), mask.tobytes()))
        if not mask[token]:
            break
        state = guide.advance(state, token)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern=patterns(), data=st.data())
def test_random_token_walks_say_the_same_cold_and_warm(bpe_tokenizer, request, pattern, data):
    reset = request.getfixturevalue("fresh")  # makes this process look new when called
    reset()
    try:
        reference = guide_mod.compile(pattern, bpe_tokenizer, cache_dir=False)
    except (EmptyLanguage, PatternTooComplex):
        return
    tokens, state = [], reference.initial_state
    for _ in range(12):  # a random walk over allowed tokens
        ids = reference.allowed_token_ids(state).tolist()
        if not ids:
            break
        tokens.append(data.draw(st.sampled_from(ids)))
        state = reference.advance(state, tokens[-1])
    expected = _steps(reference, tokens)
    folder = tempfile.mkdtemp()
    try:
        reset()
        cold = guide_mod.compile(pattern, bpe_tokenizer, cache_dir=folder)
        assert _steps(cold, tokens) == expected
        cold.save()
        reset()
        warm = guide_mod.compile(pattern, bpe_tokenizer, cache_dir=folder)
        assert _steps(warm, tokens) == expected, pattern
    finally:
        persist.flush()
        shutil.rmtree(folder, ignore_errors=True)
