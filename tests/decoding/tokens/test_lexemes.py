"""Lexeme tables: masks built from the tokens that stay inside a repetition plus a walk of the
tokens that can leave it must equal the masks of a walk of the whole trie, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding.automaton import expr as ex
from decoding.automaton.dfa import Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.guides.guide import vocabulary_of
from decoding.tokens.compiled import compiled_module
from decoding.tokens.index import TokenIndex
from decoding.tokens.lexemes import Lexemes, split_head
from decoding.tokens.trie import trie_of
from decoding.tokens.walk import TrieWalk

JSON_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})'
RESTS = [r'"', r'",\s*"b":\s*[0-9]+\}', r'"\}|",\s*"c":\s*"x"\}', r'"?[a-z]{0,3}', r'"\]']


@pytest.fixture(scope="module")
def vocabularies(bpe_tokenizer, sp_tokenizer):
    return {name: vocabulary_of(tok, cache_dir=False)
            for name, tok in (("bpe", bpe_tokenizer), ("sp", sp_tokenizer))}


def _after(e: ex.Expr, raw: bytes) -> ex.Expr:
    for b in raw:
        e = ex.derivative(e, b)
    return e


def _full_walk_ids(index: TokenIndex, state: int) -> np.ndarray:
    walk = TrieWalk(index._trie, index.automaton)
    return np.flatnonzero(walk.next_states(state))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lo=st.integers(0, 6), extra=st.one_of(st.none(), st.integers(0, 40)),
       rest=st.sampled_from(RESTS), data=st.data())
def test_split_masks_equal_whole_walks(vocabularies, lo, extra, rest, data):
    vocab = vocabularies[data.draw(st.sampled_from(["bpe", "sp"]))]
    hi = "" if extra is None else str(lo + extra)
    pattern = f'\\{{"a":\\s*"{JSON_CHAR}{{{lo},{hi}}}{rest}'
    index = TokenIndex(Automaton(to_expr(parse(pattern))), vocab)
    a = index.automaton
    state = a.walk(a.initial_state, b'{"a": "')
    assert state
    for _ in range(6):
        ids = index.token_ids(state)
        assert np.array_equal(ids, _full_walk_ids(index, state))
        if not len(ids):
            break
        token = int(data.draw(st.sampled_from(ids.tolist())))
        state = a.walk(state, vocab.token_bytes[token])
        assert state


@pytest.mark.parametrize("name", ["bpe", "sp"])
@pytest.mark.parametrize("pattern, start", [
    # a body that may end the object or go on with one more key: an alternation of two splits
    (f'\\{{"a":"(?:{JSON_CHAR}{{0,30}}"|{JSON_CHAR}*",\\s*"d":"x")\\}}', b'{"a":"'),
    # an optional tail whose two alternatives start with a wide and a narrow repetition
    (r'x(?:[^\n]*\}[ \t]*\}|[ \t]*\})?', b"x"),
    # a key of one or more characters (`y y*`, as a pattern property's key comes), optional
    (r'\{"(?:(?:\\"|[^\x00-\x1f"\\]|\\\\)(?:\\"|[^\x00-\x1f"\\]|\\\\)*)?": 1\}', b'{"'),
])
def test_alternations_of_bodies_are_split_with_the_masks_of_whole_walks(
        vocabularies, name, pattern, start):
    vocab = vocabularies[name]
    index = TokenIndex(Automaton(to_expr(parse(pattern))), vocab)
    a = index.automaton
    state = a.walk(a.initial_state, start)
    rng = np.random.default_rng(3)
    assert split_head(a.expression_of(state)) is not None
    for _ in range(8):
        ids = index.token_ids(state)
        assert np.array_equal(ids, _full_walk_ids(index, state))
        inside = [t for t in ids.tolist() if b'"' not in vocab.token_bytes[t]
                  and b"}" not in vocab.token_bytes[t]]
        if not inside:
            break
        state = a.walk(state, vocab.token_bytes[int(rng.choice(inside))])
    assert index.split >= 2


def test_string_bodies_are_split_and_narrow_runs_are_not(vocabularies):
    vocab = vocabularies["bpe"]
    index = TokenIndex(Automaton(to_expr(parse(
        f'\\{{"name":"{JSON_CHAR}{{0,50}}","n":[0-9]{{1,9}}\\}}'))), vocab)
    a = index.automaton
    inside = a.walk(a.initial_state, b'{"name":"ab')
    digits = a.walk(a.initial_state, b'{"name":"ab","n":1')
    assert split_head(a.expression_of(inside)) is not None
    assert split_head(a.expression_of(digits)) is None  # ten digits: walked whole
    index.entry(inside)
    index.entry(digits)
    assert index.split == 1
    assert index.entry(inside).next_states is None
    assert np.array_equal(index.token_ids(inside), _full_walk_ids(index, inside))


def test_a_body_followed_by_a_wide_rest_is_walked_whole(vocabularies):
    """Where what follows the repetition starts with `WIDE` bytes or more, nearly every token
    may leave it: the state is walked whole (no split), with the same mask."""
    vocab = vocabularies["bpe"]
    index = TokenIndex(Automaton(to_expr(parse(f'"{JSON_CHAR}{{5,50}}[^"]x'))), vocab)
    a = index.automaton
    inside = a.walk(a.initial_state, b'"ab')
    assert split_head(a.expression_of(inside)) is not None
    assert np.array_equal(index.token_ids(inside), _full_walk_ids(index, inside))
    assert index.split == 0


def test_item_counts_match_reading_each_token(vocabularies):
    vocab = vocabularies["sp"]
    x = to_expr(parse(JSON_CHAR))
    items = Lexemes(vocab, trie_of(vocab)).inside(x)
    assert items is not None
    star = ex.repeat(x, 0, None)
    for t, raw in enumerate(vocab.token_bytes):
        if not raw or t in vocab.special_ids:
            assert items[t] == -1
            continue
        fits = [n for n in range(len(raw) + 1)
                if _after(ex.repeat(x, 0, n), raw) is not ex.NOTHING]
        assert (items[t] == -1) == (not fits), (raw, items[t])
        if fits:
            assert items[t] == min(fits), (raw, items[t], fits)
        assert (_after(star, raw) is ex.NOTHING) == (items[t] == -1)


def test_repetitions_that_accept_inside_an_item_are_not_split(vocabularies):
    vocab = vocabularies["bpe"]
    lexemes = Lexemes(vocab, trie_of(vocab))
    ambiguous = to_expr(parse("[^x]|[^x]y"))  # after one byte an item may or may not be over
    assert lexemes.inside(ambiguous) is None
    assert lexemes.inside(to_expr(parse("[^x]"))) is not None


def test_crossing_flags_keep_exactly_the_subtrees_with_a_leaving_token(vocabularies):
    vocab = vocabularies["bpe"]
    trie = trie_of(vocab)
    lexemes = Lexemes(vocab, trie)
    f = ex.first_bytes(to_expr(parse('[",]')))
    flags = lexemes.crossing(f)
    pre = trie.preorder
    for i in range(len(pre.end)):
        below = pre.tokens[pre.token_start[i]:pre.token_start[pre.end[i]]]
        leaving = any(b'"' in vocab.token_bytes[t] or b"," in vocab.token_bytes[t]
                      for t in below.tolist())
        assert flags[i] == (not leaving)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("name", ["bpe", "sp"])
def test_crossing_flags_match_a_per_token_reference_for_sparse_and_dense_byte_sets(
        vocabularies, name, compiled, monkeypatch, request):
    """Few bytes of F in the vocabulary (cleared node by node) and many (paths flagged, in C or
    numpy), with F of up to `_FEW_BYTES` bytes (compared) and more (a table): one answer, the
    reference's."""
    if not compiled:
        monkeypatch.setenv("TYPEDECODE_COMPILED_WALK", "0")
    compiled_module.cache_clear()  # read the setting again, here and after the test
    request.addfinalizer(compiled_module.cache_clear)
    assert (compiled_module() is not None) == compiled
    vocab = vocabularies[name]
    trie = trie_of(vocab)
    pre = trie.preorder
    rng = np.random.default_rng(7)
    sets = [{ord('"')}, {ord("\\"), ord('"')}, {ord(" ")}, {ord("e")}, set(range(256)),
            {0x80, 0xC3}, *(set(rng.choice(256, k, replace=False).tolist()) for k in (3, 12, 60))]
    for chosen in sets:
        f = sum(1 << b for b in chosen)
        flags = Lexemes(vocab, trie).crossing(f)
        has = np.array([bool(chosen.intersection(vocab.token_bytes[t]))
                        for t in range(vocab.size)])
        below = np.concatenate(([0], np.cumsum(has[pre.tokens])))
        leaving = below[pre.token_start[pre.end]] > below[pre.token_start[:-1]]
        assert np.array_equal(flags, (~leaving).astype(np.uint8)), sorted(chosen)
