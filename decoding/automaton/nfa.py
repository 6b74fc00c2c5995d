"""HIR -> Thompson NFA over UTF-8 bytes.

Invariants of a built `NFA`:
- States are ints 0..n-1. `start` is the start state, `match` the single accepting state.
- Each state has epsilon edges (`epsilons(s)`) and byte edges (`byte_edges(s)`: inclusive byte
  ranges `(lo, hi, target)`); the match state has neither. They are stored as compressed rows
  of flat int lists, in the order the construction added them.
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

import numpy as np

from decoding.automaton import hir
from decoding.automaton.utf8 import utf8_sequences
from decoding.errors import EmptyLanguage, PatternTooComplex

DEFAULT_MAX_NFA_STATES = 1_000_000


@dataclass(frozen=True)
class NFA:
    """The automaton's graph in compressed rows, as flat lists of ints (a few objects whatever
    the size, so the garbage collector never walks the graph); never modified after building.

    State s's epsilon targets are `eps_targets[eps_offsets[s]:eps_offsets[s + 1]]`; its byte
    edges are `edge_lo[i]..edge_hi[i] -> edge_target[i]` for i in `edge_offsets[s]` to
    `edge_offsets[s + 1]` (exclusive).
    """

    start: int
    match: int
    eps_offsets: list[int]
    eps_targets: list[int]
    edge_offsets: list[int]
    edge_lo: list[int]
    edge_hi: list[int]
    edge_target: list[int]

    @property
    def num_states(self) -> int:
        return len(self.eps_offsets) - 1

    def epsilons(self, state: int) -> list[int]:
        return self.eps_targets[self.eps_offsets[state]:self.eps_offsets[state + 1]]

    def byte_edges(self, state: int) -> list[tuple[int, int, int]]:
        """The byte edges `(lo, hi, target)` of `state`."""
        i, j = self.edge_offsets[state], self.edge_offsets[state + 1]
        return list(zip(self.edge_lo[i:j], self.edge_hi[i:j], self.edge_target[i:j]))


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
    builder.epsilon(end, match)
    return builder.finish(start, match)


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
    """Collects edges as parallel flat lists (source, ...), grouped by source at the end."""

    def __init__(self) -> None:
        self.num_states = 0
        self.eps_src: list[int] = []
        self.eps_dst: list[int] = []
        self.edge_src: list[int] = []
        self.edge_lo: list[int] = []
        self.edge_hi: list[int] = []
        self.edge_dst: list[int] = []

    def new_state(self) -> int:
        self.num_states += 1
        return self.num_states - 1

    def epsilon(self, src: int, dst: int) -> None:
        self.eps_src.append(src)
        self.eps_dst.append(dst)

    def finish(self, start: int, match: int) -> NFA:
        n = self.num_states
        eps_offsets, eps_order = _grouped(self.eps_src, n)
        edge_offsets, edge_order = _grouped(self.edge_src, n)
        pick = lambda values, order: np.asarray(values, dtype=np.int64)[order].tolist()  # noqa
        return NFA(start, match, eps_offsets, pick(self.eps_dst, eps_order), edge_offsets,
                   pick(self.edge_lo, edge_order), pick(self.edge_hi, edge_order),
                   pick(self.edge_dst, edge_order))

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
                self.epsilon(entry, branch)
                self.epsilon(self.compile(item, branch), exit_)
            return exit_
        if isinstance(node, hir.Repeat):
            return self._repeat(node, entry)
        if isinstance(node, hir.Empty):
            return entry
        raise TypeError(f"not a HIR node: {node!r}")

    def _charset(self, node: hir.CharSet, entry: int) -> int:
        internal, edges = _charset_template(node.ranges)
        base = self.num_states  # local state k >= 1 becomes base + k - 1; local 0 is `entry`
        self.num_states += internal + 1
        for src, lo, hi, dst in edges:
            self.edge_src.append(entry if src == 0 else base + src - 1)
            self.edge_lo.append(lo)
            self.edge_hi.append(hi)
            self.edge_dst.append(base + dst - 1)
        return base + internal  # the exit, the last local state

    def _repeat(self, node: hir.Repeat, entry: int) -> int:
        entry = self._copies(node.item, entry, node.min)[1]
        if node.max is None:
            # entry -> loop -(item)-> back to loop; loop -> exit
            loop = self.new_state()
            self.epsilon(entry, loop)
            body = self.new_state()
            self.epsilon(loop, body)
            self.epsilon(self.compile(node.item, body), loop)
            exit_ = self.new_state()
            self.epsilon(loop, exit_)
            return exit_
        # Optional copies nested as x(x(x)?)?: each may skip to the common exit.
        exit_ = self.new_state()
        entries, last = self._copies(node.item, entry, node.max - node.min)
        for start in entries:
            self.epsilon(start, exit_)
        self.epsilon(last, exit_)
        return exit_

    def _copies(self, item: hir.Node, entry: int, count: int) -> tuple[list[int], int]:
        """Add `count` copies of `item` one after another from `entry`; return each copy's
        entry and the last copy's exit. The states and edges are those of compiling the item
        `count` times; copies after the first are stamped out from the first with numpy."""
        if count == 0:
            return [], entry
        base, eps_at, edge_at = self.num_states, len(self.eps_src), len(self.edge_src)
        exit_ = self.compile(item, entry)
        span = self.num_states - base  # states per copy; copy j's state x + j * span
        if count == 1 or span == 0 or exit_ == entry:
            entries = [entry]
            for _ in range(count - 1):
                entries.append(exit_)
                exit_ = self.compile(item, exit_)
            return entries, exit_
        shift = np.arange(1, count, dtype=np.int64)[:, None] * span
        starts = exit_ + shift - span  # copy j starts where copy j - 1 ends

        def stamped(states: list[int]) -> list[int]:
            first = np.asarray(states, dtype=np.int64)
            return np.where(first == entry, starts, first + shift).ravel().tolist()

        def repeated(values: list[int]) -> list[int]:
            return values * (count - 1)

        self.eps_src += stamped(self.eps_src[eps_at:])
        self.eps_dst += stamped(self.eps_dst[eps_at:])
        self.edge_src += stamped(self.edge_src[edge_at:])
        self.edge_lo += repeated(self.edge_lo[edge_at:])
        self.edge_hi += repeated(self.edge_hi[edge_at:])
        self.edge_dst += stamped(self.edge_dst[edge_at:])
        self.num_states += (count - 1) * span
        return [entry, *starts.ravel().tolist()], exit_ + (count - 1) * span


def _grouped(sources: list[int], num_states: int) -> tuple[list[int], np.ndarray]:
    """(offsets, order): `order` sorts the edges by source, keeping each source's edges in the
    order they were added; source s's edges are `order[offsets[s]:offsets[s + 1]]`."""
    src = np.asarray(sources, dtype=np.int64)
    offsets = np.zeros(num_states + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=num_states), out=offsets[1:])
    return offsets.tolist(), np.argsort(src, kind="stable")


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
