"""Saved forms of an automaton's states and of token-index entries: plain arrays, checked on load.

Automaton snapshot (`take` -> arrays, `parse` -> `Snapshot`, `merge`):
- `header` int64 [initial]: the initial state's index; `byte_class` uint8 [256].
- States by index, index 0 being the dead state (empty key): `key_flat` int32 and `key_ends`
  int64 (state i's key is `key_flat[key_ends[i-1]:key_ends[i]]`, `KEY_WIDTH` values each),
  `rows` int32 [n, classes] (targets are state indices), `expanded` bool [n] (which rows are
  meaningful) and `accepting` bool [n]. A process without the pattern's automaton makes it from
  a snapshot with the states numbered as saved (`Automaton.from_saved`).
Indices are private to a snapshot: another process numbers the same states differently, so
`merge` unions two snapshots through the state keys.

Entries (`pack_entries` -> arrays, `parse_entries` -> `EntryTable`, `merge_entries`): every
saved token-index entry of one pattern and vocabulary in one record, so that a process reads them
all at once. `keys` int32 [k, KEY_WIDTH]: the keys of the states named (entries' states and the
states their tokens lead to), each once, and `accepting` bool [k]. Per entry i: `state` int32
(its state, as a row of `keys`, each state once), `linked` bool (whether its next states are
saved) and `dense` int32 (its row in `bits`, or -1). A dense entry (more allowed tokens than a
quarter of the vocabulary, next states not saved) is its packed bits, `bits` uint8
[d, ceil(vocab_size / 8)] as `decoding.tokens.bits` packs them; any other lists its allowed
token ids, sorted, in `ids` int32 (entry i's are `ids[ends[i-1]:ends[i]]`, `ends` int64) and
beside each in `next` int32 the row of `keys` of the state it leads to (-1 where not linked).
Next states are given by key, so entries mean the same in every process; masks are not stored
(they are rebuilt from the token ids at any width).

`parse` and `parse_entries` check names, dtypes, shapes, that every index is in range, that
keys are state keys and token ids sorted, and `parse_entries` that no forbidden token is
allowed (all at once, when the record is read); so a restore never indexes out of bounds and no
allowed token leads to the dead state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decoding.automaton.dfa import KEY_WIDTH, Automaton, indexes_below
from decoding.tokens import bits as packed
from decoding.tokens.vocabulary import Vocabulary

Arrays = dict[str, np.ndarray]


def _dtypes(types: dict[str, type]) -> dict[str, np.dtype]:
    """`types` as dtype objects (comparing two dtypes is cheaper than a dtype and a type)."""
    return {name: np.dtype(t) for name, t in types.items()}


_STATE_DTYPES = _dtypes({"header": np.int64, "byte_class": np.uint8, "key_flat": np.int32,
                         "key_ends": np.int64, "rows": np.int32, "expanded": np.bool_,
                         "accepting": np.bool_})


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
                            automaton.rows[:n].copy(), automaton.expanded[:n].copy(),
                            automaton.accepting[:n].copy())


def parse(arrays: Arrays) -> Snapshot:
    """The snapshot in `arrays`; ValueError naming the first problem found."""
    _check_dtypes(arrays, _STATE_DTYPES)
    header, byte_class, flat, ends, rows, expanded, accepting = \
        (arrays[k] for k in _STATE_DTYPES)
    if header.shape != (1,) or byte_class.shape != (256,):
        raise ValueError("snapshot header or byte classes have the wrong shape")
    n = len(ends)
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
    if not np.array_equal(ours.byte_class, theirs.byte_class) \
            or not np.array_equal(ours.initial_key(), theirs.initial_key()):
        return new
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
        return new
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
                            accepting)


def pack_entries(automaton: Automaton, entries: list[tuple], vocab_size: int) -> Arrays:
    """The saved form of entries of `automaton` (see the module docstring): for each, its state,
    its packed bits (`decoding.tokens.bits` order, `vocab_size` flags) and the state each
    allowed token leads to, in id order (None: not known), then optionally the sorted ids of
    the allowed tokens where known (a `StateEntry`'s `token_ids`, or None), which spares
    reading them from the bits (for Gemma's 262,144 tokens, some 40 us an entry)."""
    index: dict[int, int] = {}  # automaton state -> its row in `keys`

    def row(state: int) -> int:
        return index.setdefault(state, len(index))

    states, ends, ids, nexts, dense, rows, linked = [], [], [], [], [], [], []
    total = 0
    for state, bits, next_states, *known in entries:
        states.append(row(state))
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
                         else np.fromiter(map(row, next_states.tolist()), dtype=np.int32,
                                          count=len(allowed)))
            total += len(allowed)
        ends.append(total)
    order = list(index)
    return {"keys": np.array([automaton.key(s) for s in order], dtype=np.int32
                             ).reshape(len(order), KEY_WIDTH),
            "accepting": automaton.accepting[order].astype(bool),
            "state": np.array(states, dtype=np.int32), "ends": np.array(ends, dtype=np.int64),
            "ids": _concat(ids), "next": _concat(nexts), "linked": np.array(linked, dtype=bool),
            "dense": np.array(dense, dtype=np.int32),
            "bits": (np.stack(rows) if rows
                     else np.zeros((0, (vocab_size + 7) // 8), dtype=np.uint8))}


@dataclass(frozen=True)
class EntryTable:
    """Parsed saved entries (see the module docstring), checked as a whole: `find` a state's
    row by key, `unpack` it without further checks."""

    keys: np.ndarray
    accepting: np.ndarray
    state: np.ndarray
    ends: np.ndarray
    ids: np.ndarray
    next: np.ndarray
    linked: np.ndarray
    dense: np.ndarray
    bits: np.ndarray
    rows: dict[tuple[int, ...], int]

    def __len__(self) -> int:
        return len(self.state)

    def find(self, key: tuple[int, ...]) -> int | None:
        """The row of the entry of the state with this key, or None."""
        return self.rows.get(key)

    def unpack(self, i: int, automaton: Automaton, state: int, vocabulary: Vocabulary
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(bits, token_ids int64, next_states int32) of row `i`, the entry of `state`; its
        target states are added to `automaton` where it lacks them (each reached by the bytes
        of its first token in `vocabulary`). Ids and next states are None where not saved."""
        if self.dense[i] >= 0:
            return self.bits[self.dense[i]], None, None
        start = int(self.ends[i - 1]) if i else 0
        token_ids = self.ids[start:self.ends[i]].astype(np.int64)
        allowed = np.zeros(vocabulary.size, dtype=bool)
        allowed[token_ids] = True
        bits = packed.pack(allowed)
        if not self.linked[i]:
            return bits, None, None
        targets, codes = np.unique(self.next[start:self.ends[i]], return_inverse=True)
        keys = list(map(tuple, self.keys[targets].tolist()))
        known = automaton.rooted_states(keys)
        if known is None:  # add the targets as states without rows, reached by a token each
            first = np.full(len(targets), -1, dtype=np.int64)
            first[codes[::-1]] = token_ids[::-1]  # each target's first token (lowest id)
            known = automaton.reached(keys, self.accepting[targets].tolist(),
                                      [(state, vocabulary.bytes_of(t)) for t in first.tolist()])
        return bits, token_ids, np.array(known, dtype=np.int32)[codes]


def parse_entries(arrays: Arrays, vocab_size: int, forbidden: np.ndarray) -> EntryTable:
    """The saved entries in `arrays`, for a vocabulary of `vocab_size` tokens whose packed bits
    `forbidden` no entry may allow; ValueError naming the first problem found."""
    table = _entry_table(arrays)
    if table.bits.shape[1:] != forbidden.shape or (table.bits & forbidden).any():
        raise ValueError("entry bits have the wrong width or allow a forbidden token")
    ids = table.ids
    if len(ids) and (ids.max() >= vocab_size or (forbidden[ids >> 3] >> (ids & 7) & 1).any()):
        raise ValueError("entries allow a token outside the vocabulary or a forbidden one")
    return table


_ENTRY_DTYPES = _dtypes({"keys": np.int32, "accepting": np.bool_, "state": np.int32,
                         "ends": np.int64, "ids": np.int32, "next": np.int32,
                         "linked": np.bool_, "dense": np.int32, "bits": np.uint8})


def _entry_table(arrays: Arrays) -> EntryTable:
    """Saved entries checked for everything but the vocabulary (`parse_entries`)."""
    _check_dtypes(arrays, _ENTRY_DTYPES)
    keys, accepting, state, ends, ids, nxt, linked, dense, bits = \
        (arrays[k] for k in _ENTRY_DTYPES)
    m, k = len(state), len(keys)
    if keys.ndim != 2 or keys.shape[1] != KEY_WIDTH or accepting.shape != (k,) \
            or (k and keys.min() < 0) or state.shape != (m,) or ends.shape != (m,) \
            or linked.shape != (m,) or dense.shape != (m,) or ids.ndim != 1 \
            or nxt.shape != ids.shape or bits.ndim != 2:
        raise ValueError("saved entries have inconsistent shapes")
    if m and (state.min() < 0 or state.max() >= k or dense.min() < -1
              or dense.max() >= len(bits)):
        raise ValueError("saved entries index outside their tables")
    # (Whole-array operations without numpy's Python-level wrappers such as np.diff and
    # np.clip: on the tables of a warm start, which are small, those wrappers cost more than
    # the work.)
    sizes = ends.copy()
    sizes[1:] -= ends[:-1]
    if (m and (sizes.min() < 0 or ends[-1] != len(ids))) or (not m and len(ids)) \
            or ((dense >= 0) & ((sizes != 0) | linked)).any():
        raise ValueError("saved entries' token lists are inconsistent")
    # Sorted within each entry iff sorted overall once each id is offset by its entry's number.
    owner = np.repeat(np.arange(m, dtype=np.int64), sizes)
    offset = ids + (owner << 32)
    if len(ids) and (ids.min() < 0 or (offset[1:] <= offset[:-1]).any()):
        raise ValueError("saved entries' token ids are not sorted ids")
    # A linked entry's next states index `keys`; an unlinked one's are all -1.
    if len(ids) and (nxt.min() < -1 or nxt.max() >= k or ((nxt >= 0) != linked[owner]).any()):
        raise ValueError("saved entries' next states do not index their keys")
    named = list(map(tuple, keys.tolist()))
    rows = dict(zip(map(named.__getitem__, state.tolist()), range(m)))
    if len(rows) != m or len(set(named)) != k:
        raise ValueError("saved entries repeat a state")
    return EntryTable(keys, accepting, state, ends, ids, nxt, linked, dense, bits, rows)


def merge_entries(old: Arrays, new: Arrays) -> Arrays:
    """The union of two sets of saved entries of one pattern and vocabulary, matched by state
    key (an entry is a function of its state, so both agree where both have it); `new` alone
    when `old` is invalid."""
    theirs = _entry_table(new)
    try:
        ours = _entry_table(old)
    except ValueError:
        return new
    index = {key: i for i, key in enumerate(map(tuple, ours.keys.tolist()))}
    remap = np.array([index.setdefault(key, len(index))
                      for key in map(tuple, theirs.keys.tolist())], dtype=np.int32)
    added_keys = remap >= len(ours.keys)
    fresh = np.array([key not in ours.rows for key in theirs.rows], dtype=bool)
    sizes = np.diff(theirs.ends, prepend=0)
    take = np.repeat(fresh, sizes)
    nxt = theirs.next[take]
    nxt[nxt >= 0] = remap[nxt[nxt >= 0]]
    dense = theirs.dense[fresh]
    dense[dense >= 0] = np.arange(len(ours.bits), len(ours.bits) + (dense >= 0).sum())
    base = int(ours.ends[-1]) if len(ours.ends) else 0
    return {"keys": np.concatenate([ours.keys, theirs.keys[added_keys]]),
            "accepting": np.concatenate([ours.accepting, theirs.accepting[added_keys]]),
            "state": np.concatenate([ours.state, remap[theirs.state[fresh]]]),
            "ends": np.concatenate([ours.ends, base + np.cumsum(sizes[fresh])]),
            "ids": np.concatenate([ours.ids, theirs.ids[take]]),
            "next": np.concatenate([ours.next, nxt]),
            "linked": np.concatenate([ours.linked, theirs.linked[fresh]]),
            "dense": np.concatenate([ours.dense, dense]),
            "bits": np.concatenate([ours.bits, theirs.bits[theirs.dense[fresh][
                theirs.dense[fresh] >= 0]]])}


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
            "rows": np.asarray(rows, dtype=np.int32),
            "expanded": np.asarray(expanded, dtype=bool),
            "accepting": np.asarray(accepting, dtype=bool)}
