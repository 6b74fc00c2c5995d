"""Lazy DFA over byte classes whose states are expressions, built by derivatives on demand.

Invariants of an `Automaton`:
- State 0 is the dead state: it rejects, and every byte leads from it back to 0. No other state
  is dead: a state is a non-empty expression (`expr.is_empty` is checked for `&` and `~`), so
  some byte string leads from it to acceptance.
- A state's key (`key(state)`) is four 31-bit integers taken from its expression's digest; it
  depends only on the expression, so the same pattern gives the same keys in every process.
- Bytes are grouped into classes (`byte_class[b]`, numbered in byte order) such that no byte set
  met in the initial expression or its derivatives separates two bytes of one class; the
  transition row of a state has one entry per class.
- A state's row is computed the first time it is asked for (`expand`): from its expression's
  derivative classes (`expr.derivative_classes`: one target per distinct derivative, the parts'
  classes memoized, so states that share a part share its work), or, for an expression with
  `&` or `~`, one derivative per run of classes it distinguishes (none for a state `cat(B, r)`
  that starts with a byte set B, a literal's next byte: every byte of B leads to r, every other
  to the dead state); `rows[s]` is only meaningful where
  `expanded[s]` (before, it is all DEAD). States are numbered in discovery order and never
  renumbered.
- At most `max_states` states are ever created; one more raises `PatternTooComplex`, and so does
  computing one state's row when it would create more than `decoding.limits` `state_nodes`
  expression nodes (read when the automaton is made). An initial
  expression with no string at all raises `EmptyLanguage`.
- A state is accepting iff its expression is nullable.

Restoring (what the disk cache uses): `Automaton.restored` makes an automaton from its byte
classes and initial key alone, with the expression built by a factory only when a row must be
computed (its key is checked then: `RestoreMismatch`). `restore` adds states by key, with rows
computed elsewhere; `from_saved` does both at once for a whole saved automaton, numbering its
states as saved (bulk array copies; key tuples and the key lookup table made only when a
state is looked up by key or added). A restored state's expression is
found, when first needed, by deriving along the recorded way it was reached (a row from a state
whose expression is known, or a token's bytes given by `restore`'s `origins`; the ways through
restored rows are worked out when an expression is first derived), each step checked against
the saved key.

Threads: an automaton may be shared (`compile` gives every guide of a pattern the same one).
Everything that adds states, computes rows or links expressions holds the automaton's `lock`
(reentrant; one per automaton, so patterns never wait for each other); reading a row that exists
takes no lock (`expand` checks `expanded` first, and takes the lock only to compute). The arrays
`rows`, `expanded` and `accepting` are copy-on-write at growth: `_grow` fills new, larger
arrays under the lock and then publishes them, and never writes to the old ones again, so a reader
still holding an old array (a vocabulary walk between two levels) sees every row that existed
when it took the array, and any array it takes later holds every row it saw before. A row is
written before its `expanded` flag, so a flag read as True means the row is there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from decoding import limits
from decoding.automaton.expr import (
    BYTES,
    CAT,
    EMPTY,
    NOTHING,
    Expr,
    boundaries,
    byte_cuts,
    capped,
    derivative,
    derivative_classes,
    first_bytes,
    is_empty,
    node_budget,
    set_boundaries,
)
from decoding.errors import EmptyLanguage, PatternTooComplex, RestoreMismatch

DEAD = 0
DEFAULT_MAX_DFA_STATES = limits.Limits.dfa_states  # the setting's default (`decoding.limits`)
KEY_WIDTH = 4
_FEW_STATES = 64  # `expand_all`: up to this many states are checked without numpy


def expr_key(e: Expr) -> tuple[int, ...]:
    """The stable key of an expression's state (see the module docstring)."""
    h1, h2 = e.digest
    return (h1 & 0x7FFFFFFF, (h1 >> 31) & 0x7FFFFFFF, h2 & 0x7FFFFFFF, (h2 >> 31) & 0x7FFFFFFF)


