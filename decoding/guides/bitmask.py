"""Token bitmasks in the layout serving engines use (vLLM, llguidance, xgrammar): one row of
`ceil(width / 32)` int32 words per sequence, token `32*w + k` allowed iff bit k of word w is set.

`fill_bitmasks(rows, out)` writes one row per (guide, state) pair, for a whole batch: a
`decoding.guides.guide.Guide` contributes its entry's packed bits (`decoding.tokens.bits` has the
same layout) and, where the state accepts, its EOS ids (or the caller's `ends`); all rows are then copied in by one call
(`decoding.tokens.bits.fill_rows`: compiled where the C module is built, releasing the GIL
for 1 MiB or more), so a row whose state was visited before costs a dict lookup and a copy, and no mask tensor is
made. Any other `TokenGuide` is packed from its mask. Entries the rows need are computed (and
memoized) on the calling thread first. Guides are thread-safe, so several threads may fill
disjoint row ranges of one bitmask at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decoding.errors import UsageError
from decoding.guides.arguments import checked_state
from decoding.guides.guide import Guide
from decoding.tokens import bits as packed

_NO_EOS = np.zeros(0, dtype=np.int64)


def words_per_row(width: int) -> int:
    """How many int32 words hold one row of `width` tokens."""
    return (width + 31) // 32


def allocate(rows: int, width: int) -> np.ndarray:
    """A zeroed int32 bitmask of `rows` rows for masks `width` wide."""
    return np.zeros((rows, words_per_row(width)), dtype=np.int32)


def fill_bitmask(guide: Any, state: int, row: np.ndarray) -> None:
    """Write the tokens `guide` allows in `state` into `row` (int32, at least
    `words_per_row(guide.vocab_size)` words; words past the mask's width are zeroed)."""
    if row.dtype != np.int32 or row.ndim != 1:
        raise UsageError(f"a bitmask row must be 1-D int32, not {row.ndim}-D {row.dtype}")
    fill_bitmasks([(guide, state)], row[None, :])


def fill_bitmasks(rows: Sequence[tuple[Any, int]], out: np.ndarray,
                  ends: Sequence[np.ndarray] | None = None) -> None:
    """Fill row i of `out` (int32 [len(rows), words], each row contiguous) for
    `rows[i] = (guide, state)`; a row needs at least `words_per_row(guide.vocab_size)` words.
    `ends[i]` (int64 ids below the guide's `vocab_size`): the ids row i allows where its state
    accepts, in place of the guide's EOS ids (a serving engine's per-request stop tokens)."""
    if out.dtype != np.int32 or out.ndim != 2 or len(out) < len(rows):
        raise UsageError(f"the bitmask must be 2-D int32 with at least {len(rows)} rows, not "
                         f"{out.dtype} of shape {out.shape}")
    if len(out) > 1 and out.strides[0] < out.shape[1] * 4 or out.strides[1] != 4:
        raise UsageError(f"the bitmask's rows must be contiguous, not of strides {out.strides}")
    bits, eos = [], []
    for i, (guide, state) in enumerate(rows):
        if guide.vocab_size > out.shape[1] * 32:
            raise UsageError(f"a bitmask row must be int32 with at least "
                             f"{words_per_row(guide.vocab_size)} words for masks "
                             f"{guide.vocab_size} wide")
        if type(guide) is Guide:
            state = checked_state(state, guide.automaton.num_states)
            bits.append(guide.index.entry(state).bits)
            accepting, own = guide.automaton.is_accepting(state), guide.index.eos_ids
        else:  # its mask holds its EOS ids already
            bits.append(packed.pack(guide.allowed_tokens(state).numpy()))
            accepting, own = guide.is_accepting(state), _NO_EOS
        eos.append((own if ends is None else ends[i]) if accepting else _NO_EOS)
    packed.fill_rows(bits, eos, out)
