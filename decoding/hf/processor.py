"""Logit masking with a guide: shared by typedecode's own loop and by `RegexLogitsProcessor`.

- `StateMasks(guide, device)` gives the `[batch, vocab]` boolean mask for a list of guide states,
  keeping one device copy per state (the guide's masks are shared CPU tensors, never modified).
- `mask_logits(scores, allowed)` returns a new tensor with the disallowed logits at -inf.
- `RegexLogitsProcessor` is a transformers `LogitsProcessor`, so a pattern or a schema constrains
  any `model.generate(...)` or `pipeline(..., logits_processor=...)` call. It follows each row's
  guide state from the tokens generated so far (keyed by the generated suffix, so beam reordering is
  safe), allows EOS only in accepting states (only EOS once the pattern is finished), and leaves the
  scores of a row that has emitted EOS alone (generate pads it). A call whose input does not continue the previous
  call's (a new `generate` call) starts over, so one processor can serve many calls, one at a time
  in each thread. Each call must add exactly one token per row (greedy, sampling, beam search; not
  assisted or speculative decoding).

Threads: a `RegexLogitsProcessor` may be shared between threads, each running its own `generate`
calls: the state of a run (its prompt, each row's guide state, the device copies of the masks)
is kept per thread (`threading.local`), and the guide it follows is thread-safe
(`decoding.guides.guide`). One `generate` call must not be split over threads (transformers
calls processors on the calling thread). A `StateMasks` belongs to one decoding loop; the masks
it hands out are shared and never written to (`mask_logits` and the processor copy first).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Sequence

import torch

from decoding.errors import GenerationError, UsageError
from decoding.guides.protocol import TokenGuide

if TYPE_CHECKING:
    import re

    import regex

try:
    from transformers import LogitsProcessor
except ImportError:  # pragma: no cover - transformers is a dependency
    LogitsProcessor = object


class StateMasks:
    """Device copies of a guide's masks, stacked per batch."""

    def __init__(self, guide: TokenGuide, device: torch.device | str = "cpu"):
        self.guide = guide
        self.device = torch.device(device)
        self._copies: dict[int, torch.Tensor] = {}

    def mask(self, state: int) -> torch.Tensor:
        """The `[vocab]` mask of `state` on the device (shared: never modify it)."""
        m = self._copies.get(state)
        if m is None:
            m = self.guide.allowed_tokens(state)
            if m.device != self.device:
                m = m.to(self.device)
            self._copies[state] = m
        return m

    def __call__(self, states: Sequence[int]) -> torch.Tensor:
        """`[len(states), vocab]` booleans: True where a token is allowed."""
        if len(states) == 1:
            return self.mask(states[0]).unsqueeze(0)
        return torch.stack([self.mask(s) for s in states])


