"""One request's position in a guide, with the semantics vLLM's grammars must keep. No vLLM import.

A `GuideCursor` wraps a shared guide (`decoding.guides.guide.Guide` or any `TokenGuide`) and the
request's own history of states, so that:
- `accept_tokens(tokens)` is all-or-nothing: it advances through every token, or (on the first
  token the mask forbids) leaves the state unchanged and returns False;
- a stop token (the guide's EOS, or one of the request's `stop_ids`) is accepted only in an
  accepting state; it terminates the cursor, counts as one token for `rollback`, and tokens after
  it (in the same call or later ones) are ignored, as vLLM's own backends do;
- `validate_tokens(tokens)` returns the longest prefix `accept_tokens` would take, without moving;
- `rollback(n)` undoes exactly the last n accepted tokens (a stop token included);
- `fill_bitmask(out, row)` writes the state's mask into row `row` of an int32 bitmask
  (`decoding.guides.bitmask` layout): the guide's packed words (memoized per state), plus the
  request's stop ids where the state accepts; `fill_rows(pairs, out)` does a whole batch with one
  `decoding.guides.bitmask.fill_bitmasks` call.
A cursor belongs to one request (not thread-safe); its guide is shared.

`OutputFollower` feeds a cursor from a request's live output list (the logits-processor route,
where vLLM appends tokens and nothing asks the grammar first): a token the last mask forbade
(another processor or sampler put it there) cannot be followed, so the follower takes the
acceptable prefix, is marked `lost`, and from then on its row allows only the request's stop ids:
the request ends at once instead of being masked from a state its text is no longer in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from decoding.errors import TokenRejected, UsageError
from decoding.guides.bitmask import fill_bitmasks
from decoding.tokens import bits as packed

_NO_BITS = np.zeros(0, dtype=np.uint8)


class GuideCursor:
    """A request's states in `guide` (see the module docstring)."""

    def __init__(self, guide: Any, stop_ids: Iterable[int] = ()):
        self.guide = guide
        self._stops = frozenset(guide.vocabulary.eos_token_ids) | frozenset(stop_ids)
        self._ends = np.array(sorted(i for i in self._stops if 0 <= i < guide.vocab_size),
                              dtype=np.int64)  # what the mask allows where the state accepts
        self._states = [guide.initial_state]
        self._stopped_at: int | None = None  # len(_states) once a stop token was accepted
        self.lost = False  # set by `OutputFollower`: the mask allows only the stop ids

    @property
    def state(self) -> int:
        """The guide state after the accepted tokens."""
        return self._states[-1]

    def is_terminated(self) -> bool:
        """A stop token was accepted."""
        return self._stopped_at is not None

    def accept_tokens(self, tokens: Sequence[int]) -> bool:
        """Advance through `tokens`, or not at all (False) when one is forbidden."""
        if self.is_terminated():
            return True
        states, stopped = self._walk(tokens)
        if len(states) < len(tokens) and not stopped:
            return False
        self._states.extend(states)
        if stopped:
            self._stopped_at = len(self._states)
        return True

    def validate_tokens(self, tokens: Sequence[int]) -> list[int]:
        """The longest prefix of `tokens` that `accept_tokens` would accept."""
        if self.is_terminated():
            return []
        states, _ = self._walk(tokens)
        return list(tokens[:len(states)])

    def rollback(self, num_tokens: int) -> None:
        """Undo the last `num_tokens` accepted tokens."""
        if num_tokens <= 0:
            return
        if num_tokens >= len(self._states):
            raise UsageError(f"cannot roll back {num_tokens} tokens: only "
                             f"{len(self._states) - 1} were accepted")
        del self._states[-num_tokens:]
        if self._stopped_at is not None and len(self._states) < self._stopped_at:
            self._stopped_at = None

    def reset(self) -> None:
        """Back to the initial state, nothing accepted."""
        del self._states[1:]
        self._stopped_at = None

    def fill_bitmask(self, out: np.ndarray, row: int) -> None:
        """Write this cursor's mask into row `row` of the int32 bitmask `out`."""
        fill_rows([self], out[row:row + 1])

    def _walk(self, tokens: Sequence[int]) -> tuple[list[int], bool]:
        """The states after each token of the longest acceptable prefix, and whether that prefix
        ends with a stop token."""
        states: list[int] = []
        state = self.state
        for token in tokens:
            if token in self._stops:
                if self.guide.is_accepting(state):
                    states.append(state)
                    return states, True
                break
            try:
                state = self.guide.advance(state, token)
            except TokenRejected:
                break
            states.append(state)
        return states, False


class OutputFollower:
    """A cursor kept level with `output_ids`, a list the engine appends a request's tokens to."""

    def __init__(self, cursor: GuideCursor, output_ids: list[int]):
        self.cursor = cursor
        self.output_ids = output_ids
        self._seen = 0

    def catch_up(self) -> bool:
        """Accept the tokens appended since the last call. True when one of them was not
        acceptable (the acceptable prefix is taken, the rest ignored, and the cursor is `lost`
        from then on); False otherwise, and for every call after that."""
        new = self.output_ids[self._seen:]
        self._seen = len(self.output_ids)
        cursor = self.cursor
        if cursor.lost or cursor.accept_tokens(new):
            return False
        cursor.accept_tokens(cursor.validate_tokens(new))
        cursor.lost = True
        return True


def fill_rows(cursors: Sequence[GuideCursor], out: np.ndarray) -> None:
    """Row i of `out` (int32 [len(cursors), words]) gets the mask of `cursors[i]` (only its stop
    ids where it is `lost`)."""
    fill_bitmasks([(c.guide, c.state) for c in cursors], out, [c._ends for c in cursors])
    for i, cursor in enumerate(cursors):
        if cursor.lost:  # no token bits, the stop ids set: the row fill of `fill_bitmasks`
            packed.fill_rows([_NO_BITS], [cursor._ends], out[i:i + 1])
