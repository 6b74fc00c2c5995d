"""Bitmask rows in the serving engines' int32 layout equal the guides' masks, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import decoding
from decoding.errors import UsageError
from decoding.guides.bitmask import allocate, fill_bitmasks, words_per_row


def _bits_of(words: np.ndarray, width: int) -> np.ndarray:
    """bool [width] read from int32 words: token 32*w + k is bit k of word w."""
    w = np.arange(width)
    return (words[w // 32] >> (w % 32)) & 1 == 1


@pytest.mark.parametrize("engine", ["automaton", "partial"])
def test_rows_equal_the_masks_eos_included(bpe_tokenizer, engine):
    width = bpe_tokenizer.vocab_size + 40  # logits wider than the tokenizer
    guide = decoding.compile(r'(yes|no)( please)?|\{"a": "[^"]{0,5}"\}', bpe_tokenizer,
                             vocab_size=width, engine=engine, cache_dir=False)
    states = [guide.initial_state]
    for token in bpe_tokenizer.encode("yes please", add_special_tokens=False):
        states.append(guide.advance(states[-1], token))
    assert guide.is_accepting(states[-1]) and not guide.is_accepting(states[0])
    out = allocate(len(states), width)
    out[:] = -1  # every word is written, padding included
    fill_bitmasks([(guide, s) for s in states], out)
    for row, state in zip(out, states):
        assert np.array_equal(_bits_of(row, words_per_row(width) * 32)[:width],
                              guide.allowed_tokens(state).numpy())
        assert not _bits_of(row, words_per_row(width) * 32)[width:].any()


@pytest.mark.parametrize("engine", ["automaton", "partial"])
def test_ends_are_allowed_where_the_state_accepts_in_place_of_eos(bpe_tokenizer, engine):
    guide = decoding.compile("(yes|no)!?", bpe_tokenizer, engine=engine, cache_dir=False)
    accepting = guide.initial_state
    for token in bpe_tokenizer.encode("yes", add_special_tokens=False):
        accepting = guide.advance(accepting, token)
    assert guide.is_accepting(accepting) and not guide.is_accepting(guide.initial_state)
    stop = 2  # <pad>: a special id the guide never allows
    out = allocate(2, guide.vocab_size)
    ends = [np.array([stop], dtype=np.int64)] * 2
    fill_bitmasks([(guide, guide.initial_state), (guide, accepting)], out, ends)
    for row, state in zip(out, [guide.initial_state, accepting]):
        expected = guide.allowed_tokens(state).numpy().copy()
        if guide.is_accepting(state):
            expected[stop] = True
            if engine == "automaton":  # its EOS comes from `ends`; a partial guide's mask has it
                expected[list(guide.vocabulary.eos_token_ids)] = False
        assert np.array_equal(_bits_of(row, guide.vocab_size), expected)


def test_rows_of_different_guides_and_bad_shapes(bpe_tokenizer):
    a = decoding.compile("[0-9]+", bpe_tokenizer, cache_dir=False)
    b = decoding.compile("[a-z]+!", bpe_tokenizer, cache_dir=False)
    out = allocate(2, a.vocab_size)
    fill_bitmasks([(a, a.initial_state), (b, b.initial_state)], out)
    assert np.array_equal(_bits_of(out[1], a.vocab_size), b.allowed_tokens(b.initial_state).numpy())
    with pytest.raises(UsageError, match="rows"):
        fill_bitmasks([(a, a.initial_state)] * 3, out)
    with pytest.raises(UsageError, match="int32"):
        fill_bitmasks([(a, a.initial_state)], out.astype(np.int64))


def test_batched_fill_compiled_and_numpy_agree(bpe_tokenizer, monkeypatch):
    from decoding.tokens.compiled import compiled_module

    guides = [decoding.compile(p, bpe_tokenizer, cache_dir=False)
              for p in ["[0-9]+", "(yes|no)", r"\{\"a\": [0-9]{1,3}\}"]]
    rows = []
    for guide in guides:
        state = guide.initial_state
        rows.append((guide, state))
        for token in guide.allowed_token_ids(state)[:3]:
            rows.append((guide, guide.advance(state, int(token))))
    assert any(g.is_accepting(s) for g, s in rows) and not all(g.is_accepting(s) for g, s in rows)
    width = guides[0].vocab_size
    filled = []
    for flag in ("1", "0"):
        monkeypatch.setenv("TYPEDECODE_COMPILED_WALK", flag)
        compiled_module.cache_clear()
        # a vLLM-style bitmask: wider than the rows, garbage before, one spare row
        out = np.full((len(rows) + 1, words_per_row(width) + 2), -1, dtype=np.int32)
        fill_bitmasks(rows, out)
        filled.append(out)
        for row, (guide, state) in zip(out, rows):
            assert np.array_equal(_bits_of(row, width), guide.allowed_tokens(state).numpy())
            assert not _bits_of(row, out.shape[1] * 32)[width:].any()
        assert (out[-1] == -1).all()
    compiled_module.cache_clear()
    assert np.array_equal(filled[0], filled[1])


def test_batched_fill_refuses_rows_that_do_not_fit(bpe_tokenizer):
    guide = decoding.compile("[0-9]+", bpe_tokenizer, cache_dir=False)
    out = allocate(4, guide.vocab_size)
    with pytest.raises(UsageError, match="contiguous"):
        fill_bitmasks([(guide, guide.initial_state)] * 2, out[:, ::2])
    with pytest.raises(UsageError, match="words"):
        fill_bitmasks([(guide, guide.initial_state)], out[:, :2])
    with pytest.raises(ValueError):
        from decoding.tokens.bits import fill_rows

        fill_rows([np.zeros(1, np.uint8)], [np.array([10**6])], out)
    assert not out.any()  # nothing written
