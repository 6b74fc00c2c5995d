"""The vLLM structured-output backend and grammar backed by typedecode guides (imports vLLM).

`TypedecodeBackend` compiles REGEX, JSON and CHOICE requests (`decoding.vllm.requests`) into guides
for the model's vocabulary size (`vocab_size`, which may exceed the tokenizer's: ids past the
tokenizer are never allowed). Guides are memoized by `decoding.compile` and shared by every
request of a pattern (compilation runs on vLLM's thread pool; guides are thread-safe); each
request gets a `TypedecodeGrammar`, a `GuideCursor` with vLLM's method names. The first request
of a pattern in an engine preloads the masks the disk cache holds for it (`Guide.preload`: a
folder prepared by `typedecode cache warm`), there on the compile thread, so that the scheduler's
mask filling does not read the store. Other request kinds
raise `UnsupportedRequest` (vLLM fails that request only). The bitmask is vLLM's layout
(int32, `ceil(vocab_size / 32)` words per row, lowest bit first), filled in place through its
numpy view.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import torch
from vllm.v1.structured_output.backend_types import (
    StructuredOutputBackend,
    StructuredOutputGrammar,
    StructuredOutputOptions,
)

from decoding.guides.bitmask import words_per_row
from decoding.guides.guide import compile, vocabulary_of
from decoding.vllm.cursor import GuideCursor
from decoding.vllm.requests import UnsupportedRequest, pattern_for

_KINDS = {StructuredOutputOptions.REGEX: "regex", StructuredOutputOptions.JSON: "json",
          StructuredOutputOptions.CHOICE: "choice"}


def kind_of(request_type: StructuredOutputOptions) -> str:
    """The `decoding.vllm.requests` kind of a vLLM request type; `UnsupportedRequest` if none."""
    kind = _KINDS.get(request_type)
    if kind is None:
        raise UnsupportedRequest(f"typedecode serves regex, json and choice requests, not "
                                 f"{request_type.name.lower()}")
    return kind


@dataclass
class TypedecodeBackend(StructuredOutputBackend):
    """One per engine: the tokenizer's vocabulary, read once (and kept in the disk cache)."""

    def __post_init__(self) -> None:
        self.vocabulary = vocabulary_of(self.tokenizer)
        self._preloaded: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()

    def compile_grammar(self, request_type: StructuredOutputOptions, grammar_spec: str,
                        stop_token_ids: set[int] | None = None) -> StructuredOutputGrammar:
        guide = compile(pattern_for(kind_of(request_type), grammar_spec), self.vocabulary,
                        vocab_size=self.vocab_size)
        with self._lock:
            first = guide not in self._preloaded
            self._preloaded.add(guide)
        if first:
            guide.preload()
        return TypedecodeGrammar(GuideCursor(guide, stop_token_ids or ()))

    def allocate_token_bitmask(self, max_num_seqs: int) -> torch.Tensor:
        return torch.full((max_num_seqs, words_per_row(self.vocab_size)), -1, dtype=torch.int32)

    def destroy(self) -> None:
        """Nothing to release: guides live in `decoding.compile`'s memo and the disk cache."""


class TypedecodeGrammar(StructuredOutputGrammar):
    """vLLM's per-request grammar: `GuideCursor`'s semantics under vLLM's method names."""

    def __init__(self, cursor: GuideCursor):
        self.cursor = cursor

    def accept_tokens(self, request_id: str, tokens: list[int]) -> bool:
        return self.cursor.accept_tokens(tokens)

    def validate_tokens(self, tokens: list[int]) -> list[int]:
        return self.cursor.validate_tokens(tokens)

    def rollback(self, num_tokens: int) -> None:
        self.cursor.rollback(num_tokens)

    def fill_bitmask(self, bitmask: torch.Tensor, batch_index: int) -> None:
        self.cursor.fill_bitmask(bitmask.numpy(), batch_index)

    def is_terminated(self) -> bool:
        return self.cursor.is_terminated()

    def reset(self) -> None:
        self.cursor.reset()