class Automaton:
    """A deterministic automaton over UTF-8 bytes whose states are expressions."""

    def __init__(self, expression: Expr, *, max_states: int = DEFAULT_MAX_DFA_STATES,
                 pattern: str | None = None):
        self._setup(_byte_classes(expression), max_states, pattern)
        self._expr_factory = None
        self._initial_expr = expression
        self.initial_state = self._intern(expression)
        if self.initial_state == DEAD:
            raise EmptyLanguage("the pattern matches no string", pattern, None)

    @classmethod
    def restored(cls, byte_class: np.ndarray, initial_key: Sequence[int],
                 build_expr: Callable[[], Expr], *, max_states: int = DEFAULT_MAX_DFA_STATES,
                 pattern: str | None = None) -> "Automaton":
        """The automaton of the expression that `build_expr` returns, made without calling it.

        `byte_class` and `initial_key` are what `byte_class` and `key(initial_state)` were for
        that expression. `build_expr` is called the first time an expression is needed; one
        whose key or byte classes disagree raises `RestoreMismatch` then. Raises ValueError
        for byte classes that are not 256 non-decreasing steps of 0 or 1 starting at 0, or a
        key that is not a state key.
        """
        byte_class = np.asarray(byte_class).astype(np.int32)
        if byte_class.shape != (256,) or byte_class[0] != 0 \
                or ((byte_class[1:] - byte_class[:-1]) & -2).any():  # each step 0 or 1
            raise ValueError("byte classes must be 256 non-decreasing steps of 0 or 1 from 0")
        key = tuple(np.asarray(initial_key).tolist())
        if len(key) != KEY_WIDTH or min(key) < 0:
            raise ValueError(f"the initial key must be {KEY_WIDTH} non-negative integers")
        self = cls.__new__(cls)
        self._setup(byte_class, max_states, pattern)
        self._expr_factory = build_expr
        self._initial_expr = None
        self.initial_state = self._add_key(key)
        return self

    @classmethod
    def from_saved(cls, byte_class: np.ndarray, initial: int, keys: np.ndarray,
                   rows: np.ndarray, expanded: np.ndarray, accepting: np.ndarray,
                   build_expr: Callable[[], Expr], *, max_states: int = DEFAULT_MAX_DFA_STATES,
                   pattern: str | None = None, checked: bool = False) -> "Automaton":
        """`restored` followed by `restore` of every saved state, in one step and numbered as
        saved: state i is saved state i (0 the dead state), `initial` the initial state. What
        a process that has no automaton of the pattern yet makes of a saved one, with no Python
        work per state: the keys stay one array until a state is looked up by key or added.

        `keys` int [n-1, KEY_WIDTH]: the keys of states 1..n-1; `rows` [n, classes] (targets
        are state numbers), used where `expanded[i]`; `accepting` [n]. Raises ValueError for
        malformed input (as `restored` and `restore` do) and `PatternTooComplex` past
        `max_states`. `checked`: the caller has checked what `decoding.persist.snapshot.parse`
        checks (dtypes, shapes, keys >= 0, initial and row targets in range), so only the
        byte classes, the row width and the keys' uniqueness are checked here.
        """
        n = len(rows)
        if not checked:
            keys, rows = np.asarray(keys), np.asarray(rows)
            expanded, accepting = np.asarray(expanded), np.asarray(accepting)
            if not 0 < initial < n or keys.shape != (n - 1, KEY_WIDTH) \
                    or keys.dtype.kind not in "iu" or rows.ndim != 2 or expanded.shape != (n,) \
                    or accepting.shape != (n,) or expanded.dtype != bool \
                    or accepting.dtype != bool or not indexes_below(rows, n) \
                    or (n > 1 and keys.min() < 0):
                raise ValueError("saved states need a key of the state width each, rows "
                                 "indexing the states, and one expanded and accepting flag "
                                 "per state")
        self = cls.restored(byte_class, keys[initial - 1], build_expr, max_states=max_states,
                            pattern=pattern)
        if rows.shape[1] != self.num_classes:
            raise ValueError("saved rows need one target per byte class")
        if n > max_states:
            raise PatternTooComplex(
                f"restoring {n - 1:,} saved states would pass the limit of {max_states:,} states",
                pattern, None)
        flat_keys = np.ascontiguousarray(keys, dtype=np.int32)
        if _repeats_a_key(flat_keys):
            raise ValueError("saved states repeat a key")
        size = max(16, 1 << (n - 1).bit_length())
        self.rows = np.zeros((size, self.num_classes), dtype=np.int32)
        self.rows[1:n] = np.where(expanded[1:, None], rows[1:], DEAD)  # unexpanded: all DEAD
        self.expanded = np.zeros(size, dtype=bool)
        self.expanded[:n] = expanded
        self.expanded[DEAD] = True
        self.accepting = np.zeros(size, dtype=bool)
        self.accepting[1:n] = accepting[1:]
        self._keys = self._by_key = None  # made from `_flat_keys` when needed (`_key_table`)
        self._exprs = [NOTHING, *([None] * (n - 1))]
        self._flat_keys = flat_keys.reshape(-1)
        self._flat_count = n
        self.initial_state = initial
        self._unconnected = (np.flatnonzero(expanded[1:]) + 1).tolist()
        return self

    def _setup(self, byte_class: np.ndarray, max_states: int, pattern: str | None) -> None:
        self.lock = threading.RLock()  # held to add states, rows and expressions
        self.max_states = max_states
        self.max_nodes = limits.current().state_nodes
        self.pattern = pattern
        self.byte_class = byte_class
        self._byte_class_list: list[int] = byte_class.tolist()
        self.num_classes = int(byte_class[-1]) + 1
        starts = np.flatnonzero(byte_class[1:] != byte_class[:-1]) + 1  # and class 0 at 0
        self._class_start = [0, *starts.tolist()]
        self._spans_of: dict[int, list[tuple[int, int, int]]] = {}  # boundaries -> runs
        self._classes_of_set: dict[int, slice | np.ndarray] = {}  # `_classes_in`
        # State keys as tuples, and the state of each key; None (both) while every key is in
        # `_flat_keys` only (`from_saved`), until `_key_table` makes them.
        self._keys: list[tuple[int, ...]] | None = [()]
        self._flat_keys = np.zeros(0, dtype=np.int32)  # `flat_keys`: states 1 .. _flat_count-1
        self._flat_count = 1
        self._exprs: list[Expr | None] = [NOTHING]
        self._ids: dict[Expr, int] = {NOTHING: DEAD}
        self._by_key: dict[tuple[int, ...], int] | None = {(): DEAD}
        self._origin: dict[int, tuple[int, bytes]] = {}
        self._unconnected: list[int] = []  # restored states whose rows `_connect` has not read
        self.accepting = np.zeros(16, dtype=bool)
        self.expanded = np.zeros(16, dtype=bool)
        self.expanded[DEAD] = True
        self.rows = np.zeros((16, self.num_classes), dtype=np.int32)

    @property
    def expression_built(self) -> bool:
        """Whether the initial expression exists (False for a restored automaton that never
        needed it)."""
        return self._expr_factory is None

    @property
    def expression(self) -> Expr:
        """The initial state's expression (built now for a restored automaton)."""
        return self.expression_of(self.initial_state)

    @property
    def num_states(self) -> int:
        keys = self._keys
        return self._flat_count if keys is None else len(keys)

    def key(self, state: int) -> tuple[int, ...]:
        """The state's stable key (empty for the dead state)."""
        keys = self._keys
        if keys is not None:
            return keys[state]
        if not 0 <= state < self._flat_count:
            raise IndexError(f"state {state} out of range")
        return tuple(self._flat_keys[(state - 1) * KEY_WIDTH:state * KEY_WIDTH].tolist())

    def _key_table(self) -> tuple[list[tuple[int, ...]], dict[tuple[int, ...], int]]:
        """`_keys` and `_by_key`, made from `_flat_keys` the first time they are needed after
        `from_saved` (under the lock; `_by_key` is set first, so a thread that sees `_keys`
        sees both)."""
        if self._keys is None:
            with self.lock:
                if self._keys is None:
                    keys = [(), *map(tuple, self._flat_keys.reshape(-1, KEY_WIDTH).tolist())]
                    self._by_key = dict(zip(keys, range(len(keys))))
                    self._keys = keys
        return self._keys, self._by_key  # type: ignore[return-value]

    def flat_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys of every state so far, one after another (int32; the dead state's is
        empty), and where each ends (int64): new arrays, taken under the lock. Each key is
        turned into numbers once (a cache save takes them all, again and again)."""
        with self.lock:
            n = self.num_states
            if self._flat_count < n:  # so `_keys` is made
                fresh = np.array(self._keys[max(self._flat_count, 1):n], dtype=np.int32)
                self._flat_keys = np.concatenate((self._flat_keys, fresh.reshape(-1)))
                self._flat_count = n
            flat = self._flat_keys[:(n - 1) * KEY_WIDTH].copy()
        return flat, np.arange(n, dtype=np.int64) * KEY_WIDTH

    def rooted_states(self, keys: Sequence[tuple[int, ...]]) -> list[int] | None:
        """The states with these keys, or None unless every one exists and has its expression
        known or derivable (what `restore` with origins would make of them anyway)."""
        with self.lock:
            by_key = self._key_table()[1]
            ids = [by_key.get(k) for k in keys]
            if None in ids or not all(map(self._rooted, ids)):  # type: ignore[arg-type]
                return None
        return ids  # type: ignore[return-value]

    def is_accepting(self, state: int) -> bool:
        return bool(self.accepting[state])

    def expand(self, state: int) -> np.ndarray:
        """The transition row of `state` (one target per byte class), computed once."""
        if not self.expanded[state]:
            with self.lock:
                if not self.expanded[state]:
                    self._compute_row(state)
        return self.rows[state]

    def expand_all(self, states: np.ndarray) -> None:
        """Make sure every state in the array has its row (a few states, as a walk sets aside
        between rounds, are checked one by one: numpy's selection costs more than they do)."""
        if len(states) > _FEW_STATES:
            states = states[~self.expanded[states]]
        with self.lock:
            for s in dict.fromkeys(states.tolist()):
                if not self.expanded[s]:  # read again: a row computed since, or a grown array
                    self._compute_row(s)

    def restore(self, key_flat: np.ndarray, key_ends: np.ndarray, rows: np.ndarray,
                expanded: np.ndarray, origins: Sequence[tuple[int, bytes] | None] | None = None,
                accepting: np.ndarray | None = None) -> np.ndarray:
        """Add saved states and the rows known for them; return their ids in this automaton.

        Saved state i has the key `key_flat[key_ends[i-1]:key_ends[i]]` (state 0 must be the dead
        state: an empty key) and the row `rows[i]` (one target per byte class, given as saved
        state indices), used where `expanded[i]` and this automaton has no row for it yet.
        `accepting[i]` says whether it accepts (default: known only once its expression is).
        `origins[i]`, when given, is (a state of this automaton, bytes leading from it to
        state i). Raises `PatternTooComplex`, adding nothing, when the new states would pass
        `max_states`, and ValueError for malformed input.
        """
        flat, ends = np.asarray(key_flat), np.asarray(key_ends)
        rows, expanded = np.asarray(rows), np.asarray(expanded)
        n = len(ends)
        if not valid_keys(flat, ends) or n == 0 or ends[0] != 0 \
                or (np.diff(ends) != KEY_WIDTH).any() \
                or rows.shape != (n, self.num_classes) or expanded.shape != (n,) \
                or expanded.dtype != bool or not indexes_below(rows, n) \
                or (accepting is not None and np.asarray(accepting).shape != (n,)) \
                or (origins is not None and len(origins) != n):
            raise ValueError("restore needs keys of the state width starting with the dead "
                             "state's empty key, rows of one target per byte class indexing "
                             "those keys, and one expanded flag per key")
        keys = [(), *map(tuple, flat.reshape(-1, KEY_WIDTH).tolist())]
        with self.lock:
            return self._restore(keys, rows, expanded, origins, accepting)

    def _restore(self, keys: list[tuple[int, ...]], rows: np.ndarray, expanded: np.ndarray,
                 origins: Sequence[tuple[int, bytes] | None] | None,
                 accepting: np.ndarray | None) -> np.ndarray:
        self._add_keys(keys)
        ids = np.fromiter(map(self._key_table()[1].__getitem__, keys), dtype=np.int32,
                          count=len(keys))
        self._describe(ids, accepting, origins)
        take = expanded & ~self.expanded[ids]
        self.rows[ids[take]] = ids[rows[take]]
        self.expanded[ids[take]] = True
        self._unconnected.extend(ids[take].tolist())  # origins: when an expression is derived
        return ids

    def ways_in(self, states: Sequence[int], origins: Sequence[tuple[int, bytes]]) -> None:
        """Give each of `states` whose expression is neither known nor derivable the way in
        `origins[i]`: (a state of this automaton, bytes leading from it to the state), as a
        saved entry's token says (used while its expression is unknown)."""
        with self.lock:
            self._describe(np.asarray(states, dtype=np.int64), None, origins)

    def _add_keys(self, keys: Sequence[tuple[int, ...]]) -> None:
        """New states without expressions for the keys not known yet, numbered in the order
        given; `PatternTooComplex`, adding nothing, past `max_states`."""
        known, by_key = self._key_table()
        fresh = [k for k in dict.fromkeys(keys) if k not in by_key]
        start = len(known)
        if start + len(fresh) > self.max_states:
            raise PatternTooComplex(
                f"restoring {len(fresh):,} saved states would pass the limit of "
                f"{self.max_states:,} states", self.pattern, None)
        while start + len(fresh) > len(self.accepting):
            self._grow()
        known.extend(fresh)
        self._exprs.extend([None] * len(fresh))
        by_key.update(zip(fresh, range(start, start + len(fresh))))

    def _describe(self, ids: np.ndarray, accepting: Sequence[bool] | np.ndarray | None,
                  origins: Sequence[tuple[int, bytes] | None] | None) -> None:
        """Give the states `ids` whose expressions are unknown their saved acceptance, and
        each its origin where given (None: not given)."""
        if accepting is not None:
            unknown = np.array([self._exprs[i] is None for i in ids.tolist()], dtype=bool)
            self.accepting[ids[unknown]] = np.asarray(accepting, dtype=bool)[unknown]
        if origins is not None:
            for i, origin in zip(ids.tolist(), origins):
                if origin is not None:
                    self._set_origin(i, origin)

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

    def mask_class(self, state: int, horizon: int) -> Expr | None:
        """An expression equal for two states whenever the byte strings of fewer than `horizon`
        bytes that lead to live states (and acceptance) are the same from both: the state's
        expression with repetition bounds capped at `horizon` (`expr.capped`). None where no
        such class is known cheaply: expressions with `&` or `~`, restored states."""
        e = self._exprs[state]
        if e is None or e.boolean:
            return None
        return capped(e, horizon)

    def expression_of(self, state: int) -> Expr:
        """The expression of `state` (derived again for a restored state, checked by key)."""
        e = self._exprs[state]
        if e is not None:
            return e
        with self.lock:
            return self._derive_expression(state)

    def _derive_expression(self, state: int) -> Expr:
        if self._unconnected:  # restored rows not yet followed for origins
            sources, self._unconnected = self._unconnected, []
            self._connect(sources)
        chain = []
        s = state
        while self._exprs[s] is None:
            if s == self.initial_state and self._expr_factory is not None:
                self._build_initial()
                break
            origin = self._origin.get(s)
            if origin is None or len(chain) > self.num_states:
                raise RestoreMismatch(
                    f"a restored state of {self.pattern!r} cannot be reached from the start; "
                    "the cache holds stale data: clear it (`typedecode cache clear`)")
            chain.append(s)
            s = origin[0]
        for t in reversed(chain):
            source, data = self._origin[t]
            e = self._exprs[source]
            for b in data:
                e = derivative(e, b)
            self._link(t, e)
        return self._exprs[state]  # type: ignore[return-value]

    # -- construction -------------------------------------------------------------------

    def _build_initial(self) -> None:
        e = self._expr_factory()
        problem = None
        if not np.array_equal(_byte_classes(e), self.byte_class):
            problem = "byte classes"
        elif expr_key(e) != self.key(self.initial_state):
            problem = "initial state"
        if problem is not None:
            raise RestoreMismatch(
                f"the restored automaton of pattern {self.pattern!r} does not match its "
                f"expression ({problem} differ); the cache holds stale data: clear it "
                "(`typedecode cache clear`)")
        self._expr_factory = None
        self._initial_expr = e
        self._link(self.initial_state, e)

    def _link(self, state: int, e: Expr) -> None:
        if expr_key(e) != self.key(state):
            raise RestoreMismatch(
                f"a restored state of {self.pattern!r} does not match its expression; the "
                "cache holds stale data: clear it (`typedecode cache clear`)")
        self._exprs[state] = e
        self._ids[e] = state
        self.accepting[state] = e.nullable

    def _set_origin(self, state: int, origin: tuple[int, bytes]) -> None:
        source = origin[0]
        if not self._rooted(state) and source != state and self._rooted(source):
            self._origin[state] = (source, bytes(origin[1]))

    def _rooted(self, state: int) -> bool:
        """Whether the state's expression is known or can be derived (see `expression_of`)."""
        return self._exprs[state] is not None or state in self._origin \
            or state == self.initial_state

    def _connect(self, sources: list[int]) -> None:
        """Give states reached by restored rows an origin (breadth-first from known states,
        each reached through the lowest class that leads there)."""
        edges = self._edges(sources)
        queue = [s for s in sources if self._rooted(s)]
        for s in queue:
            out = edges[s] if s in edges else self._edges([s]).get(s, [])
            for t, c in out:
                if not self._rooted(t):
                    self._origin[t] = (s, bytes((self._class_start[c],)))
                    if self.expanded[t]:
                        queue.append(t)

    def _edges(self, sources: list[int]) -> dict[int, list[tuple[int, int]]]:
        """For each of `sources` (expanded states), the distinct live targets of its row in
        class order, each with the lowest class leading there."""
        states = np.asarray(sources, dtype=np.int64)
        rows = self.rows[states]
        flat = np.flatnonzero(rows)
        if not len(flat):
            return {}
        row, cls = np.divmod(flat, rows.shape[1])
        target = rows.reshape(-1)[flat]
        _, first = np.unique(row * self.num_states + target, return_index=True)
        first.sort()
        edges: dict[int, list[tuple[int, int]]] = {s: [] for s in sources}
        for s, t, c in zip(states[row[first]].tolist(), target[first].tolist(),
                           cls[first].tolist()):
            edges[s].append((t, c))
        return edges

    def _add_key(self, key: tuple[int, ...]) -> int:
        sid = self._key_table()[1].get(key)
        if sid is None:
            sid = self._new_state(key, None)
        return sid

    def _intern(self, e: Expr) -> int:
        sid = self._ids.get(e)
        if sid is not None:
            return sid
        if e.boolean and is_empty(e):
            self._ids[e] = DEAD
            return DEAD
        key = expr_key(e)
        sid = self._key_table()[1].get(key)
        if sid is None:
            return self._new_state(key, e)
        if self._exprs[sid] is None:
            self._link(sid, e)
        return sid

    def _new_state(self, key: tuple[int, ...], e: Expr | None) -> int:
        keys, by_key = self._key_table()
        sid = len(keys)
        if sid >= self.max_states:
            raise PatternTooComplex(
                f"the automaton needs more than {self.max_states:,} states "
                f"(raise max_states to allow more)", self.pattern, None)
        if sid >= len(self.accepting):
            self._grow()
        keys.append(key)
        self._exprs.append(e)
        by_key[key] = sid
        if e is not None:
            self._ids[e] = sid
            self.accepting[sid] = e.nullable
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
        e = self._exprs[state]
        if e is not None and not e.boolean and _head(e).kind == BYTES:
            live = self._byte_set_targets(e)  # makes no node: no budget to enter
        else:
            with node_budget(self.max_nodes, "one automaton state's transitions",
                             "STATE_NODES"):
                e = self.expression_of(state)
                live = self._byte_set_targets(e) if _head(e).kind == BYTES \
                    else self._live_targets(e)
        row = self.rows[state]  # all DEAD until computed: only the live classes are written
        for classes, target in live:
            row[classes] = target
        self.expanded[state] = True

    def _byte_set_targets(self, e: Expr) -> list[tuple[slice | np.ndarray, int]]:
        """`_live_targets` of a state `cat(B, r)` (or a byte set B alone) without a derivative:
        every byte of B leads to r, every other byte to the dead state."""
        head = _head(e)
        target = self._intern(e.items[1]) if e.kind == CAT else self._intern(EMPTY)
        return [] if target == DEAD else [(self._classes_in(head.mask), target)]

    def _live_targets(self, e: Expr) -> list[tuple[slice | np.ndarray, int]]:
        """(classes, target) for each live target of `e`'s row, the classes as an index into
        the row. Without `&` and `~`: one per distinct derivative (`derivative_classes`,
        memoized on the parts, so states sharing a part share its work), on the classes of its
        byte mask. With them: one derivative per run of classes; runs whose first byte starts
        no string of `e` (`first_bytes`) are DEAD without deriving."""
        if not e.boolean:  # new states numbered in class order, as deriving run by run does
            return [(self._classes_in(mask), self._intern(d))
                    for mask, d in sorted(derivative_classes(e), key=_lowest_byte)]
        first = first_bytes(e)
        live = []
        for c, end, b in self._spans(boundaries(e)):
            if not first >> b & 1:
                continue
            d = derivative(e, b)
            target = DEAD if d is NOTHING else self._intern(d)
            if target != DEAD:
                live.append((slice(c, end), target))
        return live

    def _classes_in(self, mask: int) -> slice | np.ndarray:
        """The classes inside the byte set `mask` (a union of classes), as an index into a row:
        a slice for one run of classes, else an array (memoized per set: a state `cat(B, r)`
        leads to r on exactly these, and a derivative class's set recurs in many rows)."""
        found = self._classes_of_set.get(mask)
        if found is None:
            runs = [(c, end) for c, end, b in self._spans(set_boundaries(mask)) if mask >> b & 1]
            found = self._classes_of_set[mask] = slice(*runs[0]) if len(runs) == 1 else \
                np.concatenate([np.arange(c, end) for c, end in runs])
        return found

    def _spans(self, bounds: int) -> list[tuple[int, int, int]]:
        """(first class, end class, first byte) of each run of classes with one derivative for
        an expression of boundaries `bounds` (memoized: the states of one automaton share few
        distinct boundaries)."""
        spans = self._spans_of.get(bounds)
        if spans is None:
            runs = self._runs(bounds)
            spans = self._spans_of[bounds] = [
                (c, end, self._class_start[c])
                for c, end in zip(runs, runs[1:] + [self.num_classes])]
        return spans

    def _runs(self, bounds: int) -> list[int]:
        """The classes (ascending, 0 first) that start a run of classes with one derivative,
        for an expression of boundaries `bounds`: class c starts one where a bit in
        (start of class c-1, start of class c] is set, i.e. bit b with class(b-1) = c-1."""
        byte_class, n = self._byte_class_list, self.num_classes
        runs = {0}
        bits = bounds & ~1
        while bits:
            low = bits & -bits
            c = byte_class[low.bit_length() - 2] + 1
            if c < n:
                runs.add(c)
            bits ^= low
        return sorted(runs)


def _lowest_byte(pair: tuple[int, Expr]) -> int:
    """The lowest bit of a (byte mask, derivative) pair's mask."""
    mask = pair[0]
    return mask & -mask


def _head(e: Expr) -> Expr:
    """The part of `e` that reads the first byte: a concatenation's head, else `e` itself."""
    return e.items[0] if e.kind == CAT else e


def _repeats_a_key(keys: np.ndarray) -> bool:
    """Whether two rows of `keys` (int [n, KEY_WIDTH]) are equal: their first values, sorted,
    decide unless two of those are equal (keys are digests, so rarely), and then the whole keys
    do."""
    first = np.sort(keys[:, 0])
    if not (first[1:] == first[:-1]).any():
        return False
    return len(set(map(tuple, keys.tolist()))) != len(keys)


def valid_keys(flat: np.ndarray, ends: np.ndarray) -> bool:
    """Whether `ends` cuts the 1-D integer array `flat` into state keys (runs of values >= 0);
    key i is `flat[ends[i-1]:ends[i]]`, the first starting at 0."""
    if flat.ndim != 1 or ends.ndim != 1 or flat.dtype.kind not in "iu" \
            or ends.dtype.kind not in "iu":
        return False
    if not len(ends):
        return not len(flat)
    if ends[-1] != len(flat) or ends.min() < 0 or (np.diff(ends) < 0).any():
        return False
    return not len(flat) or bool(flat.min() >= 0)


def indexes_below(values: np.ndarray, n: int) -> bool:
    """Whether the integer array `values` holds only indexes in [0, n): one pass over it (a
    negative value read as unsigned is larger than any index)."""
    if values.dtype.kind not in "iu":
        return False
    if not values.size:
        return True
    unsigned = values.view(f"u{values.itemsize}") if values.dtype.kind == "i" else values
    return int(unsigned.max()) < n


def _byte_classes(e: Expr) -> np.ndarray:
    """Map each byte to a class so that no byte set under `e` separates two bytes of one class."""
    cuts = np.zeros(256, dtype=bool)
    bits = byte_cuts(e) & ((1 << 256) - 2)  # a class starts at each cut of bytes 1..255
    while bits:
        low = bits & -bits
        cuts[low.bit_length() - 1] = True
        bits ^= low
    return np.cumsum(cuts).astype(np.int32)
