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
