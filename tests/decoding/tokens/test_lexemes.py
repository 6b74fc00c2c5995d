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
    _walk_comparing(TokenIndex(Automaton(to_expr(parse(pattern))), vocab), b'{"a": "', 6, data)


def _walk_comparing(index: TokenIndex, start: bytes, steps: int, data: st.DataObject) -> None:
    """From the state after `start`, `steps` random allowed tokens: each state's mask must equal
    a whole walk's."""
    a = index.automaton
    state = a.walk(a.initial_state, start)
    assert state
    for _ in range(steps):
        ids = index.token_ids(state)
        assert np.array_equal(ids, _full_walk_ids(index, state))
        if not len(ids):
            break
        token = int(data.draw(st.sampled_from(ids.tolist())))
        state = a.walk(state, index.vocabulary.token_bytes[token])
        assert state


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bounds=st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 30))),
                       min_size=2, max_size=3),
       rests=st.lists(st.sampled_from(RESTS), min_size=3, max_size=3), data=st.data())
def test_unions_of_one_body_are_split_and_equal_whole_walks(vocabularies, bounds, rests, data):
    """A string body shared by alternatives (two member orders of one object), each with its own
    bounds and continuation, inside an object: the state is a union of branches starting with
    one repetition, split with the largest bound and every branch's leaving bytes."""
    vocab = vocabularies[data.draw(st.sampled_from(["bpe", "sp"]))]
    branches = "|".join(f'{JSON_CHAR}{{{lo},{"" if extra is None else lo + extra}}}{rest}'
                        for (lo, extra), rest in zip(bounds, rests))
    index = TokenIndex(Automaton(to_expr(parse(f'\\{{"a":\\s*"(?:{branches})\\}}'))), vocab)
    _walk_comparing(index, b'{"a": "', 5, data)


def test_a_union_of_one_body_is_split(vocabularies):
    index = TokenIndex(Automaton(to_expr(parse(
        f'\\{{"a":"(?:{JSON_CHAR}{{0,40}}","b":1|{JSON_CHAR}{{2,9}}")\\}}'))), vocabularies["bpe"])
    a = index.automaton
    inside = a.walk(a.initial_state, b'{"a":"xy')
    split = split_head(a.expression_of(inside))
    assert split is not None and split[1] == 38 and split[2] == 1 << ord('"')  # 40 - 2 read
    assert np.array_equal(index.token_ids(inside), _full_walk_ids(index, inside))
    assert index.split == 1
    other = a.walk(a.initial_state, b'{"a":"xy","b":')  # past the body: not a union of bodies
    assert split_head(a.expression_of(other)) is None


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


@pytest.mark.parametrize("name", ["bpe", "sp"])
def test_crossing_flags_match_a_per_token_reference_for_sparse_and_dense_byte_sets(
        vocabularies, name):
    """Few bytes of F in the vocabulary (cleared node by node) and many (running counts), with
    F of up to `_FEW_BYTES` bytes (compared) and more (a table): one answer, the reference's."""
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
