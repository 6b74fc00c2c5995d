"""Token bitmasks in the layout serving engines use (vLLM, llguidance, xgrammar): one row of
`ceil(width / 32)` int32 words per sequence, token `32*w + k` allowed iff bit k of word w is set.

`fill_bitmasks(rows, out)` writes one row per (guide, state) pair. A `decoding.guides.guide.Guide`
copies its entry's packed bits (`decoding.tokens.bits` has the same layout) and sets the EOS
bits where the state accepts, without making a mask tensor; any other `TokenGuide` is packed from
its mask. Rows are filled in order on the calling thread; entries a row needs are computed (and
memoized) on the way, so a row's cost after the first visit of its state is a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decoding.errors import UsageError
from decoding.guides.guide import Guide
from decoding.tokens import bits as packed


def words_per_row(width: int) -> int:
    """How many int32 words hold one row of `width` tokens."""
    return (width + 31) // 32


def allocate(rows: int, width: int) -> np.ndarray:
    """A zeroed int32 bitmask of `rows` rows for masks `width` wide."""
    return np.zeros((rows, words_per_row(width)), dtype=np.int32)


def fill_bitmask(guide: Any, state: int, row: np.ndarray) -> None:
    """Write the tokens `guide` allows in `state` into `row` (int32, at least
    `words_per_row(guide.vocab_size)` words; words past the mask's width are zeroed)."""
    if row.dtype != np.int32 or row.ndim != 1 or len(row) < words_per_row(guide.vocab_size):
        raise UsageError(f"a bitmask row must be int32 with at least "
                         f"{words_per_row(guide.vocab_size)} words for masks "
                         f"{guide.vocab_size} wide")
    if isinstance(guide, Guide):
        packed.fill_words(guide.index.entry(state).bits, row)
        if guide.is_accepting(state):
            flags = row.view(np.uint8)
            for eos in guide.vocabulary.eos_token_ids:
                flags[eos >> 3] |= 1 << (eos & 7)
    else:
        packed.fill_words(packed.pack(guide.allowed_tokens(state).numpy()), row)


def fill_bitmasks(rows: Sequence[tuple[Any, int]], out: np.ndarray) -> None:
    """Fill row i of `out` (int32 [len(rows), words]) for `rows[i] = (guide, state)`."""
    if out.ndim != 2 or len(out) < len(rows):
        raise UsageError(f"the bitmask needs {len(rows)} rows, it has shape {out.shape}")
    for i, (guide, state) in enumerate(rows):
        fill_bitmask(guide, state, out[i])
