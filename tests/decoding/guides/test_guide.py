"""Guides on real and trained tokenizers: masks agree with per-token walks, tokenizer encodings of
matches are allowed step by step, random walks stay within prefixes of matches, errors are typed."""

from __future__ import annotations

import random

import numpy as np
import pytest
import regex
import torch

import decoding
from decoding import TokenRejected, UnsupportedPattern
from decoding.automaton.dfa import DEAD

RELLM = r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}'

CASES = [
    (RELLM, ['{"action": "Final Answer", "action_input": "Annapolis"}',
             '{"action":"Final Answer","action_input":{"city": "東京 🎉"}}']),
    (r'"[^"\\]*"', ['"日本語のテキスト 😀 👍🏽"', '"naïve café"', '""']),
    (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", ["-12.5e+3", "0", "42"]),
    (r"(?i)(yes|no|maybe) 🎉+", ["YES 🎉🎉", "Maybe 🎉"]),
    (r"[a-z]+( [a-z]+)*\.", ["the quick brown fox."]),
]

TOKENIZERS = ["smollm2_tokenizer", "bpe_tokenizer", "sp_tokenizer"]


def _text_prefix_ok(pattern: str, data: bytes) -> bool:
    """Whether `data` (maybe ending inside a character) is a prefix of some full match."""
    for cut in range(4):
        try:
            text = data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return regex.fullmatch(pattern, text, partial=True) is not None
    return False


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("pattern, matches", CASES)
def test_tokenizer_encoding_of_a_match_is_allowed_step_by_step(request, tok_name, pattern,
                                                               matches):
    tokenizer = request.getfixturevalue(tok_name)
    for text in matches:
        ids = tokenizer.encode(text, add_special_tokens=False)
        decoded = decoding.vocabulary_of(tokenizer).decode(ids).decode("utf-8")
        # SentencePiece encodes the start of a text with its dummy-prefix space ("▁{"); a model
        # continuing a prompt emits that space too, so the pattern must allow it.
        guide = decoding.compile(pattern if decoded == text else f" (?:{pattern})", tokenizer)
        assert decoded in (text, " " + text)
        vocab = guide.vocabulary
        state = guide.initial_state
        for t in ids:
            assert guide.allowed_tokens(state)[t], (text, t, vocab.token_bytes[t])
            state = guide.advance(state, t)
        assert guide.is_accepting(state)
        for eos in vocab.eos_token_ids:
            assert guide.allowed_tokens(state)[eos]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("pattern", [p for p, _ in CASES])
def test_random_walks_only_produce_prefixes_of_matches(request, tok_name, pattern):
    tokenizer = request.getfixturevalue(tok_name)
    guide = decoding.compile(pattern, tokenizer)
    vocab = guide.vocabulary
    rng = random.Random(1234)
    for _ in range(6):
        state, data = guide.initial_state, b""
        for _ in range(25):
            mask = guide.allowed_tokens(state)
            allowed = torch.nonzero(mask).flatten().tolist()
            assert allowed, "a live state always allows something"
            t = rng.choice(allowed)
            if t in vocab.eos_token_ids:
                assert guide.is_accepting(state)
                break
            state = guide.advance(state, t)
            data += vocab.token_bytes[t]
            assert _text_prefix_ok(pattern, data), data
        if guide.is_accepting(state):
            assert regex.fullmatch(pattern, data.decode("utf-8"))


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_vectorized_masks_equal_per_token_walks(request, tok_name):
    tokenizer = request.getfixturevalue(tok_name)
    guide = decoding.compile(RELLM, tokenizer)
    vocab, automaton = guide.vocabulary, guide.automaton
    state = guide.initial_state
    text = '{"action": "Final Answer", "action_input": "Ann'.encode()
    checked = 0
    for i in range(0, len(text), 7):
        s = automaton.walk(state, text[:i])
        expected = np.array([
            t not in vocab.special_ids and bool(b) and automaton.walk(s, b) != DEAD
            for t, b in enumerate(vocab.token_bytes)])
        got = guide.allowed_tokens(s).numpy()
        eos = sorted(vocab.eos_token_ids)
        assert (got[eos] == automaton.is_accepting(s)).all()
        got = got.copy()
        got[eos] = False
        assert (got == expected).all()
        for t in np.flatnonzero(expected)[:50]:
            assert guide.advance(s, int(t)) == automaton.walk(s, vocab.token_bytes[t])
        checked += 1
    assert checked >= 5


def test_special_tokens_never_allowed_and_eos_only_when_accepting(smollm2_tokenizer):
    guide = decoding.compile("[a-z<>|_]*", smollm2_tokenizer)
    vocab = guide.vocabulary
    mask = guide.allowed_tokens(guide.initial_state)
    specials = sorted(vocab.special_ids - vocab.eos_token_ids)
    assert not mask[specials].any()
    assert mask[sorted(vocab.eos_token_ids)].all()  # the empty string matches
    guide2 = decoding.compile("[a-z]+", smollm2_tokenizer)
    assert not guide2.allowed_tokens(guide2.initial_state)[sorted(vocab.eos_token_ids)].any()


def test_model_logits_wider_than_the_tokenizer_are_masked(smollm2_tokenizer):
    guide = decoding.compile(".*", smollm2_tokenizer, vocab_size=49_152 + 64)
    mask = guide.allowed_tokens(guide.initial_state)
    assert mask.shape == (49_152 + 64,)
    assert not mask[49_152:].any()
    assert mask[:49_152].sum() > 40_000


def test_advance_rejects_disallowed_tokens_with_a_clear_message(smollm2_tokenizer):
    guide = decoding.compile("[0-9]+", smollm2_tokenizer)
    letter = smollm2_tokenizer.convert_tokens_to_ids("a")
    with pytest.raises(TokenRejected, match=r"token \d+ \(b'a'\) is not allowed"):
        guide.advance(guide.initial_state, letter)
    eos = next(iter(guide.vocabulary.eos_token_ids))
    with pytest.raises(TokenRejected, match="EOS"):
        guide.advance(guide.initial_state, eos)
    with pytest.raises(TokenRejected, match="outside the vocabulary"):
        guide.advance(guide.initial_state, 10**6)


def test_finished_state_has_only_eos(smollm2_tokenizer):
    guide = decoding.compile("(yes|no)", smollm2_tokenizer)
    s = guide.advance(guide.initial_state, smollm2_tokenizer.convert_tokens_to_ids("yes"))
    assert guide.is_accepting(s) and guide.is_finished(s)
    assert guide.allowed_tokens(s).sum() == len(guide.vocabulary.eos_token_ids)
    assert not guide.is_finished(guide.initial_state)


def test_compile_accepts_regex_pattern_objects_and_memoizes(smollm2_tokenizer):
    compiled = regex.compile("(?i)abc")
    g1 = decoding.compile(compiled, smollm2_tokenizer)
    g2 = decoding.compile(compiled, smollm2_tokenizer)
    assert g1.automaton is g2.automaton
    s = g1.advance(g1.initial_state, smollm2_tokenizer.convert_tokens_to_ids("A"))
    assert s != DEAD


def test_unsupported_pattern_points_to_the_partial_engine(smollm2_tokenizer):
    with pytest.raises(UnsupportedPattern, match='engine="partial"'):
        decoding.compile(r"(a)\1", smollm2_tokenizer)
