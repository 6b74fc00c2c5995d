"""Saved forms of an automaton's states and of token-index entries: plain arrays, checked on load.

Automaton snapshot (`take` -> arrays, `parse` -> `Snapshot`, `merge`):
- `header` int64 [initial]: the initial state's index; `byte_class` uint8 [256].
- States by index, index 0 being the dead state (empty key): `key_flat` int32 and `key_ends`
  int64 (state i's key is `key_flat[key_ends[i-1]:key_ends[i]]`, `KEY_WIDTH` values each),
  `rows` [n, classes] (targets are state indices; uint8 for up to 256 states, uint16 for up
  to 65,536, else int32: a record a half to a quarter the size, read and checked in less
  time), `expanded` bool [n] (which rows are
  meaningful) and `accepting` bool [n]. A process without the pattern's automaton makes it from
  a snapshot with the states numbered as saved (`Automaton.from_saved`).
Indices are private to a snapshot: another process numbers the same states differently, so
`merge` unions two snapshots through the state keys.

Record (`pack_record` -> arrays, `parse_record` -> (`Snapshot`, `EntryTable`), `merge_record`):
one per pattern and vocabulary, a snapshot and every saved token-index entry of its states
together, so that a process reads them all at once and takes an entry by state number. Per entry
i: `entry_state` int32 (its state, as the snapshot numbers it, each state once), `linked` bool
(whether its next states are saved) and `dense` int32 (its row in `bits`, or -1). A dense entry
(more allowed tokens than a quarter of the vocabulary, next states not saved) is its packed bits,
`bits` uint8 [d, ceil(vocab_size / 8)] as `decoding.tokens.bits` packs them; any other lists its
allowed token ids, sorted, in `ids` int32 (entry i's are `ids[entry_ends[i-1]:entry_ends[i]]`,
`entry_ends` int64) and beside each in `next` int32 the snapshot state it leads to (-1 where not
linked). Masks are not stored (they are rebuilt from the token ids at any width). Another
process numbers states differently: `merge_record` unions records through the state keys.

`parse` and `parse_record` check names, dtypes, shapes, that every index is in range, that
keys are state keys and token ids sorted, and `parse_record` that no forbidden token is
allowed, that no allowed token leads to the dead state and no state has two entries (all at
once, when the record is read); so a restore never indexes out of bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decoding.automaton.dfa import DEAD, KEY_WIDTH, Automaton, indexes_below
from decoding.tokens import bits as packed

Arrays = dict[str, np.ndarray]


def _dtypes(types: dict[str, type]) -> dict[str, np.dtype]:
    """`types` as dtype objects (comparing two dtypes is cheaper than a dtype and a type)."""
    return {name: np.dtype(t) for name, t in types.items()}


_STATE_DTYPES = _dtypes({"header": np.int64, "byte_class": np.uint8, "key_flat": np.int32,
                         "key_ends": np.int64, "expanded": np.bool_, "accepting": np.bool_})
_ROW_DTYPES = tuple(map(np.dtype, (np.uint8, np.uint16, np.int32)))  # narrowest that fits first


def _row_dtype(n: int) -> np.dtype:
    """The dtype of the rows of a snapshot of `n` states."""
    return _ROW_DTYPES[0] if n <= 256 else _ROW_DTYPES[1] if n <= 65536 else _ROW_DTYPES[2]


@dataclass(frozen=True)
class Snapshot:
    """A parsed automaton snapshot (see the module docstring)."""

    initial: int
    byte_class: np.ndarray
    key_flat: np.ndarray
    key_ends: np.ndarray
    rows: np.ndarray
    expanded: np.ndarray
    accepting: np.ndarray

    @property
    def num_states(self) -> int:
        return len(self.key_ends)

    def keys(self) -> list[tuple[int, ...]]:
        values = self.key_flat.tolist()
        bounds = [0, *self.key_ends.tolist()]
        return [tuple(values[bounds[i]:bounds[i + 1]]) for i in range(self.num_states)]

    def state_keys(self) -> np.ndarray:
        """int32 [n-1, KEY_WIDTH]: the keys of states 1..n-1 (a view)."""
        return self.key_flat.reshape(-1, KEY_WIDTH)

    def initial_key(self) -> np.ndarray:
        return self.key_flat[self.key_ends[self.initial - 1]:self.key_ends[self.initial]]

    def fits(self, automaton: Automaton) -> bool:
        """Whether this is a snapshot of `automaton`'s pattern."""
        return (np.array_equal(self.byte_class, automaton.byte_class)
                and np.array_equal(self.initial_key(), automaton.key(automaton.initial_state)))


