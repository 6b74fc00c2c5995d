"""The trie's depth-first layout and the two token walks (compiled C and numpy), which must agree
bit for bit on every state."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.guides.guide import vocabulary_of
from decoding.tokens import bits as packed
from decoding.tokens.compiled import compiled_module
from decoding.tokens import walk as walk_module
from decoding.tokens.trie import TokenTrie
from decoding.tokens.vocabulary import Vocabulary
from decoding.tokens.walk import TrieWalk
from tests.strategies import patterns


@pytest.fixture(scope="module")
def tries(bpe_tokenizer, sp_tokenizer):
    out = {}
    for name, tok in (("bpe", bpe_tokenizer), ("sp", sp_tokenizer)):
        vocab = vocabulary_of(tok, cache_dir=False)
        out[name] = (vocab, TokenTrie(vocab))
    return out


@pytest.mark.parametrize("name", ["bpe", "sp"])
def test_preorder_spells_every_token_in_byte_order(tries, name):
    vocab, trie = tries[name]
    pre = trie.preorder
    n = trie.num_nodes
    assert pre.end[0] == n and (pre.end > np.arange(n)).all() and pre.depth[0] == 0
    # Rebuild each node's bytes from the preorder alone: a node's parent is the last node
    # before it one level up.
    spelled: list[bytes] = []
    path: list[bytes] = []
    for i in range(n):
        del path[int(pre.depth[i]):]
        path.append(bytes([pre.byte[i]]) if i else b"")
        spelled.append(b"".join(path))
    assert spelled == sorted(spelled)  # depth first in byte order is lexicographic order
    for i in range(n):  # a subtree is exactly the nodes that extend its root
        inside = spelled[i + 1:pre.end[i]]
        assert all(s.startswith(spelled[i]) for s in inside)
        assert pre.end[i] == n or not spelled[pre.end[i]].startswith(spelled[i])
    found = {}
    for i in range(n):
        for t in pre.tokens[pre.token_start[i]:pre.token_start[i + 1]].tolist():
            found[t] = spelled[i]
    usable = {t: b for t, b in enumerate(vocab.token_bytes) if b and t not in vocab.special_ids}
    assert found == usable



@settings(max_examples=200, deadline=None)
@given(tokens=st.lists(st.lists(st.sampled_from([0, 1, 255]), max_size=5).map(bytes)
                       | st.binary(max_size=8), min_size=1, max_size=40))
@example(tokens=[b"a\x00", b"a", b"", b"a\x00", b"\x00"])
def test_the_trie_is_every_prefix_in_breadth_first_byte_order(tokens):
    """The built arrays against their definition: the nodes are the distinct non-empty prefixes of
    the usable tokens, ordered by length then bytes (small alphabets with zero bytes: tokens that
    differ only in trailing zeros, repeats, prefixes of each other)."""
    vocab = Vocabulary.from_token_bytes(tokens, [], [])  # the empty ones are special
    trie = TokenTrie(vocab)
    usable = [t for t in tokens if t]
    nodes = sorted({t[:d] for t in usable for d in range(1, len(t) + 1)}, key=lambda b: (len(b), b))
    nodes.insert(0, b"")
    number = {b: i for i, b in enumerate(nodes)}
    assert trie.num_nodes == len(nodes)
    assert trie.parent.tolist() == [0] + [number[b[:-1]] for b in nodes[1:]]
    assert trie.node_byte.tolist() == [0] + [b[-1] for b in nodes[1:]]
    assert trie.token_node.tolist() == [number[t] if t else 0 for t in tokens]
    assert trie.level_bounds == [sum(len(b) <= d for b in nodes)
                                 for d in range(max(map(len, nodes)) + 1)]
    assert trie.usable_ids.tolist() == [i for i, t in enumerate(tokens) if t]
    derived = TokenTrie.preorder.func(trie)  # the layout as a loaded trie derives it
    for name in ("end", "depth", "byte", "token_start", "tokens", "of_node"):
        built, expected = getattr(trie.preorder, name), getattr(derived, name)
        assert built.dtype == expected.dtype and built.tolist() == expected.tolist(), name


def _keys(automaton, next_of):
    return [automaton.key(s) if s != DEAD else () for s in next_of.tolist()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=patterns(), data=st.data())
def test_compiled_and_numpy_walks_agree(tries, pattern, data):
    name = data.draw(st.sampled_from(["bpe", "sp"]))
    _, trie = tries[name]
    expression = to_expr(parse(pattern))
    fast, slow = Automaton(expression), Automaton(expression)  # rows found separately
    compiled, numpy_walk = TrieWalk(trie, fast, compiled=True), TrieWalk(trie, slow,
                                                                          compiled=False)
    prune = data.draw(st.sampled_from([None, b"a", b'"', b"ab0"]))
    if prune is not None:  # cut the subtrees below nodes spelling one of these bytes
        prune = np.isin(trie.preorder.byte, list(prune)).astype(np.uint8)
    state_fast = state_slow = fast.initial_state
    for _ in range(4):
        a, b = compiled.next_states(state_fast, prune), numpy_walk.next_states(state_slow, prune)
        assert _keys(fast, a) == _keys(slow, b)
        keep = data.draw(st.sampled_from([0, 3, 10**6]))
        for walk, automaton, state, dense in ((compiled, fast, state_fast, a),
                                              (numpy_walk, slow, state_slow, b)):
            _assert_reach_is(walk.reach(state, prune, keep), automaton, dense, keep)
        live = np.flatnonzero(a)
        if not len(live):
            break
        t = int(data.draw(st.sampled_from(live.tolist())))
        state_fast, state_slow = int(a[t]), int(b[t])
        assert fast.key(state_fast) == slow.key(state_slow)


def _assert_reach_is(found, automaton, dense, keep):
    """`reach` gives the packed flags, count, and (within `keep`) the ids and states of the
    dense walk `dense`."""
    live = np.flatnonzero(dense)
    assert found.bits.tolist() == packed.pack(dense != DEAD).tolist()
    assert found.count == len(live)
    if len(live) > keep:
        assert found.token_ids is None and found.next_states is None
    else:
        assert found.token_ids.dtype == np.int64 and found.token_ids.tolist() == live.tolist()
        assert [automaton.key(s) for s in found.next_states.tolist()] == _keys(automaton,
                                                                               dense[live])


def test_walk_matches_reading_each_token(tries):
    vocab, trie = tries["bpe"]
    a = Automaton(to_expr(parse(r'\{"name": "[^"]{0,12}", "age": [0-9]{1,3}\}')))
    walk = TrieWalk(trie, a)
    state = a.walk(a.initial_state, b'{"name": "ab')
    next_of = walk.next_states(state)
    expected = [a.walk(state, b) if b and t not in vocab.special_ids else DEAD
                for t, b in enumerate(vocab.token_bytes)]
    assert next_of.tolist() == expected
    assert 0 < np.count_nonzero(next_of) < vocab.size


def test_the_compiled_walk_is_built_and_the_fallback_can_be_chosen(tries, monkeypatch):
    _, trie = tries["bpe"]
    a = Automaton(to_expr(parse("[a-z]+")))
    assert TrieWalk(trie, a).compiled  # pip install builds decoding/tokens/_walk.c
    monkeypatch.setenv("TYPEDECODE_COMPILED_WALK", "0")
    compiled_module.cache_clear()
    try:
        assert not TrieWalk(trie, a).compiled
        with pytest.raises(RuntimeError, match="not built"):
            TrieWalk(trie, a, compiled=True)
    finally:
        monkeypatch.delenv("TYPEDECODE_COMPILED_WALK")
        compiled_module.cache_clear()


def test_the_kernel_refuses_arrays_that_break_the_layout():
    from decoding.tokens._walk import walk_subtrees

    def i32(*values: int) -> np.ndarray:
        return np.array(values, dtype=np.int32)

    def call(end=(2, 2), tokens=(0,), rows=(0, 1, 0, 1), classes=1, next_of=None,
             bits=None, hits=1, classes_of=None):
        # nodes: root and one child spelling token 0; states: dead and 1, which loops
        hit_tokens, hit_states = np.zeros(hits, np.int32), np.zeros(hits, np.int32)
        classes_of = np.zeros(256, np.int32) if classes_of is None else classes_of
        held, found = walk_subtrees(
            i32(0), i32(1), np.zeros(2, np.uint8), classes_of, i32(*end), i32(0, 1),
            i32(0, 0, 1), i32(*tokens), i32(*rows), classes, np.ones(2, dtype=bool),
            np.zeros(0, np.uint8), 0, np.zeros(0, np.int32),
            np.zeros(1, np.int32) if next_of is None else next_of,
            np.zeros(1, np.uint8) if bits is None else bits, hit_tokens,
            hit_states, 0, 1, np.zeros(4, np.int32), np.zeros(2, np.int32),
            np.zeros(2, np.int32))
        assert found == 1 and hit_tokens[:hits].tolist() == [0][:hits]
        assert hit_states[:hits].tolist() == [1][:hits]
        return held

    out, bits = np.zeros(1, np.int32), np.zeros(1, np.uint8)
    assert call(next_of=out, bits=bits) == 0 and out.tolist() == [1] and bits.tolist() == [1]
    assert call(hits=0) == 0  # found counts the tokens past the recorded ones
    with pytest.raises(ValueError, match="do not fit"):
        call(next_of=np.zeros(2, np.int32))  # next_of not one entry per token
    with pytest.raises(ValueError, match="do not fit"):
        call(classes_of=np.zeros(255, np.int32))  # not one class per byte
    with pytest.raises(ValueError, match="out of range"):
        call(classes_of=np.full(256, 3, np.int32))  # a class past the rows' width
    with pytest.raises(ValueError, match="out of range"):
        call(end=(5, 5))  # a subtree past the last node
    with pytest.raises(ValueError, match="out of range"):
        call(tokens=(7,))  # a token id past the vocabulary
    with pytest.raises(ValueError, match="out of range"):
        call(rows=(0, 9, 0, 9))  # a row pointing at a state that does not exist
    with pytest.raises(ValueError, match="do not fit"):
        call(rows=(0, 1, 0), classes=2)
    with pytest.raises(TypeError, match="items of 4 bytes"):
        call(next_of=np.zeros(1, np.int64))
    read_only = np.zeros(1, np.int32)
    read_only.setflags(write=False)
    with pytest.raises((BufferError, ValueError), match="read-only|writable"):
        call(next_of=read_only)


def test_the_depth_first_layout_is_stored_with_the_trie(tries):
    vocab, trie = tries["sp"]
    loaded = TokenTrie.from_arrays(vocab, trie.to_arrays())
    assert "preorder" in loaded.__dict__  # taken from the arrays, not computed again
    for field in ("end", "depth", "byte", "token_start", "tokens", "of_node"):
        assert np.array_equal(getattr(loaded.preorder, field), getattr(trie.preorder, field))
    without = {k: v for k, v in trie.to_arrays().items() if k != "pre_tokens"}
    again = TokenTrie.from_arrays(vocab, without)
    assert "preorder" not in again.__dict__
    assert np.array_equal(again.preorder.tokens, trie.preorder.tokens)


@pytest.mark.parametrize("name", ["bpe", "sp"])
def test_counting_walks_agree_and_need_every_row(tries, name):
    _, trie = tries[name]
    star = to_expr(parse(r'(?:[^"\\]|\\["\\nu]|\\u[0-9a-f]{2})*'))
    counts = []
    for compiled in (True, False):
        a = Automaton(star)
        walk = TrieWalk(trie, a, compiled=compiled)
        with pytest.raises(ValueError, match="every row"):
            walk.starts(a.initial_state)
        todo = [a.initial_state]
        while todo:
            todo += [t for t in set(a.expand(todo.pop()).tolist()) if not a.expanded[t]]
        next_of, items = walk.next_states(a.initial_state), walk.starts(a.initial_state)
        assert ((next_of == DEAD) == (items == -1)).all()
        counts.append((_keys(a, next_of), items.tolist()))
    assert counts[0] == counts[1]
    assert max(counts[0][1]) > 1


def test_reading_a_token_agrees_with_the_automaton():
    pattern = r'\{"a": "(?:[^"\\]|\\u[0-9a-f]{4}){0,9}", "b": [0-9]+\}'
    for compiled in (True, False):
        fresh, reference = Automaton(to_expr(parse(pattern))), Automaton(to_expr(parse(pattern)))
        if not compiled:
            compiled_module.cache_clear()
            os.environ["TYPEDECODE_COMPILED_WALK"] = "0"
        try:
            for text in (b'{"a": "x\\u00e9yz", "b": 12}', b'{"a": "', b'{"a": 1', b'{"b"'):
                assert fresh.key(walk_module.read(fresh, fresh.initial_state, text)) \
                    == reference.key(reference.walk(reference.initial_state, text))
        finally:
            os.environ.pop("TYPEDECODE_COMPILED_WALK", None)
            compiled_module.cache_clear()


def test_the_crossing_kernel_refuses_arrays_that_break_the_layout():
    from decoding.tokens._walk import crossing_flags

    flags = np.zeros(256, np.uint8)
    flags[ord("a")] = 1

    def call(end=(2, 2), depth=(0, 1), out_len=2, byte_flags=flags):
        # nodes: the root and one child "a" spelling token 0
        out = np.full(out_len, 7, np.uint8)
        crossing_flags(byte_flags, np.array([0, ord("a")], np.uint8),
                       np.array(depth, np.int32), np.array(end, np.int32),
                       np.array([0, 0, 1], np.int32), out)
        return out.tolist()

    assert call() == [0, 0]  # "a" holds the byte: neither subtree is free of it
    assert call(byte_flags=np.zeros(256, np.uint8)) == [1, 1]
    with pytest.raises(ValueError, match="do not fit"):
        call(out_len=1)
    with pytest.raises(ValueError, match="do not fit"):
        call(byte_flags=np.zeros(255, np.uint8))
    with pytest.raises(ValueError, match="out of range"):
        call(end=(2, 9))  # a subtree past the last node
    with pytest.raises(ValueError, match="out of range"):
        call(depth=(0, 5))  # a node below a missing level


def test_a_walk_that_finds_the_tries_buffers_lent_uses_its_own(tries):
    """The set-aside buffers and stack are lent to one walk at a time: a walk while another
    holds them (a thread's, here held by hand) gets new ones, with the same answer, and the
    trie's own are lent again once given back."""
    _, trie = tries["bpe"]
    a = Automaton(to_expr(parse(r'\{"(?:name|note)": "[^"]{0,9}", "n": [0-9]{1,3}\}')))
    walk = TrieWalk(trie, a)
    state = a.walk(a.initial_state, b'{"n')
    alone = walk.next_states(state)
    held = walk_module._lend(trie)
    try:
        assert held.shared and not walk_module._lend(trie).shared
        assert walk.next_states(state).tolist() == alone.tolist()
    finally:
        held.release()
    again = walk_module._lend(trie)
    assert again is held
    again.release()
