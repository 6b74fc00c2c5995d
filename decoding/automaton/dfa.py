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
- A state is accepting iff its key holds the NFA's match state (`match`).

Restoring (what the disk cache uses): `Automaton.restored` makes an automaton from its byte
classes, match state and initial key alone, with the NFA built by a factory only when a row must
be computed; the NFA is then checked against what was restored (`RestoreMismatch` if it
disagrees). `restore` adds states by key, with rows computed elsewhere, to any automaton of the
same pattern; rows it already has are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from decoding.automaton.nfa import NFA
from decoding.errors import PatternTooComplex, RestoreMismatch

DEAD = 0
DEFAULT_MAX_DFA_STATES = 100_000


class Automaton:
    """A deterministic automaton over UTF-8 bytes, built lazily from an NFA."""

    def __init__(self, nfa: NFA, *, max_states: int = DEFAULT_MAX_DFA_STATES,
                 pattern: str | None = None):
        byte_class, num_classes = _byte_classes(nfa)
        self._setup(byte_class, num_classes, nfa.match, max_states, pattern)
        self._attach(nfa)
        self.initial_state = self._intern(self._closure_of([nfa.start]))

    @classmethod
    def restored(cls, byte_class: np.ndarray, match: int, initial_key: Sequence[int],
                 build_nfa: Callable[[], NFA], *, max_states: int = DEFAULT_MAX_DFA_STATES,
                 pattern: str | None = None) -> "Automaton":
        """The automaton of the NFA that `build_nfa` returns, made without calling it.

        `byte_class`, `match` and `initial_key` are what `byte_class`, `match` and
        `key(initial_state)` were for that NFA. `build_nfa` is called the first time a row must
        be computed; a result that disagrees raises `RestoreMismatch` then. Raises ValueError
        for byte classes that are not 256 non-decreasing steps of 0 or 1 starting at 0.
        """
        byte_class = np.asarray(byte_class)
        steps = np.diff(byte_class)
        if byte_class.shape != (256,) or byte_class[0] != 0 or not np.isin(steps, (0, 1)).all():
            raise ValueError("byte classes must be 256 non-decreasing steps of 0 or 1 from 0")
        self = cls.__new__(cls)
        self._setup(byte_class.astype(np.int32), int(byte_class[-1]) + 1, int(match),
                    max_states, pattern)
        self._nfa_factory = build_nfa
        key = np.asarray(initial_key)
        if not valid_keys(key, np.array([len(key)])) or len(key) == 0:
            raise ValueError("the initial key must be non-empty, strictly increasing NFA states")
        self.initial_state = self._intern(tuple(key.tolist()))
        return self

    def _setup(self, byte_class: np.ndarray, num_classes: int, match: int, max_states: int,
               pattern: str | None) -> None:
        self.max_states = max_states
        self.pattern = pattern
        self.byte_class, self.num_classes = byte_class, num_classes
        self.match = match
        self._nfa: NFA | None = None
        self._nfa_factory: Callable[[], NFA] | None = None
        self._edge_clo: list[int] = []  # each NFA byte edge's range as byte classes
        self._edge_chi: list[int] = []
        self._closures: dict[int, tuple[int, ...]] = {}
        self._keys: list[tuple[int, ...]] = [()]
        self._ids: dict[tuple[int, ...], int] = {(): DEAD}
        self._by_targets: dict[frozenset[int], int] = {}
        self.accepting = np.zeros(16, dtype=bool)
        self.expanded = np.zeros(16, dtype=bool)
        self.rows = np.zeros((16, num_classes), dtype=np.int32)
        self.expanded[DEAD] = True

    def _attach(self, nfa: NFA) -> None:
        self._nfa = nfa
        self._edge_clo = self.byte_class[nfa.edge_lo].tolist()
        self._edge_chi = self.byte_class[nfa.edge_hi].tolist()

    @property
    def nfa(self) -> NFA:
        """The NFA (built now if this automaton was restored without it)."""
        if self._nfa is None:
            self._build_restored_nfa()
        return self._nfa

    @property
    def nfa_built(self) -> bool:
        """Whether the NFA exists yet (False for a restored automaton that never needed it)."""
        return self._nfa is not None

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

    def restore(self, key_flat: np.ndarray, key_ends: np.ndarray, rows: np.ndarray,
                expanded: np.ndarray) -> np.ndarray:
        """Add saved states and the rows known for them; return their ids in this automaton.

        Saved state i has the key `key_flat[key_ends[i-1]:key_ends[i]]` (state 0 must be the dead
        state: an empty key) and the row `rows[i]` (one target per byte class, given as saved
        state indices), used where `expanded[i]` and this automaton has no row for it yet.
        Raises `PatternTooComplex`, adding nothing, when the new states would pass `max_states`,
        and ValueError for malformed input.
        """
        flat = np.asarray(key_flat)
        ends = np.asarray(key_ends)
        rows = np.asarray(rows)
        expanded = np.asarray(expanded)
        n = len(ends)
        if not valid_keys(flat, ends) or n == 0 or ends[0] != 0 \
                or rows.shape != (n, self.num_classes) or expanded.shape != (n,) \
                or expanded.dtype != bool or rows.min() < 0 or rows.max() >= n:
            raise ValueError("restore needs sorted keys starting with the dead state's empty "
                             "key, rows of one target per byte class indexing those keys, and "
                             "one expanded flag per key")
        if self._nfa is not None and len(flat) and flat.max() >= self._nfa.num_states:
            raise ValueError("restore got a key naming a state the NFA does not have")
        values = flat.tolist()
        bounds = [0, *ends.tolist()]
        keys = [tuple(values[bounds[i]:bounds[i + 1]]) for i in range(n)]
        new = {k for k in keys if k not in self._ids}
        if self.num_states + len(new) > self.max_states:
            raise PatternTooComplex(
                f"restoring {len(new):,} saved states would pass the limit of "
                f"{self.max_states:,} states", self.pattern, None)
        ids = np.fromiter(map(self._intern, keys), dtype=np.int32, count=n)
        take = expanded & ~self.expanded[ids]
        self.rows[ids[take]] = ids[rows[take]]
        self.expanded[ids[take]] = True
        return ids

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

    def _closure_of(self, states) -> tuple[int, ...]:
        """Sorted NFA states with byte edges (or the match state) reachable by epsilons."""
        out: set[int] = set()
        for s in states:
            c = self._closures.get(s)
            if c is None:
                c = self._closures[s] = self._compute_closure(s)
            out.update(c)
        return tuple(sorted(out))

    def _build_restored_nfa(self) -> None:
        nfa = self._nfa_factory()
        problem = None
        if nfa.match != self.match:
            problem = "match state"
        elif not np.array_equal(_byte_classes(nfa)[0], self.byte_class):
            problem = "byte classes"
        elif max((k[-1] for k in self._keys if k), default=-1) >= nfa.num_states:
            problem = "state keys"
        if problem is None:
            self._attach(nfa)
            if self._closure_of([nfa.start]) != self._keys[self.initial_state]:
                self._nfa, self._closures = None, {}
                problem = "initial state"
        if problem is not None:
            raise RestoreMismatch(
                f"the restored automaton of pattern {self.pattern!r} does not match its NFA "
                f"({problem} differ); the cache holds stale data: clear it "
                "(`typedecode cache clear`)")

    def _compute_closure(self, root: int) -> tuple[int, ...]:
        nfa = self.nfa
        edge_offsets, eps_offsets, eps_targets = nfa.edge_offsets, nfa.eps_offsets, nfa.eps_targets
        seen = {root}
        stack = [root]
        important = []
        while stack:
            s = stack.pop()
            if edge_offsets[s] != edge_offsets[s + 1] or s == nfa.match:
                important.append(s)
            for t in eps_targets[eps_offsets[s]:eps_offsets[s + 1]]:
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
        self.accepting[sid] = self.match in key
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
        if self._nfa is None:
            self._build_restored_nfa()
        buckets: list[set[int] | None] = [None] * self.num_classes
        nfa = self._nfa
        offsets, targets, clo, chi = nfa.edge_offsets, nfa.edge_target, self._edge_clo, \
            self._edge_chi
        for s in self._keys[state]:
            for i in range(offsets[s], offsets[s + 1]):
                t = targets[i]
                for c in range(clo[i], chi[i] + 1):
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