def take(automaton: Automaton) -> Arrays:
    """The arrays of every state of `automaton`, with the rows computed so far: copies, which
    the automaton's later growth does not change. A caller sharing the automaton between
    threads holds `automaton.lock`, so that the states and rows are those of one moment."""
    flat, ends = automaton.flat_keys()
    n = len(ends)
    return _snapshot_arrays([automaton.initial_state], automaton.byte_class, flat, ends,
                            automaton.rows[:n], automaton.expanded[:n].copy(),
                            automaton.accepting[:n].copy())


def parse(arrays: Arrays) -> Snapshot:
    """The snapshot in `arrays`; ValueError naming the first problem found."""
    _check_dtypes(arrays, _STATE_DTYPES)
    header, byte_class, flat, ends, expanded, accepting = (arrays[k] for k in _STATE_DTYPES)
    rows = arrays.get("rows")
    if header.shape != (1,) or byte_class.shape != (256,):
        raise ValueError("snapshot header or byte classes have the wrong shape")
    n = len(ends)
    if rows is None or rows.dtype != _row_dtype(n):
        raise ValueError("snapshot rows are missing or not of their dtype")
    # Every state but the dead one (an empty key) has a key of `KEY_WIDTH` values >= 0.
    if ends.ndim != 1 or flat.ndim != 1 or len(flat) != max(n - 1, 0) * KEY_WIDTH \
            or (len(flat) and flat.min() < 0) \
            or (ends != np.arange(0, n * KEY_WIDTH, KEY_WIDTH)).any():
        raise ValueError("snapshot keys are not state keys")
    initial = int(header[0])
    if n < 2 or not 0 < initial < n \
            or rows.shape != (n, int(byte_class[-1]) + 1) or accepting.shape != (n,) \
            or expanded.shape != (n,) or not indexes_below(rows, n):
        raise ValueError("snapshot states are inconsistent")
    return Snapshot(initial, byte_class, flat, ends, rows, expanded, accepting)


def merge(old: Arrays, new: Arrays, max_states: int) -> Arrays:
    """The union of two snapshots of one pattern, states matched by key; `new` alone when `old`
    is invalid or of another pattern, or when the union would pass `max_states` states. Rows
    known to both are taken from `old` (both computed the same facts)."""
    theirs = parse(new)
    try:
        ours = parse(old)
    except ValueError:
        return new
    union = _union(ours, theirs, max_states)
    return new if union is None else union[0]


def _union(ours: Snapshot, theirs: Snapshot, max_states: int
           ) -> tuple[Arrays, np.ndarray] | None:
    """The arrays of the union of two snapshots (`ours` keeps its numbers, `theirs`' other
    states follow) and where each of `theirs`' states went; None when they are of different
    patterns or the union would pass `max_states` states."""
    if not np.array_equal(ours.byte_class, theirs.byte_class) \
            or not np.array_equal(ours.initial_key(), theirs.initial_key()):
        return None
    keys = ours.keys()
    index = {k: i for i, k in enumerate(keys)}
    mapping = np.empty(theirs.num_states, dtype=np.int32)
    for j, k in enumerate(theirs.keys()):
        i = index.get(k)
        if i is None:
            i = index[k] = len(keys)
            keys.append(k)
        mapping[j] = i
    n = len(keys)
    if n > max_states:
        return None
    rows = np.zeros((n, ours.rows.shape[1]), dtype=np.int32)
    rows[:ours.num_states] = ours.rows
    expanded = np.zeros(n, dtype=bool)
    expanded[:ours.num_states] = ours.expanded
    take_rows = theirs.expanded & ~expanded[mapping]
    rows[mapping[take_rows]] = mapping[theirs.rows[take_rows]]
    expanded[mapping[take_rows]] = True
    accepting = np.zeros(n, dtype=bool)
    accepting[:ours.num_states] = ours.accepting
    accepting[mapping] |= theirs.accepting
    flat, ends = _flatten(keys)
    return _snapshot_arrays([ours.initial], ours.byte_class, flat, ends, rows, expanded,
                            accepting), mapping


