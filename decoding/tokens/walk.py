"""Token walks: the state every token of a vocabulary reaches from one automaton state.

Contract: `TrieWalk(trie, automaton).next_states(state)` is an int32 array, one entry per token
id: the state that reading the token's bytes from `state` leads to, DEAD where some byte leads to
the dead state and for tokens the trie does not hold (special or empty ones). Rows the lazy
automaton has not computed yet are computed on the way (`Automaton.expand_all`). With `prune`
(one flag per node in depth-first order), the tokens at and below a flagged node read as DEAD.
`starts(state)` counts, per token, how often its path leaves `state` (for the automaton of a
repetition `x*` entered at `x*`: how many items of x the token starts); it needs every row the
walk can meet computed first. `reach(state, prune, keep)` is the same walk for a mask: the
allowed tokens as packed bits (`decoding.tokens.bits`) and their count, plus their sorted ids and
next states where at most `keep` are allowed; compiled, it allocates nothing as long as the
vocabulary but the packed bits (no per-token array), so a state that allows few tokens costs
about what its walk visits.

Two walks give the same array bit for bit (the tests compare them):
- compiled (the C module `decoding.tokens._walk`, built by `pip install`): one loop over the
  trie in depth-first order (`TokenTrie.preorder`) that skips the whole subtree below a node
  whose state is dead, so a state that allows few tokens visits few nodes. Below a state with no
  row yet it sets the subtree aside; the automaton computes all those rows at once and the loop
  resumes there, so the loop never calls back into Python. It checks every index it uses,
  releases the GIL for walks spanning 2**18 trie nodes or more (a short walk that released it
  would wait for any other thread's turn, up to 5 ms), and writes only into arrays its caller owns.
  Its set-aside buffers (one slot per trie node) and stack are kept per trie and lent to one
  walk at a time (a walk that finds them taken allocates its own): allocating them cost a short
  walk more than the walk itself.
- numpy (the fallback where the C module was not built, or with `TYPEDECODE_COMPILED_WALK=0`):
  the trie level by level in breadth-first order, a few whole-slice operations per depth.
The compiled walk reads each node's byte and the automaton's 256-entry byte-class table, so a
new automaton lays out nothing over the trie.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from decoding.automaton.dfa import DEAD, Automaton
from decoding.tokens import bits as packed
from decoding.tokens.compiled import compiled_module
from decoding.tokens.trie import TokenTrie

_NO_PRUNING = np.zeros(0, dtype=np.uint8)
_NONE = np.zeros(0, dtype=np.int32)
_NO_BITS = np.zeros(0, dtype=np.uint8)


@dataclass(frozen=True)
class Reached:
    """The tokens a walk from one state allows: `bits` packed flags per token id (uint8), `count`
    how many are set; `token_ids` (int64, ascending) and `next_states` (int32, aligned) where
    `count` is at most the `keep` asked for, else both None. The arrays are new, the caller's."""

    bits: np.ndarray
    count: int
    token_ids: np.ndarray | None
    next_states: np.ndarray | None


