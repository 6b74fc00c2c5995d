"""The guide contract: what a decoding loop may rely on, as typed protocols.

`TokenGuide` is what every guide provides (`decoding.guides.guide.Guide`, the automaton engine,
and `decoding.guides.partial.PartialGuide`, the `regex` partial-match engine); a loop, a logits
processor or any other consumer needs nothing else. `ForcedTextGuide` adds the optional
capability jump-forward needs (`decoding.hf.jump`); only `Guide` has it. Both protocols are
`runtime_checkable`: `isinstance(guide, ForcedTextGuide)` is how a consumer tells whether it may
jump forward (it checks that the members exist, not their signatures).

States are plain ints, meaningful only to the guide that made them. Every method takes any
integer (a numpy integer, a 0-d tensor) as a state or token id; a state the guide never made, or
an argument that is no integer, raises `decoding.errors.UsageError` (`decoding.guides.arguments`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from decoding.errors import UsageError

ENGINES = ("automaton", "partial")
"""The guide engines `decoding.compile` builds: the automaton (`Guide`) and `PartialGuide`."""


def check_engine(engine: object) -> None:
    """`UsageError` unless `engine` names one of `ENGINES`."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")

if TYPE_CHECKING:
    import numpy as np
    import torch

    from decoding.tokens.vocabulary import Vocabulary


@runtime_checkable
class TokenGuide(Protocol):
    """A state machine over token ids that keeps the generated text a possible full match."""

    @property
    def initial_state(self) -> int:
        """The state before any token."""
        ...

    @property
    def vocabulary(self) -> Vocabulary:
        """The vocabulary the guide was compiled for: token bytes, EOS and special ids."""
        ...

    @property
    def vocab_size(self) -> int:
        """The mask width (the model's logits width); at least `vocabulary.size`, and the ids
        past the vocabulary are never allowed."""
        ...

    def allowed_tokens(self, state: int) -> torch.Tensor:
        """The `[vocab_size]` bool mask of `state`: True for the tokens after which a full match
        is still possible, and for EOS exactly when `state` is accepting. Special tokens other
        than EOS are never allowed. The tensor is shared (CPU, memoized per state): read it,
        never modify it in place."""
        ...

    def advance(self, state: int, token_id: int) -> int:
        """The state after `token_id`; raises `decoding.errors.TokenRejected` when the mask of
        `state` does not allow it. EOS in an accepting state returns `state` itself."""
        ...

    def is_accepting(self, state: int) -> bool:
        """The text that led to `state` fully matches the pattern."""
        ...

    def is_finished(self, state: int) -> bool:
        """Accepting, and nothing but EOS may follow: decoding should stop at once."""
        ...


@runtime_checkable
class ForcedTextGuide(TokenGuide, Protocol):
    """A `TokenGuide` that also knows the text the pattern forces next (for jump-forward)."""

    def forced_bytes(self, state: int) -> bytes:
        """The bytes every match continuing from `state` starts with (possibly a bounded
        prefix of them); empty where the text may end or branch. Every token the mask of `state`
        allows agrees with them."""
        ...

    def allowed_token_ids(self, state: int) -> np.ndarray:
        """The sorted ids of the non-EOS tokens the mask of `state` allows."""
        ...
