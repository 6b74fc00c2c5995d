"""Lazy DFA over byte classes, determinized from a byte-level NFA on demand.

Invariants of an `Automaton`:
- State 0 is the dead state: it rejects, and every byte leads from it back to 0. No other state
  is dead: each non-dead state is a non-empty set of pruned NFA states, so some byte string
  leads from it to acceptance.
- A state is identified by its sorted tuple of NFA states (`key(state)`), which depends only on
  the pattern: the same pattern gives the same keys in every process.
- Bytes are grouped into classes (`byte_class[b]`) that no NFA edge distinguishes; the transition
  row of a state has one entry per class.
- A state's row is computed the first time it is asked for (`expand`); `rows[s]` is only
  meaningful where `expanded[s]`. States are numbered in discovery order.
- At most `max_states` states are ever created; one more raises `PatternTooComplex`.
"""

from __future__ import annotations

import numpy as np

from decoding.errors import PatternTooComplex
from decoding.nfa import NFA

DEAD = 0
DEFAULT_MAX_DFA_STATES = 100_000


class Automaton:
    """A deterministic automaton over UTF-8 bytes, built lazily from an NFA."""

    def __init__(self, nfa: NFA, *, max_states: int = DEFAULT_MAX_DFA_STATES,
                 pattern: str | None = None):
        self.nfa = nfa
        self.max_states = max_states
        self.pattern = pattern
        self.byte_class, self.num_classes = _byte_classes(nfa)
        self._closures: dict[int, tuple[int, ...]] = {}
        self._class_edges = [self._to_class_edges(edges) for edges in nfa.byte_edges]
        self._keys: list[tuple[int, ...]] = [()]
        self._ids: dict[tuple[int, ...], int] = {(): DEAD}
        self._by_targets: dict[frozenset[int], int] = {}
        self.accepting = np.zeros(16, dtype=bool)
        self.expanded = np.zeros(16, dtype=bool)
        self.rows = np.zeros((16, self.num_classes), dtype=np.int32)
        self.expanded[DEAD] = True
        self.initial_state = self._intern(self._closure_of([nfa.start]))

    @property
    def num_states(self) -> int:
        return len(self._keys)

    def key(self, state: int) -> tuple[int, ...]:
        """The sorted NFA states that make up `state` (stable across processes)."""
        return self._keys[state]

    def state_for_key(self, key: tuple[int, ...]) -> int:
        """The state made of exactly these NFA states, created if new."""
        return self._intern(tuple(key))

    def is_accepting(self, state: int) -> bool:
        return bool(self.accepting[state])

    def expand(self, state: int) -> np.ndarray:
        """The transition row of `state` (one target per byte class), computed once."""
        if not self.expanded[state]:
            self._compute_row(state)
        return self.rows[state]

    def expand_all(self, states: np.ndarray) -> None:
        """Make sure every state in the array has its row."""
        for s in set(states[~self.expanded[states]].tolist()):
            self._compute_row(s)

    def step(self, state: int, byte: int) -> int:
        return int(self.expand(state)[self.byte_class[byte]])

    def walk(self, state: int, data: bytes) -> int:
        """The state after reading `data` from `state` (DEAD if it fails anywhere)."""
        for b in data:
            if state == DEAD:
                return DEAD
            state = self.step(state, b)
        return state

    def has_continuation(self, state: int) -> bool:
        """Whether any byte leads from `state` to a non-dead state."""
        return bool(self.expand(state).any())

    # -- construction -------------------------------------------------------------------

    def _to_class_edges(self, edges: tuple[tuple[int, int, int], ...]) -> tuple:
        bc = self.byte_class
        return tuple((int(bc[lo]), int(bc[hi]), t) for lo, hi, t in edges)

    def _closure_of(self, states) -> tuple[int, ...]:
        """Sorted NFA states with byte edges (or the match state) reachable by epsilons."""
        out: set[int] = set()
        for s in states:
            c = self._closures.get(s)
            if c is None:
                c = self._closures[s] = self._compute_closure(s)
            out.update(c)
        return tuple(sorted(out))

    def _compute_closure(self, root: int) -> tuple[int, ...]:
        nfa = self.nfa
        seen = {root}
        stack = [root]
        important = []
        while stack:
            s = stack.pop()
            if nfa.byte_edges[s] or s == nfa.match:
                important.append(s)
            for t in nfa.epsilons[s]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return tuple(important)

    def _intern(self, key: tuple[int, ...]) -> int:
        sid = self._ids.get(key)
        if sid is not None:
            return sid
        sid = len(self._keys)
        if sid >= self.max_states:
            raise PatternTooComplex(
                f"the automaton needs more than {self.max_states:,} states "
                f"(raise max_states to allow more)", self.pattern, None)
        if sid >= len(self.accepting):
            self._grow()
        self._keys.append(key)
        self._ids[key] = sid
        self.accepting[sid] = self.nfa.match in key
        return sid

    def _grow(self) -> None:
        n = len(self.accepting) * 2
        extra = np.zeros(n - len(self.accepting), dtype=bool)
        self.accepting = np.concatenate([self.accepting, extra])
        self.expanded = np.concatenate([self.expanded, extra])
        rows = np.zeros((n, self.num_classes), dtype=np.int32)
        rows[: len(self.rows)] = self.rows
        self.rows = rows

    def _compute_row(self, state: int) -> None:
        buckets: list[set[int] | None] = [None] * self.num_classes
        for s in self._keys[state]:
            for clo, chi, t in self._class_edges[s]:
                for c in range(clo, chi + 1):
                    b = buckets[c]
                    if b is None:
                        buckets[c] = {t}
                    else:
                        b.add(t)
        row = np.zeros(self.num_classes, dtype=np.int32)
        for c, targets in enumerate(buckets):
            if targets:
                frozen = frozenset(targets)
                sid = self._by_targets.get(frozen)
                if sid is None:
                    sid = self._by_targets[frozen] = self._intern(self._closure_of(targets))
                row[c] = sid
        self.rows[state] = row
        self.expanded[state] = True


def _byte_classes(nfa: NFA) -> tuple[np.ndarray, int]:
    """Map each byte to a class so that no NFA edge separates two bytes of one class."""
    cuts = np.zeros(257, dtype=bool)
    for edges in nfa.byte_edges:
        for lo, hi, _ in edges:
            cuts[lo] = True
            cuts[hi + 1] = True
    cuts[0] = False
    classes = np.cumsum(cuts[:256]).astype(np.int32)
    return classes, int(classes[-1]) + 1
