"""HIR -> Thompson NFA over UTF-8 bytes.

Invariants of a built `NFA`:
- States are ints 0..n-1. `start` is the start state, `match` the single accepting state.
- Each state has epsilon edges (`epsilons[s]`) and byte edges (`byte_edges[s]`: inclusive byte
  ranges `(lo, hi, target)`); the match state has neither.
- Only valid UTF-8 encodings of the HIR's strings lead from `start` to `match`.
- Trim: every state is reachable from `start` and can reach `match` (empty character sets are
  removed from the HIR before construction, and Thompson's construction leaves no other dead
  ends). So a non-empty set of NFA states always has a continuation.
- The size is bounded by `max_states`: a pattern whose NFA would exceed it raises
  `PatternTooComplex` before it is built (no OOM), and a pattern with no match raises
  `EmptyLanguage`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from decoding import hir
from decoding.errors import EmptyLanguage, PatternTooComplex
from decoding.utf8 import utf8_sequences

DEFAULT_MAX_NFA_STATES = 1_000_000


@dataclass(frozen=True)
class NFA:
    """The automaton's graph; the lists are owned by it and never modified after building."""

    start: int
    match: int
    epsilons: list[list[int]]
    byte_edges: list[list[tuple[int, int, int]]]

    @property
    def num_states(self) -> int:
        return len(self.epsilons)


def build_nfa(node: hir.Node, *, pattern: str | None = None,
              max_states: int = DEFAULT_MAX_NFA_STATES) -> NFA:
    """Compile the HIR into a trim byte-level NFA (see module invariants)."""
    trimmed = _without_empty_sets(node, {})
    if trimmed is None:
        raise EmptyLanguage("the pattern matches no string", pattern, None)
    _check_size(trimmed, max_states, pattern)
    builder = _Builder()
    start = builder.new_state()
    end = builder.compile(trimmed, start)
    match = builder.new_state()
    builder.eps[end].append(match)
    return NFA(start, match, builder.eps, builder.edges)


def _without_empty_sets(node: hir.Node, memo: dict[int, hir.Node | None]) -> hir.Node | None:
    """`node` with every part that can match nothing removed; None if nothing is left."""
    key = id(node)
    if key in memo:
        return memo[key]
    out: hir.Node | None
    if isinstance(node, hir.CharSet):
        out = node if node.ranges else None
    elif isinstance(node, hir.Concat):
        items = [_without_empty_sets(i, memo) for i in node.items]
        out = None if any(i is None for i in items) else hir.Concat(tuple(items))
    elif isinstance(node, hir.Alternation):
        items = [i for i in (_without_empty_sets(i, memo) for i in node.items) if i is not None]
        out = None if not items else items[0] if len(items) == 1 else hir.Alternation(tuple(items))
    elif isinstance(node, hir.Repeat):
        item = _without_empty_sets(node.item, memo)
        if item is None:
            out = hir.Empty() if node.min == 0 else None
        else:
            out = hir.Repeat(item, node.min, node.max, node.pos)
    else:
        out = node
    memo[key] = out
    return out


