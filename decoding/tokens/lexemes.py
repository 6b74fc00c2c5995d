"""Context-independent token sets: the tokens that stay inside a repeated lexeme (a string body, a
run of digits), found once per vocabulary and lexeme and shared by every state that starts with
that repetition, whatever follows it and whatever its counter.

Why it is exact. Take a state `cat(h, r)` with `h = X{lo,hi}` and let F be `first_bytes(r)`.
- Every token w with `derivative(h, w)` non-empty is allowed: `derivative(cat(h, r), w)` contains
  `derivative(h, w) . r`, and r is not empty.
- A token w without a byte of F cannot leave h (leaving h means reading a first byte of r), so
  for it `derivative(cat(h, r), w) = derivative(h, w) . r`: allowed exactly when the first case
  says so. Only tokens with a byte of F depend on r.
- `derivative(h, w)` is non-empty iff w spells the start of at most hi items of X, whatever lo.
  One walk per X of the automaton of `X*` tells, per token, whether it starts a sequence of X
  and how many items u it starts (a finished or an unfinished one each): how many times its
  path leaves the state `X*`, where every item starts. That count is exact when no other state
  of the automaton accepts (no item may have ended anywhere else); other X are not split. The
  tokens allowed inside h are those with u <= hi.
So a state's mask is the tokens with u <= hi, plus those a walk of the state itself allows among
the tokens with a byte of F; `crossing(F)` flags the trie nodes with no such token below them,
for that walk to skip.

`Lexemes(vocabulary, trie).inside(x)` is memoized per x; None for an x whose `X*` has more than
`MAX_STATES` states or accepts elsewhere than at `X*`: the caller walks the whole trie then.
Thread-safe: tables are built under one lock per `Lexemes` and never changed afterwards.
"""

from __future__ import annotations

import threading

import numpy as np

from decoding.automaton.dfa import Automaton
from decoding.automaton.expr import CAT, EMPTY, OR, REPEAT, Expr, first_bytes, repeat
from decoding.errors import PatternTooComplex
from decoding.tokens.trie import TokenTrie, trie_of
from decoding.tokens.vocabulary import Vocabulary
from decoding.tokens.walk import TrieWalk
from decoding.util import LRU

_MEMO_SIZE = 256
WIDE = 128
MAX_STATES = 1000
_FEW_BYTES = 8  # crossing: up to this many bytes in F are found by comparisons
_SPARSE = 128  # crossing: under 1/_SPARSE of the vocabulary's bytes in F: cleared node by node


class Lexemes:
    """Token tables for the repetitions met in states, for one vocabulary and its trie."""

    def __init__(self, vocabulary: Vocabulary, trie: TokenTrie):
        self.vocabulary = vocabulary
        self.trie = trie
        self._items: LRU[Expr, np.ndarray | bool] = LRU(_MEMO_SIZE)
        self._crossing: LRU[int, np.ndarray] = LRU(_MEMO_SIZE)
        self._lock = threading.Lock()

    def inside(self, x: Expr) -> np.ndarray | None:
        """int32 [vocabulary size]: per token, the items of `x` it starts; -1 for tokens that no
        sequence of `x` starts with. None where `x` is not split (see the module docstring)."""
        table = self._items.get(x)
        if table is None:
            with self._lock:
                table = self._items.get(x)
                if table is None:
                    table = self._build(x)
                    self._items.put(x, False if table is None else table)
        return None if table is False else table

    def crossing(self, f: int) -> np.ndarray:
        """uint8 per depth-first node: 1 where no token at or below the node has a byte of `f`
        (a walk given these flags as `prune` reads only tokens that can leave the lexeme)."""
        flags = self._crossing.get(f)
        if flags is None:
            flags = self._flags(f)
            self._crossing.put(f, flags)
        return flags

    def _flags(self, f: int) -> np.ndarray:
        """`crossing(f)`, computed. Few bytes of the vocabulary in `f` (the usual `"`): the
        tokens holding them are found from their positions (the token whose bytes start last at
        or before each: an empty token starts where the next one does, so it is never chosen),
        and their nodes and those nodes' ancestors are cleared, a level at a time. Many: one
        running count over the flat bytes tells each token, and one over the depth-first tokens
        each node (a node's subtree spells `pre.tokens[token_start[node]:token_start[end[node]]]`)."""
        v, trie = self.vocabulary, self.trie
        pre = trie.preorder
        values = [b for b in range(256) if f >> b & 1]
        if len(values) <= _FEW_BYTES:  # a comparison per byte beats a table lookup per byte
            hit = np.zeros(len(v.flat), dtype=bool)
            for b in values:
                hit |= v.flat == b
        else:
            hit = _byte_flags(f)[v.flat]
        if np.count_nonzero(hit) * _SPARSE > len(v.flat):
            seen = np.concatenate(([0], np.cumsum(hit, dtype=np.int32)))
            has = seen[v.offsets + v.lengths] != seen[v.offsets]  # per token id
            below = np.concatenate(([0], np.cumsum(has[pre.tokens], dtype=np.int32)))
            starts = pre.token_start
            return (below[starts[pre.end]] == below[starts[:-1]]).astype(np.uint8)
        tokens = np.searchsorted(v.offsets, np.flatnonzero(hit), side="right") - 1
        nodes = _distinct(trie.token_node[tokens])
        nodes = nodes[nodes != 0]  # tokens the trie does not hold
        flags = np.ones(len(pre.end), dtype=np.uint8)
        if len(nodes):
            flags[pre.of_node[0]] = 0  # the root is above every node
        while len(nodes):
            flags[pre.of_node[nodes]] = 0
            nodes = _distinct(trie.parent[nodes])
            nodes = nodes[nodes != 0]
        return flags

    def _build(self, x: Expr) -> np.ndarray | None:
        try:
            automaton = Automaton(repeat(x, 0, None), max_states=MAX_STATES)
            boundary = automaton.initial_state
            todo = [boundary]
            while todo:  # every row first: the counting walk never stops for one
                for t in set(automaton.expand(todo.pop()).tolist()):
                    if not automaton.expanded[t]:
                        todo.append(t)
        except PatternTooComplex:
            return None
        accepting = automaton.accepting[:automaton.num_states].copy()
        accepting[boundary] = False
        if accepting.any():
            return None
        return TrieWalk(self.trie, automaton).starts(boundary)[1]


