"""Saved forms of an automaton's states and of token-index entries: plain arrays, checked on load.

Automaton snapshot (`take` -> arrays, `parse` -> `Snapshot`, `merge`):
- `header` int64 [initial]: the initial state's index; `byte_class` uint8 [256].
- States by index, index 0 being the dead state (empty key): `key_flat` int32 and `key_ends`
  int64 (state i's key is `key_flat[key_ends[i-1]:key_ends[i]]`), `rows` int32 [n, classes]
  (targets are state indices), `expanded` bool [n] (which rows are meaningful) and `accepting`
  bool [n].
Indices are private to a snapshot: another process numbers the same states differently, so
`merge` unions two snapshots through the state keys.

Entry (`pack_entry` -> arrays, `unpack_entry`): `bits` uint8 [ceil(vocab_size / 8)] (allowed
tokens, packed as `decoding.tokens.bits` packs them), the keys of the distinct states they lead to (`target_flat` int32,
`target_ends` int64, as for states), whether each accepts (`target_accepting` bool) and `codes`
(uint8, uint16 or int32: per allowed token in id order, the index of its target). Next states are
given by key, so an entry means the same in every process; masks are not stored (they are
rebuilt from the token ids at any width). An entry whose next states were not computed (shared
by a mask class, or taken from lexeme tables) is `bits` alone.

`parse` and `unpack_entry` check names, dtypes, shapes, that every index is in range and that
keys are state keys (non-empty for targets), and `unpack_entry` that no forbidden token is
allowed; so a restore never indexes out of bounds and no allowed token leads to the dead state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decoding.automaton.dfa import KEY_WIDTH, Automaton, valid_keys
from decoding.tokens import bits as packed
from decoding.tokens.vocabulary import Vocabulary

Arrays = dict[str, np.ndarray]

_STATE_DTYPES = {"header": np.int64, "byte_class": np.uint8, "key_flat": np.int32,
                 "key_ends": np.int64, "rows": np.int32, "expanded": np.bool_,
                 "accepting": np.bool_}
_CODE_DTYPES = (np.uint8, np.uint16, np.int32)


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
    n = automaton.num_states
    flat, ends = _flatten([automaton.key(s) for s in range(n)])
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
    if not valid_keys(flat, ends):
        raise ValueError("snapshot keys are not state keys")
    initial = int(header[0])
    n = len(ends)
    if n < 2 or not 0 < initial < n or ends[0] != 0 or ends[initial] == ends[initial - 1] \
            or rows.shape != (n, int(byte_class[-1]) + 1) or accepting.shape != (n,) \
            or expanded.shape != (n,) or rows.min() < 0 or rows.max() >= n:
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


def pack_entry(automaton: Automaton, bits: np.ndarray, next_states: np.ndarray | None) -> Arrays:
    """The saved form of an entry of `automaton`: its packed bits (one per vocabulary token,
    `decoding.tokens.bits` order) and the state each allowed token leads to, in id order (None: not
    known)."""
    if next_states is None:
        return {"bits": bits}
    targets, codes = np.unique(next_states, return_inverse=True)
    flat, ends = _flatten([automaton.key(int(t)) for t in targets])
    dtype = next(d for d in _CODE_DTYPES if len(targets) <= np.iinfo(d).max + 1)
    return {"bits": bits, "target_flat": flat, "target_ends": ends,
            "target_accepting": automaton.accepting[targets].astype(bool),
            "codes": codes.astype(dtype)}


def unpack_entry(arrays: Arrays, automaton: Automaton, state: int, vocabulary: Vocabulary,
                 forbidden: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(bits, token_ids int64, next_states int32) of a packed entry of `state`, its target states
    added to `automaton` (each reached by the bytes of its first token in `vocabulary`); the
    ids and next states are None for an entry that is `bits` alone (targets the automaton
    already has and can derive are looked up by key, nothing added). `forbidden`: packed bits of
    tokens no entry may allow. ValueError (adding nothing to the automaton) if the arrays are
    not a valid entry."""
    vocab_size = vocabulary.size
    if arrays.keys() == {"bits"}:
        _check_bits(arrays["bits"], forbidden)
        return arrays["bits"], None, None
    try:
        bits, flat, ends, accepting, codes = (
            arrays[k] for k in ("bits", "target_flat", "target_ends", "target_accepting",
                                "codes"))
    except KeyError as exc:
        raise ValueError(f"entry lacks {exc}") from None
    _check_bits(bits, forbidden)
    # nonzero is several times faster on a bool view than on the uint8 bits themselves
    token_ids = np.flatnonzero(packed.unpack(bits, vocab_size))
    if codes.dtype not in _CODE_DTYPES or codes.shape != token_ids.shape \
            or (len(codes) and (codes.min() < 0 or codes.max() >= len(ends))):
        raise ValueError("entry codes do not index its targets")
    if accepting.dtype != np.bool_ or accepting.shape != ends.shape:
        raise ValueError("entry target flags have the wrong shape")
    known = _known_targets(automaton, flat, ends)
    if known is not None:  # the usual case on a warm start: nothing to add
        return bits, token_ids, known[codes]
    if flat.dtype != np.int32 or ends.dtype != np.int64 or not valid_keys(flat, ends) \
            or (len(ends) and (ends[0] == 0 or (np.diff(ends) == 0).any())):
        raise ValueError("entry targets are not non-empty state keys")
    # Restore the targets as states without rows, after the dead state restore() expects.
    n = len(ends) + 1
    first = np.full(n - 1, -1, dtype=np.int64)
    first[codes[::-1]] = token_ids[::-1]  # each target's first token (lowest id)
    origins = [None, *((state, vocabulary.bytes_of(t)) for t in first.tolist())]
    ids = automaton.restore(flat, np.concatenate([[0], ends]),
                            np.zeros((n, automaton.num_classes), dtype=np.int32),
                            np.zeros(n, dtype=bool), origins,
                            np.concatenate([[False], accepting]))
    return bits, token_ids, ids[1:][codes].astype(np.int32)


def _known_targets(automaton: Automaton, flat: np.ndarray,
                   ends: np.ndarray) -> np.ndarray | None:
    """The ids (int32) of an entry's targets when each is a state `automaton` already has and
    can derive (see `Automaton.rooted_states`), else None. Keys of the state width only: a
    target found by its key is a well-formed state key, so no other check is needed."""
    n = len(ends)
    if flat.dtype != np.int32 or flat.shape != (n * KEY_WIDTH,) or ends.dtype != np.int64 \
            or ends.shape != (n,) \
            or not np.array_equal(ends, np.arange(KEY_WIDTH, (n + 1) * KEY_WIDTH, KEY_WIDTH)):
        return None
    ids = automaton.rooted_states(list(map(tuple, flat.reshape(n, KEY_WIDTH).tolist())))
    return None if ids is None else np.array(ids, dtype=np.int32)


def _check_bits(bits: np.ndarray, forbidden: np.ndarray) -> None:
    """ValueError for an entry's bits of the wrong form or that allow a forbidden token."""
    if bits.dtype != np.uint8 or bits.shape != forbidden.shape or (bits & forbidden).any():
        raise ValueError("entry bits have the wrong shape or allow a forbidden token")


def _check_dtypes(arrays: Arrays, dtypes: dict) -> None:
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
