"""Spelling a byte string with tokens: the fewest-lookups greedy split used where typedecode
itself must write text (the budget's completions, a forced closing marker).

`Speller(vocabulary).spell(data)` returns token ids whose bytes (`Vocabulary.token_bytes`)
concatenate to exactly `data`, taking at each position the longest token that matches there
(never a special token); None when some position has no token at all. So the split has at most
`len(data)` tokens, and it exists for every `data` when `byte_complete` (every one of the 256
bytes is a token on its own). Among tokens with equal bytes the lowest id is used.
`speller_of(vocabulary)` is memoized per vocabulary (by fingerprint; the last four).
"""

from __future__ import annotations

from decoding.tokens.vocabulary import Vocabulary
from decoding.util import LRU

_SPELLERS: LRU[str, "Speller"] = LRU(4)


def speller_of(vocabulary: Vocabulary) -> Speller:
    """The `Speller` of `vocabulary`, made once (see the module docstring)."""
    return _SPELLERS.get_or_make(vocabulary.fingerprint, lambda: Speller(vocabulary))[0]


class Speller:
    """Greedy longest-match splits of byte strings into one vocabulary's tokens."""

    def __init__(self, vocabulary: Vocabulary):
        ids: dict[bytes, int] = {}
        for i, data in enumerate(vocabulary.token_bytes):
            if data and i not in vocabulary.special_ids:
                ids.setdefault(data, i)
        self._ids = ids
        self._longest = max(map(len, ids), default=0)
        self.byte_complete = all(bytes((b,)) in ids for b in range(256))

    def byte_token(self, byte: int) -> int | None:
        """The token that is exactly `byte`, or None."""
        return self._ids.get(bytes((byte,)))

    def spell(self, data: bytes) -> tuple[int, ...] | None:
        """Token ids spelling exactly `data` (see the module docstring), or None."""
        out = []
        pos = 0
        while pos < len(data):
            for n in range(min(self._longest, len(data) - pos), 0, -1):
                token = self._ids.get(data[pos:pos + n])
                if token is not None:
                    out.append(token)
                    pos += n
                    break
            else:
                return None
        return tuple(out)