def split_head(e: Expr) -> tuple[Expr, int | None, int] | None:
    """(x, hi, f) where `e` is `cat(x{lo,hi}, r)` and x is wide (at least `WIDE` bytes start
    one of its strings: a string body, not a run of digits or spaces, whose states allow few
    tokens and are walked quickly whole), f being `first_bytes(r)`; None otherwise.

    Also for a union of such branches with one x (`e` without `&` or `~`): `e` an alternation of
    branches `cat(x{lo_i,hi_i}, r_i)` (or `x{lo_i,hi_i}` alone, r_i empty), or `cat(u, t)` with
    u such an alternation (r_i then reads `cat(r_i, t)`), as a string body that two member
    orders of one object share. The argument of the module docstring holds per branch: a token
    without a byte of f, the union of the `first_bytes(r_i)`, stays in x in every branch, and is
    allowed iff some branch allows it, i.e. iff it starts at most max(hi_i) items (None: no
    bound); since no expression without `&` and `~` but NOTHING is empty, every r_i has strings."""
    tail = None
    if e.kind == OR:
        branches = e.items
    elif e.kind == CAT and e.items[0].kind == OR:
        branches, tail = e.items[0].items, e.items[1]
    elif e.kind == CAT:
        branches = (e,)
    else:
        return None
    if len(branches) > 1 and e.boolean:
        return None
    x: Expr | None = None
    bounds: list[int | None] = []
    leaving = 0
    for branch in branches:
        head, rest = branch.items if branch.kind == CAT else (branch, EMPTY)
        if head.kind != REPEAT or (x is not None and head.items[0] is not x):
            return None
        x = head.items[0]
        bounds.append(head.hi)
        leaving |= first_bytes(rest)
        if tail is not None and rest.nullable:
            leaving |= first_bytes(tail)
    if x is None or first_bytes(x).bit_count() < WIDE:
        return None
    return x, None if None in bounds else max(bounds), leaving  # type: ignore[type-var]


def _byte_flags(mask: int) -> np.ndarray:
    """bool [256]: whether each byte's bit is set in `mask`."""
    return np.unpackbits(np.frombuffer(mask.to_bytes(32, "little"), dtype=np.uint8),
                         bitorder="little").astype(bool)


_LOCK = threading.Lock()
_BY_VOCABULARY: dict[str, Lexemes] = {}


def lexemes_of(vocabulary: Vocabulary) -> Lexemes:
    """The `Lexemes` of a vocabulary, one per fingerprint in this process."""
    with _LOCK:
        found = _BY_VOCABULARY.get(vocabulary.fingerprint)
        if found is None:
            found = _BY_VOCABULARY[vocabulary.fingerprint] = Lexemes(vocabulary,
                                                                    trie_of(vocabulary))
        return found


def _distinct(a: np.ndarray) -> np.ndarray:
    """`np.unique(a)` for a 1-D integer array, without numpy 2's check for masked arrays, whose
    first use imports `numpy.ma` (some 30 ms, inside whichever mask first needs it)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a
