"""Forced text: the bytes that every match must continue with from an automaton state.

`ForcedText(automaton)(state)` follows the automaton from `state` while the current state
- is not accepting (a match could end there, so nothing more is forced), and
- has exactly one live byte: exactly one byte class leads to a non-dead state and that class
  holds exactly one byte (a class of several bytes is a choice, e.g. `[a-z]`),
and returns the bytes read on the way, at most `limit` of them.

Contract: every byte string that leads from `state` to acceptance starts with the result; the
state reached after it is accepting, has two or more live bytes, or the limit cut the walk. The
result is empty for the dead state and at branch points. Results are memoized per state (a state
is never renumbered, so the memo stays valid as the lazy automaton grows).

Threads: a `ForcedText` may be shared. It reads the automaton only through `expand` and
`is_accepting` (thread-safe, `decoding.automaton.dfa`); two threads meeting a new state at once
may both compute its result, which is the same, and one store wins.
"""

from __future__ import annotations

import numpy as np

from decoding.automaton.dfa import Automaton

DEFAULT_LIMIT = 256


class ForcedText:
    """The forced bytes of each state of one automaton (see the module docstring)."""

    def __init__(self, automaton: Automaton, limit: int = DEFAULT_LIMIT):
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self.automaton = automaton
        self.limit = limit
        classes = automaton.byte_class
        sizes = np.bincount(classes, minlength=automaton.num_classes)
        # The byte of each class that holds exactly one byte; -1 for the other classes.
        self._only_byte = np.full(automaton.num_classes, -1, dtype=np.int32)
        for byte, cls in enumerate(classes.tolist()):
            if sizes[cls] == 1:
                self._only_byte[cls] = byte
        self._memo: dict[int, bytes] = {}

    def __call__(self, state: int) -> bytes:
        """The longest byte string every match continuing from `state` starts with (bounded)."""
        found = self._memo.get(state)
        if found is None:
            found = self._memo[state] = self._follow(state)
        return found

    def _follow(self, state: int) -> bytes:
        a = self.automaton
        out = bytearray()
        while len(out) < self.limit and not a.is_accepting(state):
            row = a.expand(state)
            live = np.flatnonzero(row)
            if len(live) != 1 or self._only_byte[live[0]] < 0:
                break
            out.append(int(self._only_byte[live[0]]))
            state = int(row[live[0]])
        return bytes(out)
