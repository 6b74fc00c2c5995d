"""TokenIndex: for each automaton state, the tokens allowed next and the state each leads to.

Invariants:
- A token is allowed in state s iff it is not special, its byte string is non-empty, and reading
  its bytes from s never reaches the dead state. Because every non-dead automaton state can
  still reach acceptance, every allowed token keeps a complete match possible.
- EOS ids are allowed exactly in accepting states; ids at or above the vocabulary's size (a model
  whose logits are wider than its tokenizer) are never allowed.
- Entries are computed on first request by one walk of the vocabulary's trie
  (`decoding.tokens.walk`: compiled, or numpy level by level) and memoized per state. Masks are shared,
  read-only tensors.
- States in one mask class (`Automaton.mask_class` with a horizon one past the longest token:
  e.g. positions 20 and 21 of a 32,767-character string) share one walk: the second gets the
  first's token ids and mask, and `next_states` None (its transitions are walked per token when
  asked for). `shared` counts such entries.
- A state `cat(x{lo,hi}, r)` with a wide x (a string body) takes the tokens that stay
  inside the repetition from tables shared by every such state (`decoding.tokens.lexemes`) and
  walks only the trie's subtrees with tokens that can leave it; `next_states` None. `split`
  counts such entries.

- `nbytes` is the memory of the entries made here (`_make_entry`: arrays and mask; an entry that
  shares another's is not counted again); one that would take it past `max_bytes`
  (`decoding.limits` `guide_bytes`, read at construction) raises `PatternTooComplex` instead.

Threads: an index may be shared (`compile` gives every guide of a pattern the same one). An
entry, once stored, is never replaced: `entry` reads the memo without a lock and, on a miss,
computes under the index's own lock (checked again inside it, so each state is walked once; the
walk's automaton work takes the automaton's lock). Entries are immutable and handed out as they
are: `token_ids` and `next_states` are read-only arrays, and the mask's numpy buffer is marked
read-only once the tensor is made (torch has no read-only tensors; nothing in typedecode writes
to a mask: callers copy, as `mask_logits` does). Subclasses make entries in `_compute`, which
runs under the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from decoding import limits
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.expr import Expr, first_bytes
from decoding.errors import PatternTooComplex, UsageError
from decoding.tokens.lexemes import lexemes_of, split_head
from decoding.tokens.trie import trie_of
from decoding.tokens.vocabulary import Vocabulary
from decoding.tokens.walk import TrieWalk

_ENTRY_OVERHEAD = 200  # bytes of an entry's objects besides its arrays (estimate)


@dataclass(frozen=True)
class StateEntry:
    """What a state allows: sorted token ids, the state each leads to, and the boolean mask."""

    token_ids: np.ndarray            # int64, sorted
    next_states: np.ndarray | None   # int32, aligned with token_ids; None: not computed
    mask: torch.Tensor               # bool [width]; shared, never modify in place


class TokenIndex:
    """Per-state token masks and transitions for one automaton and one vocabulary.

    Masks are `width` wide (default: the vocabulary's size); a smaller `width` (`compile`'s
    `vocab_size`) raises `UsageError`.
    """

    def __init__(self, automaton: Automaton, vocabulary: Vocabulary, width: int | None = None):
        if width is None:
            width = vocabulary.size
        if width < vocabulary.size:
            raise UsageError(f"vocab_size (the mask width) {width} is smaller than the "
                             f"vocabulary ({vocabulary.size})")
        self.automaton = automaton
        self.vocabulary = vocabulary
        self.width = width
        self._trie = trie_of(vocabulary)
        self._walk: TrieWalk | None = None
        self._eos = np.fromiter(sorted(vocabulary.eos_token_ids), dtype=np.int64)
        self._entries: dict[int, StateEntry] = {}
        self._horizon = int(vocabulary.lengths.max(initial=0)) + 1
        self._by_class: dict[Expr, StateEntry] = {}
        self.shared = 0
        self._lock = threading.RLock()  # held to compute and store entries
        self.split = 0
        self.nbytes = 0
        self.max_bytes = limits.current().guide_bytes

    def entry(self, state: int) -> StateEntry:
        """The memoized entry for `state`, computed on first use."""
        found = self._entries.get(state)
        if found is None:
            with self._lock:
                found = self._entries.get(state)
                if found is None:
                    found = self._entries[state] = self._compute(state)
        return found

    def has_entry(self, state: int) -> bool:
        return state in self._entries

    def _compute(self, state: int) -> StateEntry:
        """The entry of `state` (called under the lock, for a state without one)."""
        like = self.automaton.mask_class(state, self._horizon)
        if like is not None:
            hit = self._by_class.get(like)
            if hit is not None:
                self.shared += 1
                return StateEntry(hit.token_ids, None, hit.mask)
        entry = self._split_entry(state)
        if entry is None:
            next_of = self.walk(state)
            token_ids = np.flatnonzero(next_of != DEAD)  # nonzero is fastest on bools
            entry = self._make_entry(state, token_ids, next_of[token_ids])
        if like is not None:
            self._by_class[like] = entry
        return entry

    def walk(self, state: int, prune: np.ndarray | None = None) -> np.ndarray:
        """int32 [vocabulary.size]: the state each token leads to from `state` (DEAD: not allowed;
        `prune` as in `TrieWalk.next_states`)."""
        if self._walk is None:  # an index whose entries all come from the cache never walks
            self._walk = TrieWalk(self._trie, self.automaton)
        return self._walk.next_states(state, prune)

    def _split_entry(self, state: int) -> StateEntry | None:
        """The entry of a state `cat(x{lo,hi}, r)` from the lexeme tables: the tokens that stay
        inside the repetition, plus a walk of only the subtrees holding tokens that can leave
        it (`decoding.tokens.lexemes`); next states are left to `Guide.advance`. None for
        states of other shapes."""
        split = split_head(self.automaton.expression_of(state))
        if split is None:
            return None
        x, hi, rest = split
        lexemes = lexemes_of(self.vocabulary)
        items = lexemes.inside(x)
        if items is None:
            return None
        allowed = items >= 0 if hi is None else (items >= 0) & (items <= hi)
        allowed |= self.walk(state, lexemes.crossing(first_bytes(rest))) != DEAD
        self.split += 1
        return self._make_entry(state, np.flatnonzero(allowed), None)

    def _make_entry(self, state: int, token_ids: np.ndarray,
                    next_states: np.ndarray | None) -> StateEntry:
        token_ids = _frozen(token_ids, np.int64)
        size = (_ENTRY_OVERHEAD + token_ids.nbytes + self.width
                + (0 if next_states is None else 4 * len(next_states)))
        if self.nbytes + size > self.max_bytes:
            raise PatternTooComplex(
                f"the guide's masks need more than {self.max_bytes:,} bytes after "
                f"{len(self._entries):,} states (TYPEDECODE_MAX_GUIDE_BYTES)",
                self.automaton.pattern, None)
        self.nbytes += size
        # Built with numpy and shared with torch: torch's own fill kernels can stall for
        # milliseconds on a busy machine (thread pool start-up), numpy's cannot.
        allowed = np.zeros(self.width, dtype=bool)
        allowed[token_ids] = True
        if self.automaton.is_accepting(state):
            allowed[self._eos] = True
        return StateEntry(token_ids, None if next_states is None else _frozen(next_states, np.int32),
                          shared_mask(allowed))


def shared_mask(allowed: np.ndarray) -> torch.Tensor:
    """A mask tensor over `allowed` (which the mask now owns), its buffer made read-only."""
    mask = torch.from_numpy(allowed)
    allowed.flags.writeable = False  # after: torch warns about read-only arrays
    return mask


def _frozen(values: np.ndarray, dtype: type) -> np.ndarray:
    """`values` as a read-only array of `dtype` (the entry owns it: callers pass new arrays)."""
    out = np.asarray(values, dtype=dtype)
    out.flags.writeable = False
    return out