def pack_record(snapshot: Arrays, entries: list[tuple], vocab_size: int) -> Arrays:
    """The record of `snapshot` (`take` of an automaton, at the moment `entries` were listed)
    and of entries of that automaton's states (see the module docstring): for each, its state, its packed
    bits (`decoding.tokens.bits` order, `vocab_size` flags) and the state each allowed token
    leads to, in id order (None: not known), then optionally the sorted ids of the allowed
    tokens where known (a `StateEntry`'s `token_ids`, or None), which spares reading them from
    the bits (for Gemma's 262,144 tokens, some 40 us an entry). States keep the automaton's
    numbers, which are the snapshot's."""
    states, ends, ids, nexts, dense, rows, linked = [], [], [], [], [], [], []
    total = 0
    for state, bits, next_states, *known in entries:
        states.append(state)
        linked.append(next_states is not None)
        if next_states is None and 4 * int(np.bitwise_count(bits).sum(dtype=np.int64)) > len(bits):
            dense.append(len(rows))  # its ids would take more room than its bits
            rows.append(bits)
        else:
            dense.append(-1)
            allowed = (known[0] if known and known[0] is not None
                       else packed.ids(bits, vocab_size)).astype(np.int32)
            ids.append(allowed)
            nexts.append(np.full(len(allowed), -1, dtype=np.int32) if next_states is None
                         else np.asarray(next_states, dtype=np.int32))
            total += len(allowed)
        ends.append(total)
    return {**snapshot, "entry_state": np.array(states, dtype=np.int32),
            "entry_ends": np.array(ends, dtype=np.int64), "ids": _concat(ids),
            "next": _concat(nexts), "linked": np.array(linked, dtype=bool),
            "dense": np.array(dense, dtype=np.int32),
            "bits": (np.stack(rows) if rows
                     else np.zeros((0, (vocab_size + 7) // 8), dtype=np.uint8))}


@dataclass(frozen=True)
class EntryTable:
    """Parsed saved entries (see the module docstring), checked as a whole: `find` a state's
    row, `unpack` it without further checks. States are numbered as in the record's snapshot."""

    state: np.ndarray
    ends: np.ndarray
    ids: np.ndarray
    next: np.ndarray
    linked: np.ndarray
    dense: np.ndarray
    bits: np.ndarray
    row_of: np.ndarray  # int32 [states]: a state's entry row, -1 where it has none

    def __len__(self) -> int:
        return len(self.state)

    def find(self, state: int) -> int | None:
        """The row of the entry of the snapshot's `state`, or None."""
        row = int(self.row_of[state]) if 0 <= state < len(self.row_of) else -1
        return None if row < 0 else row

    def unpack(self, i: int, vocab_size: int
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(bits, token_ids int64, next_states int32 as the snapshot numbers them) of row `i`;
        ids and next states are None where not saved."""
        if self.dense[i] >= 0:
            return self.bits[self.dense[i]], None, None
        start, stop = (int(self.ends[i - 1]) if i else 0), int(self.ends[i])
        token_ids = self.ids[start:stop].astype(np.int64)
        allowed = np.zeros(vocab_size, dtype=bool)
        allowed[token_ids] = True
        bits = packed.pack(allowed)
        if not self.linked[i]:
            return bits, None, None
        return bits, token_ids, self.next[start:stop]


def parse_record(arrays: Arrays, vocab_size: int, forbidden: np.ndarray
                 ) -> tuple[Snapshot, EntryTable]:
    """The snapshot and entries of the record in `arrays`, for a vocabulary of `vocab_size`
    tokens whose packed bits `forbidden` no entry may allow; ValueError naming the first
    problem found."""
    saved = parse(arrays)
    table = _entry_table(arrays, saved.num_states)
    if table.bits.shape[1:] != forbidden.shape or (len(table.bits)
                                                   and (table.bits & forbidden).any()):
        raise ValueError("entry bits have the wrong width or allow a forbidden token")
    ids = table.ids
    if len(ids) and (ids.max() >= vocab_size or (forbidden[ids >> 3] >> (ids & 7) & 1).any()):
        raise ValueError("entries allow a token outside the vocabulary or a forbidden one")
    return saved, table


_ENTRY_DTYPES = _dtypes({"entry_state": np.int32, "entry_ends": np.int64, "ids": np.int32,
                         "next": np.int32, "linked": np.bool_, "dense": np.int32,
                         "bits": np.uint8})


def _entry_table(arrays: Arrays, n: int) -> EntryTable:
    """Saved entries of a snapshot of `n` states, checked for everything but the vocabulary
    (`parse_record`). (Whole-array operations, as few as the checks allow: on the small tables
    of a warm start each numpy call costs more than its work, so a range is checked with one
    reduction, `indexes_below`, and numpy's Python-level wrappers such as np.diff are avoided.)"""
    _check_dtypes(arrays, _ENTRY_DTYPES)
    state, ends, ids, nxt, linked, dense, bits = (arrays[k] for k in _ENTRY_DTYPES)
    m = len(state)
    if state.shape != (m,) or ends.shape != (m,) or linked.shape != (m,) \
            or dense.shape != (m,) or ids.ndim != 1 or nxt.shape != ids.shape or bits.ndim != 2:
        raise ValueError("saved entries have inconsistent shapes")
    row_of = np.full(n, -1, dtype=np.int32)
    if not m:
        if len(ids):
            raise ValueError("saved entries' token lists are inconsistent")
        return EntryTable(state, ends, ids, nxt, linked, dense, bits, row_of)
    # States in [0, n), dense rows in [-1, len(bits)).
    if not indexes_below(state, n) or not indexes_below(dense + 1, len(bits) + 1):
        raise ValueError("saved entries index outside their tables")
    sizes = ends.copy()
    sizes[1:] -= ends[:-1]
    if ends[-1] != len(ids) or not indexes_below(sizes, len(ids) + 1) \
            or ((dense >= 0) & ((sizes != 0) | linked)).any():
        raise ValueError("saved entries' token lists are inconsistent")
    if len(ids):
        # Sorted within each entry iff sorted overall once each id is offset by its entry's
        # number; ids >= 0 (one reduction, as unsigned).
        owner = np.repeat(np.arange(m, dtype=np.int64), sizes)
        offset = ids + (owner << 32)
        if not indexes_below(ids, 1 << 31) or (offset[1:] <= offset[:-1]).any():
            raise ValueError("saved entries' token ids are not sorted ids")
        # A linked entry's next states are live states of the snapshot, in [1, n); an
        # unlinked one's are -1: all in [-1, n) (one reduction), none dead, > 0 where linked.
        if not indexes_below(nxt + 1, n + 1) or (nxt == DEAD).any() \
                or ((nxt > DEAD) != linked[owner]).any():
            raise ValueError("saved entries' next states are not live states of the snapshot")
    row_of[state] = np.arange(m, dtype=np.int32)
    if np.count_nonzero(row_of >= 0) != m:
        raise ValueError("saved entries repeat a state")
    return EntryTable(state, ends, ids, nxt, linked, dense, bits, row_of)


def merge_record(old: Arrays, new: Arrays, max_states: int) -> Arrays:
    """The union of two records of one pattern and vocabulary: states matched by key (`merge`,
    `old`'s numbers kept), and `new`'s entries of states `old` has none for (an entry is a
    function of its state, so both agree where both have it). `new` alone when `old` is
    invalid or of another pattern, or when the union would pass `max_states` states."""
    theirs = parse(new)
    new_entries = _entry_table(new, theirs.num_states)
    try:
        ours = parse(old)
        old_entries = _entry_table(old, ours.num_states)
    except ValueError:
        return new
    union = _union(ours, theirs, max_states)
    if union is None:
        return new
    states, mapping = union
    has = np.zeros(len(states["key_ends"]), dtype=bool)
    has[old_entries.state] = True
    fresh = ~has[mapping[new_entries.state]]
    sizes = new_entries.ends.copy()
    sizes[1:] -= new_entries.ends[:-1]
    take = np.repeat(fresh, sizes)
    nxt = new_entries.next[take]
    nxt[nxt >= 0] = mapping[nxt[nxt >= 0]]
    dense = new_entries.dense[fresh]
    dense[dense >= 0] = np.arange(len(old_entries.bits),
                                  len(old_entries.bits) + np.count_nonzero(dense >= 0))
    base = int(old_entries.ends[-1]) if len(old_entries) else 0
    return {**states,
            "entry_state": np.concatenate([old_entries.state, mapping[new_entries.state[fresh]]]),
            "entry_ends": np.concatenate([old_entries.ends, base + np.cumsum(sizes[fresh])]),
            "ids": np.concatenate([old_entries.ids, new_entries.ids[take]]),
            "next": np.concatenate([old_entries.next, nxt]),
            "linked": np.concatenate([old_entries.linked, new_entries.linked[fresh]]),
            "dense": np.concatenate([old_entries.dense, dense]),
            "bits": np.concatenate([old_entries.bits, new_entries.bits[
                new_entries.dense[fresh][new_entries.dense[fresh] >= 0]]])}


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _check_dtypes(arrays: Arrays, dtypes: dict[str, np.dtype]) -> None:
    missing = dtypes.keys() - arrays.keys()
    if missing:
        raise ValueError(f"snapshot lacks {sorted(missing)}")
    for name, dtype in dtypes.items():
        if arrays[name].dtype != dtype:
            raise ValueError(f"snapshot array {name!r} has dtype {arrays[name].dtype}")


def _flatten(keys: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum([len(k) for k in keys], dtype=np.int64)
    total = int(ends[-1]) if len(ends) else 0
    return np.fromiter((v for k in keys for v in k), dtype=np.int32, count=total), ends


def _snapshot_arrays(header, byte_class, flat, ends, rows, expanded, accepting) -> Arrays:
    return {"header": np.asarray(header, dtype=np.int64),
            "byte_class": np.asarray(byte_class, dtype=np.uint8),
            "key_flat": flat, "key_ends": ends,
            "rows": np.asarray(rows).astype(_row_dtype(len(ends))),
            "expanded": np.asarray(expanded, dtype=bool),
            "accepting": np.asarray(accepting, dtype=bool)}
