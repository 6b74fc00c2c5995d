"""PartialGuide: the `regex` module's partial matching behind the guide contract.

For patterns outside the automaton's syntax (lookaround, backreferences...). A state is the text
generated so far; a token is allowed when the text plus the token's bytes can still be extended
to a full match (`regex.fullmatch(..., partial=True)`, RELLM's test). The vocabulary is walked as
a byte trie, so a failed prefix prunes every token that starts with it, and each state's result is
memoized. Incomplete UTF-8 at the end of a prefix is set aside before testing (the next token may
complete the character); invalid UTF-8 is rejected. This over-approximates at character splits:
a token ending inside a character is allowed when the text before that character is viable, and
`is_finished` is True only when no such token remains either. The guide contract is in
`decoding.guide`.
"""

from __future__ import annotations

import numpy as np
import regex
import torch

from decoding.errors import PatternSyntaxError, TokenRejected
from decoding.vocabulary import Vocabulary


class PartialGuide:
    """A guide that tests prefixes with `regex` partial matching (any pattern the module takes)."""

    def __init__(self, pattern: str | regex.Pattern, vocabulary: Vocabulary,
                 vocab_size: int | None = None):
        try:
            self._regex = pattern if isinstance(pattern, regex.Pattern) else regex.compile(pattern)
        except regex.error as e:
            text = pattern if isinstance(pattern, str) else None
            raise PatternSyntaxError(f"invalid pattern: {e.msg}", text, e.pos) from None
        self.pattern = self._regex.pattern
        self.vocabulary = vocabulary
        self.vocab_size = vocab_size or vocabulary.size
        usable = [i for i, b in enumerate(vocabulary.token_bytes)
                  if b and i not in vocabulary.special_ids]
        usable.sort(key=lambda i: vocabulary.token_bytes[i])
        self._sorted_ids = usable
        self._sorted_bytes = [vocabulary.token_bytes[i] for i in usable]
        self._texts: list[bytes] = [b""]
        self._states: dict[bytes, int] = {b"": 0}
        self._masks: dict[int, torch.Tensor] = {}
        self.initial_state = 0

    def allowed_tokens(self, state: int) -> torch.Tensor:
        mask = self._masks.get(state)
        if mask is None:
            mask = self._masks[state] = self._compute_mask(state)
        return mask

    def advance(self, state: int, token_id: int) -> int:
        token_id = int(token_id)
        if token_id in self.vocabulary.eos_token_ids and self.is_accepting(state):
            return state
        if not (0 <= token_id < self.vocab_size and self.allowed_tokens(state)[token_id]) \
                or token_id in self.vocabulary.eos_token_ids:
            raise TokenRejected(f"token {token_id} is not allowed in state {state}")
        text = self._texts[state] + self.vocabulary.token_bytes[token_id]
        sid = self._states.get(text)
        if sid is None:
            sid = self._states[text] = len(self._texts)
            self._texts.append(text)
        return sid

    def is_accepting(self, state: int) -> bool:
        text = _complete_text(self._texts[state])
        return text is not None and text[1] == 0 and self._regex.fullmatch(text[0]) is not None

    def is_finished(self, state: int) -> bool:
        if not self.is_accepting(state):
            return False
        mask = self.allowed_tokens(state).clone()
        mask[list(self.vocabulary.eos_token_ids)] = False
        return not bool(mask.any())

    def _viable(self, data: bytes) -> bool:
        text = _complete_text(data)
        return text is not None and self._regex.fullmatch(text[0], partial=True) is not None

    def _compute_mask(self, state: int) -> torch.Tensor:
        prefix = self._texts[state]
        allowed = np.zeros(self.vocab_size, dtype=bool)
        tokens = self._sorted_bytes
        # Depth-first over the sorted token list: a run of tokens sharing `depth` leading bytes
        # is a trie node; test the node once and skip the whole run when it fails.
        stack = [(0, len(tokens), 0)]
        while stack:
            lo, hi, depth = stack.pop()
            i = lo
            while i < hi:
                tok = tokens[i]
                if len(tok) <= depth:  # token ends at this node: already tested as a prefix
                    allowed[self._sorted_ids[i]] = True
                    i += 1
                    continue
                head = tok[: depth + 1]
                j = i + 1
                while j < hi and tokens[j][: depth + 1] == head:
                    j += 1
                if self._viable(prefix + head):
                    stack.append((i, j, depth + 1))
                i = j
        mask = torch.from_numpy(allowed)
        if self.is_accepting(state):
            mask[list(self.vocabulary.eos_token_ids)] = True
        return mask


def _complete_text(data: bytes) -> tuple[str, int] | None:
    """(decoded text, number of trailing bytes of an unfinished character) or None if invalid."""
    for cut in range(0, min(3, len(data)) + 1):
        try:
            return data[: len(data) - cut].decode("utf-8"), cut
        except UnicodeDecodeError as e:
            if e.start < len(data) - 3 or e.reason != "unexpected end of data":
                return None
    return None
