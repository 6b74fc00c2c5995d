"""Jump-forward: the tokens a decoding loop may append without asking the model.

`JumpForward(guide, encode)(state)` turns the guide's forced bytes at `state`
(`ForcedTextGuide.forced_bytes`, `decoding.guides.protocol`) into token ids the loop can feed in
one forward pass. How the forced text is tokenized:
- Canonical tokens: the forced text (its longest prefix of whole UTF-8 characters) is encoded by
  the tokenizer on its own (`encode`, no special tokens), so the model sees the split the
  tokenizer produces, never an arbitrary one.
- Soundness: the tokens' bytes must spell exactly that text and every token must be accepted by
  `guide.advance` in turn; otherwise nothing is forced (the loop takes ordinary steps). So the
  output still matches the pattern, and forcing is never more than a shortcut.
- End boundary (back-off): the text after the forced text is the model's to choose, and a token
  that crosses the end could be the canonical one there. So the last forced token is dropped
  while some token the guide allows where it starts is longer than the rest of the forced text
  (every allowed token agrees with the forced bytes, so a longer one crosses the end); the
  model then picks that token, or a shorter one, itself.
- Start boundary: the token the model just chose is kept as it is; the forced text is not
  re-tokenized together with it (the model committed to that split).
Results are memoized per state; the empty tuple means "take an ordinary step".
"""

from __future__ import annotations

from collections.abc import Callable

from decoding.errors import TokenRejected
from decoding.guides.protocol import ForcedTextGuide


class JumpForward:
    """The forced token ids of each guide state for one tokenizer (see the module docstring)."""

    def __init__(self, guide: ForcedTextGuide, encode: Callable[[str], list[int]]):
        self.guide = guide
        self.encode = encode
        self._token_bytes = guide.vocabulary.token_bytes
        self._lengths = guide.vocabulary.lengths
        self._memo: dict[int, tuple[int, ...]] = {}

    def __call__(self, state: int) -> tuple[int, ...]:
        """Token ids to append from `state`, in order; each is allowed where it is fed."""
        found = self._memo.get(state)
        if found is None:
            found = self._memo[state] = self._plan(state)
        return found

    def _plan(self, state: int) -> tuple[int, ...]:
        text = _whole_characters(self.guide.forced_bytes(state))
        if not text:
            return ()
        ids = [int(t) for t in self.encode(text.decode("utf-8"))]
        if b"".join(self._token_bytes[t] if 0 <= t < len(self._token_bytes) else b""
                    for t in ids) != text:
            return ()
        starts, offsets = [], []
        offset = 0
        for t in ids:
            starts.append(state)
            offsets.append(offset)
            try:
                state = self.guide.advance(state, t)
            except TokenRejected:
                return ()
            offset += len(self._token_bytes[t])
        n = len(ids)
        while n > 0 and self._longest_allowed(starts[n - 1]) > len(text) - offsets[n - 1]:
            n -= 1
        return tuple(ids[:n])

    def _longest_allowed(self, state: int) -> int:
        """Byte length of the longest non-EOS token the guide allows in `state` (0 if none)."""
        ids = self.guide.allowed_token_ids(state)
        return int(self._lengths[ids].max()) if len(ids) else 0


def _whole_characters(data: bytes) -> bytes:
    """The longest prefix of `data` that is valid UTF-8 made of whole characters."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as error:
        return data[: error.start]