class _Builder:
    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int, int]]] = []

    def new_state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def compile(self, node: hir.Node, entry: int) -> int:
        """Add states for `node` starting at `entry`; return its exit state."""
        if isinstance(node, hir.CharSet):
            return self._charset(node, entry)
        if isinstance(node, hir.Concat):
            for item in node.items:
                entry = self.compile(item, entry)
            return entry
        if isinstance(node, hir.Alternation):
            exit_ = self.new_state()
            for item in node.items:
                branch = self.new_state()
                self.eps[entry].append(branch)
                self.eps[self.compile(item, branch)].append(exit_)
            return exit_
        if isinstance(node, hir.Repeat):
            return self._repeat(node, entry)
        if isinstance(node, hir.Empty):
            return entry
        raise TypeError(f"not a HIR node: {node!r}")

    def _charset(self, node: hir.CharSet, entry: int) -> int:
        internal, edges = _charset_template(node.ranges)
        base = len(self.eps)  # local state k >= 1 becomes base + k - 1; local 0 is `entry`
        for _ in range(internal + 1):
            self.eps.append([])
            self.edges.append([])
        out = self.edges
        for src, lo, hi, dst in edges:
            out[entry if src == 0 else base + src - 1].append((lo, hi, base + dst - 1))
        return base + internal  # the exit, the last local state

    def _repeat(self, node: hir.Repeat, entry: int) -> int:
        for _ in range(node.min):
            entry = self.compile(node.item, entry)
        if node.max is None:
            # entry -> loop -(item)-> back to loop; loop -> exit
            loop = self.new_state()
            self.eps[entry].append(loop)
            body = self.new_state()
            self.eps[loop].append(body)
            self.eps[self.compile(node.item, body)].append(loop)
            exit_ = self.new_state()
            self.eps[loop].append(exit_)
            return exit_
        # Optional copies nested as x(x(x)?)?: each may skip to the common exit.
        exit_ = self.new_state()
        for _ in range(node.max - node.min):
            self.eps[entry].append(exit_)
            entry = self.compile(node.item, entry)
        self.eps[entry].append(exit_)
        return exit_


@functools.lru_cache(maxsize=4096)
def _charset_sequences(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """UTF-8 byte-range sequences of a character set (memoized: sets repeat within patterns)."""
    return tuple(seq for lo, hi in ranges for seq in utf8_sequences(lo, hi))


@functools.lru_cache(maxsize=4096)
def _charset_template(ranges: tuple[tuple[int, int], ...]) -> tuple[int, tuple]:
    """The states of one character set, to be stamped out for each occurrence.

    Returns (number of internal states, edges `(src, lo, hi, dst)`) over local states: 0 is the
    entry, 1..internal the internal states, internal+1 the exit. Sequences that share a prefix
    share its states (a small byte trie).
    """
    trie: dict[tuple[int, int, int], int] = {}
    prefix_edges: list[tuple[int, int, int, int]] = []
    last_edges: list[tuple[int, int, int]] = []
    for seq in _charset_sequences(ranges):
        state = 0
        for lo, hi in seq[:-1]:
            nxt = trie.get((state, lo, hi))
            if nxt is None:
                nxt = trie[(state, lo, hi)] = len(trie) + 1
                prefix_edges.append((state, lo, hi, nxt))
            state = nxt
        last_edges.append((state, seq[-1][0], seq[-1][1]))
    exit_ = len(trie) + 1
    return len(trie), tuple(prefix_edges) + tuple((s, lo, hi, exit_) for s, lo, hi in last_edges)


def _check_size(node: hir.Node, limit: int, pattern: str | None) -> None:
    """Raise PatternTooComplex if the NFA for `node` would have more than `limit` states."""
    memo: dict[int, int] = {}

    def size(n: hir.Node) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if isinstance(n, hir.CharSet):
            s = 1 + sum(len(seq) for seq in _charset_sequences(n.ranges))
        elif isinstance(n, (hir.Concat, hir.Alternation)):
            s = 1 + sum(size(i) for i in n.items) + len(n.items)
        elif isinstance(n, hir.Repeat):
            copies = n.min + 1 if n.max is None else n.max  # as `_repeat` builds it
            s = 3 + copies * size(n.item)
            if s > limit:
                raise PatternTooComplex(
                    f"repetition needs about {s:,} automaton states, over the limit of "
                    f"{limit:,}", pattern, n.pos)
        else:
            s = 1
        memo[key] = s
        return s

    try:
        total = size(node)
    except RecursionError:
        raise PatternTooComplex("pattern nested too deeply", pattern, None) from None
    if total > limit:
        raise PatternTooComplex(
            f"pattern needs about {total:,} automaton states, over the limit of {limit:,}",
            pattern, None)
