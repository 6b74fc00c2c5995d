"""Compact entries: a state's entry is packed bits (plus ids and next states when small); masks
are made from the bits, with EOS where the state accepts, at the index's width."""

from __future__ import annotations

import numpy as np

from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.guides.guide import vocabulary_of
from decoding.tokens.index import KEEP_NEXT, TokenIndex


def _index(tokenizer, pattern, width=None):
    vocab = vocabulary_of(tokenizer, cache_dir=False)
    return TokenIndex(Automaton(to_expr(parse(pattern))), vocab, width), vocab


def test_entries_are_bits_and_small_ones_keep_next_states(bpe_tokenizer):
    index, vocab = _index(bpe_tokenizer, r"(yes|no)!|[^!]{0,30}")
    a = index.automaton
    for state in (a.initial_state, a.walk(a.initial_state, b"yes")):
        entry = index.entry(state)
        ids = index.token_ids(state)
        expected = [t for t, b in enumerate(vocab.token_bytes)
                    if b and t not in vocab.special_ids and a.walk(state, b) != DEAD]
        assert ids.tolist() == expected and entry.count == len(expected)
        assert entry.bits.nbytes == (vocab.size + 7) // 8
        if entry.count <= KEEP_NEXT:
            assert entry.token_ids.tolist() == expected
            assert entry.next_states.tolist() == [a.walk(state, vocab.token_bytes[t])
                                                  for t in expected]
            assert entry.nbytes == entry.bits.nbytes + 12 * entry.count
        else:
            assert entry.token_ids is None and entry.nbytes == entry.bits.nbytes
        assert all(entry.allows(t) == (t in set(expected)) for t in range(vocab.size))


def test_masks_come_from_bits_at_the_width_with_eos_where_accepting(bpe_tokenizer):
    index, vocab = _index(bpe_tokenizer, r"ab|abc", width=bpe_tokenizer.vocab_size + 64)
    a = index.automaton
    eos = sorted(vocab.eos_token_ids)
    for state in (a.initial_state, a.walk(a.initial_state, b"ab")):
        mask = index.mask(state)
        assert mask.shape == (index.width,) and mask.dtype.is_floating_point is False
        expected = np.zeros(index.width, dtype=bool)
        expected[index.token_ids(state)] = True
        expected[eos] = a.is_accepting(state)
        assert np.array_equal(mask.numpy(), expected)
        assert index.mask(state) is mask  # kept while recently used
    assert a.is_accepting(a.walk(a.initial_state, b"ab"))
