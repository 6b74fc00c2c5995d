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

The same holds through alternations (`split_head`): the mask of `a | b` is the union of the
masks, so in a state `(X{lo1,hi1} r1 | X{lo2,hi2} r2 | c) t` (a body followed by either end of
an object, say) the tokens without a byte of F, F now the first bytes of `r1 t`, `r2 t` and
`c t` together, are allowed exactly when u <= max(hi1, hi2): an alternative c that does not
start with X{..} allows none of them (each starts with a byte of F). A larger F than needed
only sends more tokens to the walk, which is exact for every token.

`Lexemes(vocabulary, trie).inside(x)` is memoized per x; None for an x whose `X*` has more than
`MAX_STATES` states or accepts elsewhere than at `X*`: the caller walks the whole trie then.
`inside_bits(x, hi)` is the mask part, packed (`decoding.tokens.bits`), memoized per x and hi
capped at the most items a token starts (every larger hi gives the same bits).
Thread-safe: tables are built under one lock per `Lexemes` and never changed afterwards.
"""

from __future__ import annotations

import threading

import numpy as np

from decoding.automaton.dfa import Automaton
from decoding.automaton.expr import CAT, EMPTY, OR, REPEAT, Expr, first_bytes, repeat
from decoding.errors import PatternTooComplex
from decoding.tokens import bits as packed
from decoding.tokens.compiled import compiled_module
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
        self._bits: LRU[tuple[Expr, int | None], np.ndarray] = LRU(_MEMO_SIZE)
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

    def inside_bits(self, x: Expr, hi: int | None) -> np.ndarray | None:
        """uint8, packed per token id: the tokens that start at most `hi` (None: any number of)
        items of `x` (read-only); None where `inside(x)` is."""
        items = self.inside(x)
        if items is None:
            return None
        most = int(items.max(initial=-1)) if hi is not None else None
        key = (x, None if hi is None or hi >= most else hi)
        bits = self._bits.get(key)
        if bits is None:
            allowed = items >= 0 if key[1] is None else (items >= 0) & (items <= key[1])
            bits = packed.pack(allowed)
            bits.flags.writeable = False
            self._bits.put(key, bits)
        return bits

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
        and their nodes and those nodes' ancestors are cleared, a level at a time. Many: a
        token holds a byte of `f` exactly when its node's path does, so one pass down the
        levels flags the paths, and one running count over the depth-first nodes that spell a
        token on such a path tells each node whether its subtree (`i .. end[i]`) holds one
        (compiled, `_walk.crossing_flags`, where the C module is built)."""
        v, trie = self.vocabulary, self.trie
        pre = trie.preorder
        values = [b for b in range(256) if f >> b & 1]
        if len(values) <= _FEW_BYTES:  # a comparison per byte beats a table lookup per byte
            hit = np.zeros(len(v.flat), dtype=bool)
            for b in values:
                hit |= v.flat == b
            if np.count_nonzero(hit) * _SPARSE <= len(v.flat):
                return self._cleared(np.searchsorted(v.offsets, np.flatnonzero(hit),
                                                     side="right") - 1)
        kernel = getattr(compiled_module(), "crossing_flags", None)
        if kernel is not None:
            flags = np.empty(len(pre.end), dtype=np.uint8)
            kernel(_byte_flags(f).view(np.uint8), pre.byte, pre.depth, pre.end, pre.token_start,
                   flags)
            return flags
        on_path = _byte_flags(f)[trie.node_byte]  # by breadth-first node, then down the levels
        bounds = trie.level_bounds
        for d in range(2, len(bounds)):
            lo, hi = bounds[d - 1], bounds[d]
            on_path[lo:hi] |= on_path[trie.parent[lo:hi]]
        leaving = np.empty(len(pre.end), dtype=bool)
        leaving[pre.of_node] = on_path
        leaving[1:] &= pre.token_start[2:] > pre.token_start[1:-1]  # spells a token
        leaving[0] = False
        below = np.concatenate(([0], np.cumsum(leaving, dtype=np.int32)))
        return (below[pre.end] == below[:-1]).astype(np.uint8)

    def _cleared(self, tokens: np.ndarray) -> np.ndarray:
        """The flags with the nodes of `tokens` (ids) and their ancestors cleared."""
        trie = self.trie
        pre = trie.preorder
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
        return TrieWalk(self.trie, automaton).starts(boundary)


def split_head(e: Expr) -> tuple[Expr, int | None, int] | None:
    """(x, hi, F) where, in a state of expression `e`, a token with no byte of F is allowed
    exactly when it starts at most hi (None: any number of) items of x: `e` is `cat(x{lo,hi}, r)`
    (F: r's first bytes), a repetition of x alone (F empty), or an alternation of such forms
    (an optional part `y?` read as `(empty | y)`, and `x x{lo,hi}` as `x{lo+1,hi+1}`: a JSON
    key's first character then the rest), possibly followed by more (see the module
    docstring), with x wide (at least `WIDE` bytes
    start one of its strings: a string body, not a run of digits or spaces, whose states allow
    few tokens and are walked quickly whole); None otherwise."""
    found = _split(e, None)
    return None if found is None else found[:3]


def _split(e: Expr, x: Expr | None) -> tuple[Expr, int | None, int, bool] | None:
    """(x, hi, F, tail) for `split_head`, with x the given one where given; `tail`: whether
    what follows the repetition may be empty (then what follows `e` may start a token too)."""
    if e.kind == REPEAT and e.hi == 1:  # x? is (empty | x): x's split, with an empty tail
        found = _split(e.items[0], x)
        return found if found is None or e.lo else (*found[:3], True)
    if e.kind == REPEAT:
        item = e.items[0]
        if (item is x or x is None) and first_bytes(item).bit_count() >= WIDE:
            return item, e.hi, 0, True
        return None
    if e.kind == CAT:
        head, rest = e.items
        run = rest.items[0] if rest.kind == CAT else rest
        if run.kind == REPEAT and run.items[0] is head:  # x x{lo,hi} is x{lo+1,hi+1}
            found = _split(repeat(head, run.lo + 1, None if run.hi is None else run.hi + 1), x)
            rest = rest.items[1] if rest.kind == CAT else EMPTY
        else:
            found = _split(head, x)
        if found is None:
            return None
        x, hi, f, tail = found
        return (x, hi, f | first_bytes(rest), rest.nullable) if tail else found
    if e.kind != OR:
        return None
    split, f, tail, hi = False, 0, False, 0
    for item in e.items:
        found = _split(item, x)
        if found is None:  # allows no token without a byte of its own first bytes
            f |= first_bytes(item)
            tail = tail or item.nullable
            continue
        x, item_hi, item_f, item_tail = found
        split = True
        hi = None if hi is None or item_hi is None else max(hi, item_hi)
        f |= item_f
        tail = tail or item_tail
    return (x, hi, f, tail) if split else None


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
