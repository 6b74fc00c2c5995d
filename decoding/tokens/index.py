"""TokenIndex: for each automaton state, the tokens allowed next and the state each leads to.

Invariants:
- A token is allowed in state s iff it is not special, its byte string is non-empty, and reading
  its bytes from s never reaches the dead state. Because every non-dead automaton state can
  still reach acceptance, every allowed token keeps a complete match possible.
- EOS ids are allowed exactly in accepting states; ids at or above the vocabulary's size (a model
  whose logits are wider than its tokenizer) are never allowed.
- Entries are computed on first request by one vectorized walk of the whole vocabulary (numpy over
  the flat byte table; no Python loop per token) and memoized per state. Masks are shared,
  read-only tensors.
- States in one mask class (`Automaton.mask_class` with a horizon one past the longest token:
  e.g. positions 20 and 21 of a 32,767-character string) share one walk: the second gets the
  first's token ids and mask, and `next_states` None (its transitions are walked per token when
  asked for). `shared` counts such entries.
- `nbytes` is the memory of the entries' arrays (a shared mask counted once); an entry that would
  take it past `max_bytes` (`decoding.limits` `guide_bytes`, read at construction)
  raises `PatternTooComplex` and is not added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from decoding import limits
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.expr import Expr
from decoding.errors import PatternTooComplex, UsageError
from decoding.tokens.trie import trie_of
from decoding.tokens.vocabulary import Vocabulary

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
        # Each trie node's byte in this automaton's byte classes, so each depth is one gather;
        # made on the first walk (an index whose entries all come from the cache never walks).
        self._node_class: np.ndarray | None = None
        self._eos = np.fromiter(sorted(vocabulary.eos_token_ids), dtype=np.int64)
        self._entries: dict[int, StateEntry] = {}
        self._horizon = int(vocabulary.lengths.max(initial=0)) + 1
        self._by_class: dict[Expr, StateEntry] = {}
        self.shared = 0
        self.nbytes = 0
        self.max_bytes = limits.current().guide_bytes

    def entry(self, state: int) -> StateEntry:
        """The memoized entry for `state`, computed on first use."""
        e = self._entries.get(state)
        if e is None:
            e = self._entries[state] = self._counted(self._compute(state))
        return e

    def has_entry(self, state: int) -> bool:
        return state in self._entries

    def add_entry(self, state: int, token_ids: np.ndarray, next_states: np.ndarray) -> None:
        """Install an entry computed elsewhere (e.g. loaded from the cache)."""
        self._entries[state] = self._counted(self._make_entry(state, token_ids, next_states))

    def _counted(self, entry: StateEntry) -> StateEntry:
        """`entry`, its arrays added to `nbytes` (see the module doc)."""
        size = _ENTRY_OVERHEAD
        if entry.next_states is not None:  # a shared entry (None) reuses another's arrays
            size += entry.token_ids.nbytes + entry.next_states.nbytes + entry.mask.numel()
        if self.nbytes + size > self.max_bytes:
            raise PatternTooComplex(
                f"the guide's masks need more than {self.max_bytes:,} bytes after "
                f"{len(self._entries):,} states (TYPEDECODE_MAX_GUIDE_BYTES)",
                self.automaton.pattern, None)
        self.nbytes += size
        return entry

    def _compute(self, state: int) -> StateEntry:
        like = self.automaton.mask_class(state, self._horizon)
        if like is not None:
            hit = self._by_class.get(like)
            if hit is not None:
                self.shared += 1
                return StateEntry(hit.token_ids, None, hit.mask)
        next_of = self.walk(state)
        token_ids = np.flatnonzero(next_of != DEAD)  # nonzero is fastest on bools
        entry = self._make_entry(state, token_ids, next_of[token_ids])
        if like is not None:
            self._by_class[like] = entry
        return entry

    def walk(self, state: int) -> np.ndarray:
        """int32 [vocabulary.size]: the state each token leads to from `state` (DEAD: not allowed)."""
        a, trie = self.automaton, self._trie
        if self._node_class is None:
            self._node_class = a.byte_class[trie.node_byte]
        node_state = np.zeros(trie.num_nodes, dtype=np.int32)
        node_state[0] = state
        a.expand(state)
        bounds = trie.level_bounds
        for d in range(1, len(bounds)):
            lo, hi = bounds[d - 1], bounds[d]
            idx = node_state[trie.parent[lo:hi]]  # int32: max_states * 256 < 2**31
            idx *= a.num_classes
            idx += self._node_class[lo:hi]
            reached = a.rows.ravel()[idx]
            if not reached.any():
                break
            node_state[lo:hi] = reached
            if not a.expanded[reached].all():
                a.expand_all(reached)
        node_state[0] = DEAD  # unusable tokens point at the root
        return node_state[trie.token_node]

    def _make_entry(self, state: int, token_ids: np.ndarray, next_states: np.ndarray) -> StateEntry:
        token_ids = np.asarray(token_ids, dtype=np.int64)
        # Built with numpy and shared with torch: torch's own fill kernels can stall for
        # milliseconds on a busy machine (thread pool start-up), numpy's cannot.
        allowed = np.zeros(self.width, dtype=bool)
        allowed[token_ids] = True
        if self.automaton.is_accepting(state):
            allowed[self._eos] = True
        return StateEntry(token_ids, np.asarray(next_states, dtype=np.int32),
                          torch.from_numpy(allowed))
