"""Both engines satisfy the guide protocols of `decoding.guides.protocol`: by `isinstance` on the
runtime-checkable protocols, by the signatures of their methods, and by walking a match."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import decoding
from decoding import ForcedTextGuide, TokenGuide, TokenRejected, UsageError, Vocabulary
from decoding.guides.guide import Guide
from decoding.guides.partial import PartialGuide

PATTERN = r"(ab|ba)c!?"
MATCH = [b"ab", b"c", b"!"]  # one token each in the vocabulary below
WIDTH = 12  # wider than the vocabulary, as for a model with padded embeddings


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    table = [b"", b"a", b"b", b"c", b"!", b"ab", b"ba", b"x"]  # id 0: EOS
    return Vocabulary.from_token_bytes(table, special_ids=[0], eos_token_ids=[0])


@pytest.fixture(scope="module", params=["automaton", "partial"])
def guide(request, vocab) -> TokenGuide:
    return decoding.compile(PATTERN, vocab, vocab_size=WIDTH, engine=request.param,
                            cache_dir=False)


def _members(protocol: type) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_")]


def _methods(protocol: type) -> list[str]:
    return [name for name in _members(protocol) if inspect.isfunction(vars(protocol)[name])]


def test_the_engines_are_guides_and_only_the_automaton_forces_text(vocab):
    automaton = decoding.compile(PATTERN, vocab, cache_dir=False)
    partial = decoding.compile(PATTERN, vocab, engine="partial", cache_dir=False)
    assert isinstance(automaton, Guide) and isinstance(partial, PartialGuide)
    assert isinstance(automaton, TokenGuide) and isinstance(automaton, ForcedTextGuide)
    assert isinstance(partial, TokenGuide) and not isinstance(partial, ForcedTextGuide)
    assert not isinstance(PATTERN, TokenGuide)


def test_the_protocols_name_the_contract():
    assert set(_members(TokenGuide)) == {"initial_state", "vocabulary", "vocab_size",
                                         "allowed_tokens", "advance", "is_accepting",
                                         "is_finished"}
    assert set(_members(ForcedTextGuide)) == {"forced_bytes", "allowed_token_ids"}
    assert TokenGuide in ForcedTextGuide.__mro__


@pytest.mark.parametrize("cls, protocols", [(Guide, [TokenGuide, ForcedTextGuide]),
                                            (PartialGuide, [TokenGuide])])
def test_method_signatures_match_the_protocols(cls, protocols):
    for protocol in protocols:
        for name in _methods(protocol):
            expected = inspect.signature(getattr(protocol, name))
            actual = inspect.signature(getattr(cls, name))
            assert actual == expected, f"{cls.__name__}.{name}{actual} != {expected}"


def test_members_have_the_promised_types(guide, vocab):
    assert isinstance(guide.initial_state, int)
    assert guide.vocabulary is vocab
    assert guide.vocab_size == WIDTH


def test_a_walk_keeps_the_contract(guide, vocab):
    eos = 0
    state = guide.initial_state
    for piece in MATCH:
        mask = guide.allowed_tokens(state)
        assert mask.dtype == torch.bool and mask.shape == (guide.vocab_size,)
        assert mask is guide.allowed_tokens(state)  # shared
        assert bool(mask[eos]) == guide.is_accepting(state)
        assert not mask[vocab.size:].any()
        token = vocab.token_bytes.index(piece)
        assert mask[token]
        with pytest.raises(TokenRejected):
            guide.advance(state, vocab.token_bytes.index(b"x"))
        state = guide.advance(state, token)
    assert guide.is_accepting(state) and guide.is_finished(state)
    assert guide.advance(state, eos) == state


def _state_methods(guide: TokenGuide) -> list:
    calls = [guide.allowed_tokens, guide.is_accepting, guide.is_finished,
             lambda s: guide.advance(s, 1)]
    if isinstance(guide, ForcedTextGuide):
        calls += [guide.allowed_token_ids, guide.forced_bytes]
    return calls


@pytest.mark.parametrize("state", [-1, -(2**70), 10**6, 2**64, 1.5, "0", None])
def test_a_state_the_guide_never_made_is_a_usage_error(guide, state):
    """Found by fuzzing: -1 read the last state's data (numpy and lists wrap around), a large
    int raised IndexError, a float or None a TypeError deep in the index."""
    for call in _state_methods(guide):
        with pytest.raises(UsageError, match="state"):
            call(state)


@pytest.mark.parametrize("token", [None, 1.5, "1", b"a"])
def test_a_token_id_that_is_no_integer_is_a_usage_error(guide, token):
    """Found by fuzzing: `advance(s, None)` was a TypeError, `advance(s, 1.5)` advanced by 1."""
    with pytest.raises(UsageError, match="token_id"):
        guide.advance(guide.initial_state, token)


def test_numpy_and_tensor_integers_are_states_and_token_ids(guide, vocab):
    ab = vocab.token_bytes.index(b"ab")
    state = guide.advance(guide.initial_state, ab)
    for s, t in [(np.int64(guide.initial_state), np.uint16(ab)),
                 (torch.tensor(guide.initial_state), torch.tensor(ab))]:
        assert guide.advance(s, t) == state
        assert torch.equal(guide.allowed_tokens(s), guide.allowed_tokens(guide.initial_state))
    for token in (-1, -(2**70), vocab.size, WIDTH, 2**64):
        with pytest.raises(TokenRejected):
            guide.advance(state, token)
