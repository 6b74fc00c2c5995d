"""HIR -> Thompson NFA over UTF-8 bytes.

Invariants of a built `NFA`:
- States are ints 0..n-1. `start` is the start state, `match` the single accepting state.
- Each state has epsilon edges (`epsilons[s]`) and byte edges (`byte_edges[s]`: inclusive byte
  ranges `(lo, hi, target)`); the match state has neither.
- Only valid UTF-8 encodings of the HIR's strings lead from `start` to `match`.
- Pruned: every state kept is reachable from `start` and can reach `match`; edges into states that
  cannot reach `match` are removed. So a non-empty set of NFA states always has a continuation.
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
    start: int
    match: int
    epsilons: tuple[tuple[int, ...], ...]
    byte_edges: tuple[tuple[tuple[int, int, int], ...], ...]

    @property
    def num_states(self) -> int:
        return len(self.epsilons)


def build_nfa(node: hir.Node, *, pattern: str | None = None,
              max_states: int = DEFAULT_MAX_NFA_STATES) -> NFA:
    """Compile the HIR into a pruned byte-level NFA (see module invariants)."""
    _check_size(node, max_states, pattern)
    builder = _Builder()
    start = builder.new_state()
    end = builder.compile(node, start)
    match = builder.new_state()
    builder.eps[end].append(match)
    return _prune(builder, start, match, pattern)


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
        exit_ = self.new_state()
        # Share states between sequences with a common prefix (a small byte trie).
        trie: dict[tuple[int, int, int], int] = {}
        for seq in _charset_sequences(node.ranges):
            state = entry
            for blo, bhi in seq[:-1]:
                key = (state, blo, bhi)
                nxt = trie.get(key)
                if nxt is None:
                    nxt = trie[key] = self.new_state()
                    self.edges[state].append((blo, bhi, nxt))
                state = nxt
            self.edges[state].append((seq[-1][0], seq[-1][1], exit_))
        return exit_

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
            copies = n.min + 2 if n.max is None else n.max + 1
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


def _prune(b: _Builder, start: int, match: int, pattern: str | None) -> NFA:
    n = len(b.eps)
    forward: list[list[int]] = [b.eps[s] + [t for _, _, t in b.edges[s]] for s in range(n)]
    reachable = _reach([start], forward)
    backward: list[list[int]] = [[] for _ in range(n)]
    for s in range(n):
        for t in forward[s]:
            backward[t].append(s)
    live = _reach([match], backward)
    keep = [s for s in range(n) if reachable[s] and live[s]]
    if not live[start]:
        raise EmptyLanguage("the pattern matches no string", pattern, None)
    renumber = {old: new for new, old in enumerate(keep)}
    eps = tuple(tuple(renumber[t] for t in b.eps[s] if t in renumber) for s in keep)
    edges = tuple(tuple((lo, hi, renumber[t]) for lo, hi, t in b.edges[s] if t in renumber)
                  for s in keep)
    return NFA(renumber[start], renumber[match], eps, edges)


def _reach(roots: list[int], graph: list[list[int]]) -> list[bool]:
    seen = [False] * len(graph)
    stack = list(roots)
    for r in roots:
        seen[r] = True
    while stack:
        s = stack.pop()
        for t in graph[s]:
            if not seen[t]:
                seen[t] = True
                stack.append(t)
    return seen