def valid_keys(flat: np.ndarray, ends: np.ndarray) -> bool:
    """Whether `ends` cuts the 1-D integer array `flat` into state keys (strictly increasing runs
    of values >= 0); key i is `flat[ends[i-1]:ends[i]]`, the first starting at 0."""
    if flat.ndim != 1 or ends.ndim != 1 or flat.dtype.kind not in "iu" \
            or ends.dtype.kind not in "iu":
        return False
    if not len(ends):
        return not len(flat)
    if ends[-1] != len(flat) or ends.min() < 0 or (np.diff(ends) < 0).any():
        return False
    if not len(flat):
        return True
    rising = np.ones(len(flat), dtype=bool)
    rising[1:] = flat[1:] > flat[:-1]
    rising[ends[ends < len(flat)]] = True  # each key's first value starts afresh
    return bool(rising.all() and flat.min() >= 0)


def _byte_classes(nfa: NFA) -> tuple[np.ndarray, int]:
    """Map each byte to a class so that no NFA edge separates two bytes of one class."""
    cuts = np.zeros(257, dtype=bool)
    cuts[np.asarray(nfa.edge_lo, dtype=np.int64)] = True
    cuts[np.asarray(nfa.edge_hi, dtype=np.int64) + 1] = True
    cuts[0] = False
    classes = np.cumsum(cuts[:256]).astype(np.int32)
    return classes, int(classes[-1]) + 1
