"""`TypedecodeLogitsProcessor`: typedecode as a vLLM batch-level logits processor (imports vLLM).

For engines started without the backend: `LLM(model, logits_processors=[TypedecodeLogitsProcessor])`
(or `"decoding.vllm.processor:TypedecodeLogitsProcessor"`, and `--logits-processors` for the
server). A request opts in through `SamplingParams(extra_args=...)`, read by
`decoding.vllm.requests.constraint_of`: `{"typedecode": {"regex": ...}}`,
`{"typedecode": {"json_schema": ...}}`, or a flat key of `FLAT_KEYS` (over HTTP, `vllm_xargs`).
Bad arguments fail the request at submission (`validate_params`: `VLLMValidationError`, HTTP 400).

Per batch step, `apply` advances each constrained row's `GuideCursor` through the tokens its
request produced since the last step (`OutputFollower`: a token no mask allowed, put there by
another processor, ends the request with an error logged, instead of masking from a stale
state), fills one int32 bitmask for all those rows with a single
`decoding.guides.bitmask.fill_bitmasks` call, unpacks it once, and sets the forbidden logits of
those rows to -inf (other rows are untouched). EOS (and the request's stop ids) are allowed only
in accepting states, so an unfinished text never stops on EOS (`max_tokens` may still cut it).
Guides are compiled when a request joins the batch (memoized and disk-cached by pattern).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from vllm import SamplingParams
from vllm.exceptions import VLLMValidationError
from vllm.tokenizers import cached_tokenizer_from_config
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from decoding.errors import TypedecodeError
from decoding.guides.bitmask import allocate
from decoding.guides.guide import compile, vocabulary_of
from decoding.vllm.cursor import GuideCursor, OutputFollower, fill_rows
from decoding.vllm.requests import constraint_of, pattern_for

_LOG = logging.getLogger("vllm")


class TypedecodeLogitsProcessor(LogitsProcessor):
    """Masks each opted-in request's logits to the tokens its pattern allows next."""

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        try:
            found = constraint_of(sampling_params.extra_args)
            if found is not None:
                pattern_for(*found)
        except TypedecodeError as exc:
            raise VLLMValidationError(f"typedecode: {exc}") from None

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self.vocabulary = vocabulary_of(cached_tokenizer_from_config(vllm_config.model_config))
        self.vocab_size = vllm_config.model_config.get_vocab_size()
        self.rows: dict[int, OutputFollower] = {}

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._new_row)

    def _new_row(self, params: SamplingParams, prompt_ids: list[int] | None,
                 output_ids: list[int]) -> OutputFollower | None:
        found = constraint_of(params.extra_args)
        if found is None:
            return None
        guide = compile(pattern_for(*found), self.vocabulary, vocab_size=self.vocab_size)
        return OutputFollower(GuideCursor(guide, params.all_stop_token_ids), output_ids)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.rows:
            return logits
        indexes = sorted(self.rows)
        rows = [self.rows[i] for i in indexes]
        for index, row in zip(indexes, rows):
            if row.catch_up():
                _LOG.error("typedecode: batch row %d produced a token its mask did not allow "
                           "(another logits processor?); only its stop tokens are allowed now",
                           index)
        words = allocate(len(rows), self.vocab_size)
        fill_rows([row.cursor for row in rows], words)
        width = logits.shape[-1]
        allowed = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[:, :width]
        forbidden = torch.from_numpy(allowed == 0).to(logits.device)
        index = torch.tensor(indexes, device=logits.device)
        logits[index] = logits[index].masked_fill(forbidden, float("-inf"))
        return logits
