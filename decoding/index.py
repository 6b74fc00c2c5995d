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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from decoding.dfa import DEAD, Automaton
from decoding.vocabulary import Vocabulary


@dataclass(frozen=True)
class StateEntry:
    """What a state allows: sorted token ids, the state each leads to, and the boolean mask."""

    token_ids: np.ndarray    # int64, sorted
    next_states: np.ndarray  # int32, aligned with token_ids
    mask: torch.Tensor       # bool [width]; shared, never modify in place


class TokenIndex:
    """Per-state token masks and transitions for one automaton and one vocabulary."""

    def __init__(self, automaton: Automaton, vocabulary: Vocabulary, width: int | None = None):
        if width is None:
            width = vocabulary.size
        if width < vocabulary.size:
            raise ValueError(f"mask width {width} is smaller than the vocabulary ({vocabulary.size})")
        self.automaton = automaton
        self.vocabulary = vocabulary
        self.width = width
        usable = vocabulary.lengths > 0
        if vocabulary.special_ids:
            usable[np.fromiter(vocabulary.special_ids, dtype=np.int64)] = False
        self._ids = np.flatnonzero(usable)
        self._starts = vocabulary.offsets[self._ids]
        self._lengths = vocabulary.lengths[self._ids]
        # The byte table in this automaton's byte classes, so each step is one gather.
        self._classes = automaton.byte_class[vocabulary.flat].astype(np.int32)
        self._eos = np.fromiter(sorted(vocabulary.eos_token_ids), dtype=np.int64)
        self._entries: dict[int, StateEntry] = {}

    def entry(self, state: int) -> StateEntry:
        """The memoized entry for `state`, computed on first use."""
        e = self._entries.get(state)
        if e is None:
            e = self._entries[state] = self._compute(state)
        return e

    def has_entry(self, state: int) -> bool:
        return state in self._entries

    def add_entry(self, state: int, token_ids: np.ndarray, next_states: np.ndarray) -> None:
        """Install an entry computed elsewhere (e.g. loaded from the cache)."""
        self._entries[state] = self._make_entry(state, token_ids, next_states)

    def _compute(self, state: int) -> StateEntry:
        next_of = self.walk(state)
        token_ids = np.flatnonzero(next_of)
        return self._make_entry(state, token_ids, next_of[token_ids])

    def walk(self, state: int) -> np.ndarray:
        """int32 [vocabulary.size]: the state each token leads to from `state` (DEAD: not allowed)."""
        a = self.automaton
        next_of = np.zeros(self.vocabulary.size, dtype=np.int32)
        if state == DEAD:
            return next_of
        ids, pos, lengths = self._ids, self._starts, self._lengths
        cur = np.full(len(ids), state, dtype=np.int32)
        a.expand(state)
        step = 1
        while len(ids):
            if step > 1:
                a.expand_all(cur)
            cur = a.rows[cur, self._classes[pos]]
            alive = cur != DEAD
            done = alive & (lengths == step)
            next_of[ids[done]] = cur[done]
            go = alive & (lengths > step)
            ids, pos, lengths, cur = ids[go], pos[go] + 1, lengths[go], cur[go]
            step += 1
        return next_of

    def _make_entry(self, state: int, token_ids: np.ndarray, next_states: np.ndarray) -> StateEntry:
        mask = torch.zeros(self.width, dtype=torch.bool)
        mask[torch.from_numpy(np.asarray(token_ids, dtype=np.int64))] = True
        if self.automaton.is_accepting(state) and len(self._eos):
            mask[torch.from_numpy(self._eos)] = True
        return StateEntry(np.asarray(token_ids, dtype=np.int64),
                          np.asarray(next_states, dtype=np.int32), mask)