def mask_logits(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """`scores` with every position not in `allowed` set to -inf (a new tensor)."""
    if scores.shape[-1] != allowed.shape[-1]:
        raise GenerationError(f"the model's logits have {scores.shape[-1]} columns but the guide's "
                              f"masks have {allowed.shape[-1]}; compile with vocab_size="
                              f"{scores.shape[-1]}")
    return scores.masked_fill(~allowed, float("-inf"))


_FINISHED = object()  # the state of a row after EOS (generate pads it)


class _Run(threading.local):
    """One thread's `generate` call in progress: the prompt, the state of each generated
    suffix, the length of the last input and the masks on the scores' device."""

    def __init__(self) -> None:
        self.prompt: torch.Tensor | None = None
        self.states: dict[tuple[int, ...], Any] = {}
        self.last_len = -1
        self.masks: StateMasks | None = None


class RegexLogitsProcessor(LogitsProcessor):
    """Constrain `model.generate` / pipelines to a regex or a schema (or a compiled guide).

    `RegexLogitsProcessor(pattern, tokenizer)` compiles the regex `pattern`;
    `RegexLogitsProcessor(tokenizer=tokenizer, schema=...)` compiles a schema (anything
    `generate` takes: a Pydantic class, an Enum, `list[int]`, a JSON Schema...), and
    `processor.constraint.parse(text)` turns a generated text into its validated value.
    `options`: the fields of `decoding.hf.options.ConstraintOptions` (engine, lenient,
    extra_properties, whitespace, max_depth); arguments are checked as for `generate`
    (`decoding.hf.constraint.make_constraint`). A compiled guide (any
    `decoding.guides.protocol.TokenGuide`, such as `decoding.compile`'s) may be passed as
    `pattern` instead (then nothing else is needed, and `constraint` is None). When the logits
    are wider than the compiled masks (a model with padded embeddings), a pattern is recompiled
    for that width; a passed guide of the wrong width raises `GenerationError`.
    """

    def __init__(self, pattern: TokenGuide | str | re.Pattern | regex.Pattern | None = None,
                 tokenizer: Any = None, *, schema: Any = None,
                 vocab_size: int | None = None, cache_dir: Any = None, **options: Any):
        from decoding.hf.constraint import make_constraint
        from decoding.hf.options import ConstraintOptions, with_keywords

        self._tokenizer, self._cache_dir = tokenizer, cache_dir
        if isinstance(pattern, TokenGuide):
            self.constraint, self.guide = None, pattern
        else:
            self.constraint = make_constraint(schema=schema, regex=pattern,
                                              options=with_keywords(ConstraintOptions(), options),
                                              cache_dir=cache_dir)
            if self.constraint is None:
                raise UsageError("RegexLogitsProcessor needs a regex pattern or schema=")
            if tokenizer is None:
                raise UsageError("RegexLogitsProcessor needs tokenizer= to compile a pattern")
            self.guide = self._compile(vocab_size)
        self._run = _Run()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        run = self._run
        guide = self._fit_width(scores.shape[-1])
        if self._is_new_run(input_ids, run):
            run.prompt = input_ids.clone()
            run.states = {(): guide.initial_state}
        run.last_len = input_ids.shape[1]
        start = run.prompt.shape[1]
        eos = guide.vocabulary.eos_token_ids
        states, seen = [], {}
        for row in input_ids[:, start:].tolist():
            key = tuple(row)
            state = seen.get(key)
            if state is None:
                state = run.states.get(key)
            if state is None:
                parent = run.states.get(key[:-1])
                if parent is None:
                    raise GenerationError("RegexLogitsProcessor: a row does not extend the "
                                          "previous step's by one token (assisted or "
                                          "speculative decoding is not supported)")
                if parent is _FINISHED or key[-1] in eos:
                    state = _FINISHED
                else:
                    state = guide.advance(parent, key[-1])
            seen[key] = state
            states.append(state)
        run.states = seen
        if run.masks is None or run.masks.guide is not guide or run.masks.device != scores.device:
            run.masks = StateMasks(guide, scores.device)
        finished = [i for i, s in enumerate(states) if s is _FINISHED]
        allowed = run.masks([guide.initial_state if s is _FINISHED else s for s in states])
        if finished:
            # generate() replaces a finished row's token with padding: leave its scores alone.
            allowed = allowed.clone()
            allowed[finished] = True
        return mask_logits(scores, allowed)

    @staticmethod
    def _is_new_run(input_ids: torch.Tensor, run: _Run) -> bool:
        prompt = run.prompt
        if prompt is None or input_ids.shape[1] != run.last_len + 1:
            return True
        return input_ids.shape[0] != prompt.shape[0] or not torch.equal(
            input_ids[:, : prompt.shape[1]], prompt)

    def _fit_width(self, width: int) -> TokenGuide:
        """The guide for logits `width` wide (compiled for it when the pattern allows)."""
        guide = self.guide
        if guide.vocab_size == width:
            return guide
        if self.constraint is None:
            raise GenerationError(f"the guide's masks are {guide.vocab_size} wide but the "
                                  f"logits have {width} columns; compile with vocab_size={width}")
        self.guide = guide = self._compile(width)
        return guide

    def _compile(self, vocab_size: int | None) -> TokenGuide:
        """The guide of `constraint` for the tokenizer, `vocab_size` logits wide."""
        from decoding.guides.guide import compile

        return compile(self.constraint.pattern, self._tokenizer, vocab_size=vocab_size,
                       engine=self.constraint.engine, cache_dir=self._cache_dir)