class TrieWalk:
    """The walks of one automaton over one vocabulary's trie."""

    def __init__(self, trie: TokenTrie, automaton: Automaton, *, compiled: bool | None = None):
        self.trie = trie
        self.automaton = automaton
        kernel = _kernel() if compiled is not False else None
        if compiled and kernel is None:
            raise RuntimeError("the compiled walk is not built (pip install -e . builds it)")
        self._kernel = kernel
        self._node_class: np.ndarray | None = None  # numpy walk: each node's class, on first use

    @property
    def compiled(self) -> bool:
        return self._kernel is not None

    def next_states(self, state: int, prune: np.ndarray | None = None) -> np.ndarray:
        """int32 [vocabulary size]: the state each token leads to from `state` (DEAD: none, or
        pruned: `prune`, uint8 per depth-first node, cuts the subtree below each flagged node)."""
        self.automaton.expand(state)
        if self._kernel is None:
            return self._by_levels(state, prune)
        next_of = np.zeros(len(self.trie.token_node), dtype=np.int32)
        self._depth_first(state, _NO_PRUNING if prune is None else prune, next_of=next_of)
        return next_of

    def reach(self, state: int, prune: np.ndarray | None = None, keep: int = 0) -> Reached:
        """The tokens allowed from `state` (`prune` as in `next_states`), see `Reached`."""
        self.automaton.expand(state)
        vocab = len(self.trie.token_node)
        if self._kernel is None:
            next_of = self._by_levels(state, prune)
            allowed = next_of != DEAD
            count = int(np.count_nonzero(allowed))
            ids = np.flatnonzero(allowed) if count <= keep else None
            return Reached(packed.pack(allowed), count, ids,
                           None if ids is None else next_of[ids])
        bits = np.zeros((vocab + 7) // 8, dtype=np.uint8)
        hit_tokens, hit_states = np.empty(keep, dtype=np.int32), np.empty(keep, dtype=np.int32)
        count = self._depth_first(state, _NO_PRUNING if prune is None else prune, bits=bits,
                                  hits=(hit_tokens, hit_states))
        if count > keep:
            return Reached(bits, count, None, None)
        order = np.argsort(hit_tokens[:count], kind="stable")
        return Reached(bits, count, hit_tokens[order].astype(np.int64), hit_states[order])

    def _classes(self, byte: np.ndarray) -> np.ndarray:
        if self._node_class is None:
            self._node_class = self.automaton.byte_class[byte].astype(np.int32)
        return self._node_class

    def starts(self, state: int) -> np.ndarray:
        """int32 per token: how many times its path leaves `state`; -1 where it reaches the dead
        state (or the trie does not hold it). ValueError unless every state has its row."""
        a = self.automaton
        if not a.expanded[:a.num_states].all():
            raise ValueError("starts() needs every row of the automaton computed")
        items = np.full(len(self.trie.token_node), -1, dtype=np.int32)
        if self._kernel is None:
            next_of = self._by_levels(state, None, items)
            items[next_of == DEAD] = -1
        else:  # the walk writes the count of every token it reaches, and only theirs
            self._depth_first(state, _NO_PRUNING, items)
        return items

    def _depth_first(self, state: int, prune: np.ndarray, items: np.ndarray = _NONE, *,
                     next_of: np.ndarray = _NONE, bits: np.ndarray = _NO_BITS,
                     hits: tuple[np.ndarray, np.ndarray] = (_NONE, _NONE)) -> int:
        """The compiled walk from `state` into the outputs given (see `_walk.c`), rows computed
        between rounds; how many tokens it reached."""
        a, pre = self.automaton, self.trie.preorder
        vocab = len(self.trie.token_node)
        nodes = np.zeros(1, dtype=np.int32)
        states = np.array([state], dtype=np.int32)
        found = 0
        scratch = _lend(self.trie)
        try:
            held_nodes, held_states, stack = scratch.buffers
            while True:
                held, found = self._kernel(nodes, states, pre.byte, a.byte_class, pre.end,
                                           pre.depth, pre.token_start, pre.tokens, a.rows,
                                           a.num_classes, a.expanded, prune, state, items,
                                           next_of, bits, *hits, found, vocab, stack,
                                           held_nodes, held_states)
                if not held:
                    return found
                nodes, states = held_nodes[:held].copy(), held_states[:held].copy()
                a.expand_all(states)
        finally:
            scratch.release()

    def _by_levels(self, state: int, prune: np.ndarray | None,
                   items: np.ndarray = _NONE) -> np.ndarray:
        a, trie = self.automaton, self.trie
        node_class = self._classes(trie.node_byte)
        cut = None if prune is None else prune[trie.preorder.of_node].astype(bool)
        node_state = np.zeros(trie.num_nodes, dtype=np.int32)
        node_state[0] = state
        node_count = np.zeros(trie.num_nodes, dtype=np.int32) if len(items) else None
        bounds = trie.level_bounds
        for d in range(1, len(bounds)):
            lo, hi = bounds[d - 1], bounds[d]
            idx = node_state[trie.parent[lo:hi]]  # int32: max_states * 256 < 2**31
            idx *= a.num_classes
            idx += node_class[lo:hi]
            reached = a.rows.ravel()[idx]
            if cut is not None:
                reached[cut[lo:hi]] = DEAD
            if not reached.any():
                break
            node_state[lo:hi] = reached
            if node_count is not None:
                parents = trie.parent[lo:hi]
                node_count[lo:hi] = node_count[parents] + (node_state[parents] == state)
            if not a.expanded[reached].all():
                a.expand_all(reached)
        node_state[0] = DEAD  # unusable tokens point at the root
        if node_count is not None:
            items[:] = node_count[trie.token_node]
        return node_state[trie.token_node]


class _Scratch:
    """The compiled walk's buffers for one trie: set-aside nodes and states (one slot per node
    each) and the stack (two slots per depth: states, and counts for a counting walk), lent to
    one walk at a time (`_lend`): allocating them costs more than a short walk (their pages are
    touched anew), so they are kept for the next walk of any automaton over the trie."""

    __slots__ = ("buffers", "lock", "shared")

    def __init__(self, trie: TokenTrie, shared: bool):
        n = len(trie.preorder.end)
        self.buffers = (np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
                        np.zeros(2 * (len(trie.level_bounds) + 1), dtype=np.int32))
        self.lock = threading.Lock()
        self.shared = shared

    def release(self) -> None:
        """Give the buffers back (a walk's own, unshared ones are simply dropped)."""
        if self.shared:
            self.lock.release()


_SCRATCH: weakref.WeakKeyDictionary[TokenTrie, _Scratch] = weakref.WeakKeyDictionary()


def _lend(trie: TokenTrie) -> _Scratch:
    """Buffers for one compiled walk over `trie`, to `release` after it: the trie's shared ones
    when no other walk holds them, else new ones."""
    scratch = _SCRATCH.get(trie)
    if scratch is None:
        scratch = _SCRATCH.setdefault(trie, _Scratch(trie, shared=True))
    if scratch.lock.acquire(blocking=False):
        return scratch
    return _Scratch(trie, shared=False)


def read(automaton: Automaton, state: int, data: bytes) -> int:
    """The state after reading `data` from `state` (DEAD if some byte leads there), rows computed
    where missing; `Automaton.walk`, in the compiled loop where it is built."""
    compiled = compiled_module()
    if compiled is None:
        return automaton.walk(state, data)
    pos = 0
    while True:
        state, pos = compiled.read_bytes(automaton.rows, automaton.num_classes,
                                         automaton.byte_class, automaton.expanded, state, data,
                                         pos)
        if state == DEAD or pos == len(data):
            return state
        automaton.expand(state)


def _kernel() -> Callable | None:
    """The C walk, or None where it was not built or `TYPEDECODE_COMPILED_WALK=0`."""
    compiled = compiled_module()
    return None if compiled is None else compiled.walk_subtrees
