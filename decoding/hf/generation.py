"""Masked generation with a Hugging Face causal LM: the decoding loop, `Generator` and `generate`.

Call contract (`generate`, `Generator.generate`, `Generator.complete`, `Generator.stream`):
- Every argument is checked before any model work (`UsageError`, `ModelLoadError`, schema2re
  and pattern errors); see `decoding.hf.constraint` and `decoding.hf.models`.
- Options: `options=` a `decoding.hf.options.GenerationOptions` (default: its defaults) and/or its
  fields as keywords (`max_new_tokens=`, `lenient=`...), which override it; an unknown keyword
  is a `UsageError`.
- `prompt`: a non-empty string is used as is (completion style); a list of `{"role", "content"}`
  messages is rendered with the tokenizer's chat template plus the generation prompt. A list of
  such prompts is a batch and gives a list back, in order. An empty string is a `UsageError`.
- `schema` / `regex` / neither: see `decoding.hf.constraint` for the value returned. With a
  list of prompts, either may be a list too, one constraint per prompt (None: that row is
  unconstrained), all decoded in one padded batch (`decoding.hf.constraint.row_constraints`).
- `tools=[...]` (callables, Pydantic models), `tool_choice=` ("required", "auto" or a tool's
  name), `tool_format=` (a `ToolFormat`): the value is a `decoding.ToolCall`, or with "auto"
  possibly the plain answer (`schema` / `regex` then constrain that answer); the tools are
  described to the model through the chat template or the prompt. See `decoding.hf.tool_calls`.
  In a batch they apply to every row.

Loop contract (each batch row has its own guide, or none, and its own guide state):
- The prompt is encoded once (left padding, position ids from the attention mask); every later
  step feeds only the new token and reuses the KV cache (`cache` / `past_key_values`).
- Under a constraint, logits are masked with `guide.allowed_tokens(state)`, so EOS is possible
  only in accepting states, and a row ends at once when `guide.is_finished(state)`.
  Without one, only ids past the tokenizer's vocabulary are masked. Rows under different guides
  (one per distinct constraint, compiled once through the generator's memo) share each forward
  pass; a row that has finished is no longer advanced.
- Greedy when `temperature == 0`; otherwise temperature / top-p sampling drawn from a
  `torch.Generator` seeded with `seed`, so the same seed reproduces the same output.
- The text is the UTF-8 decoding of the generated tokens' raw bytes (EOS excluded).
- `stop` strings end a row where one occurs; the text is cut before it (the LangChain convention).
  Under a constraint a stop string ends a row only where the pattern accepts the text generated
  so far (stop string included); elsewhere it is ordinary text.
- A constrained row that uses up `max_new_tokens` in a state the pattern does not accept raises
  `IncompleteGeneration` (partial text and token count of the first such row, and every row's
  `Completion` in `completions`, so a batch's other rows are kept); in an accepting state it is
  returned.
- A finished row is fed the pad token with attention 0 until every row has finished.
- Jump-forward (`jump_forward=True`, the default; a guide that is a `ForcedTextGuide`, see
  `decoding.guides.protocol`: the automaton engine): where the pattern forces the next text
  (`forced_bytes`), its tokens (`decoding.hf.jump` says which) are advanced through the guide
  and fed in the same forward pass as the token just chosen (or with the prompt), instead of
  one step each. Forced tokens count in `num_tokens` and `max_new_tokens`,
  and end a row like chosen ones (stop strings, pattern finished). In a batch each row jumps on
  its own: a step's new tokens are right-aligned per row, shorter rows left-padded with
  attention 0. `jump_forward=False` takes one step per token (benchmarks compare the two).
- `on_length="finish"` (automaton engine): before generating, a budget too small for any
  completion raises `IncompleteGeneration`; then each step allows only the tokens that keep a
  completion within the tokens left, and jump-forward forces tokens only where they keep one
  too (`decoding.hf.budget` states the bound and proves the output always ends accepted). A row
  whose tokens were narrowed by the budget ends with finish reason "length".
- `reasoning=(open, close)`: the constraint is put behind a free-text section
  (`decoding.hf.reasoning`); `Completion.reasoning` is its text, the value is the answer's.
  `max_reasoning_tokens=n`: once a row has generated n tokens without the closing marker, the
  marker's tokens are forced (fed like jump-forward tokens, counted the same way; under
  `on_length="finish"` only where the budget keeps a completion).

Threads: `generate`, `stream` and one `Generator` may be used from several threads at once. Each
call has its own loop (rows, KV cache, device copies of the masks); what calls share is
read-only or thread-safe: the model (forward passes in inference mode change no module state),
the tokenizer (encoding only, never its truncation or padding settings), the guides and their
`JumpForward` planners (memoized per generator with `LRU.get_or_make`; a plan is a function of
the state, so two threads computing one store the same), and the default model, loaded once
per process. Whether concurrent forward passes are faster than sequential ones is up to torch.
"""

from __future__ import annotations

import codecs
import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import torch

from cache.location import resolve_cache_dir
from decoding import limits
from decoding.errors import (
    GenerationError,
    IncompleteGeneration,
    ModelLoadError,
    UsageError,
)
from decoding.guides.protocol import ForcedTextGuide, TokenGuide
from decoding.hf.budget import Budget, budget_of
from decoding.hf.constraint import Constraint, row_constraints
from decoding.hf.jump import JumpForward
from decoding.hf.embedded import embedded_model
from decoding.hf.models import resolve_model
from decoding.hf.options import GenerationOptions, with_keywords
from decoding.hf.partial_json import PartialJSON
from decoding.hf.processor import RegexLogitsProcessor, StateMasks, mask_logits
from decoding.hf.reasoning import Reasoning
from decoding.hf.tool_calls import ToolRequest, pop_tool_keywords
from decoding.tokens.index import TokenIndex
from decoding.tokens.spelling import speller_of
from decoding.util import LRU

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from decoding.tokens.vocabulary import Vocabulary

Prompt = str | Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Completion:
    """One generated output.

    `text`: the generated text (stop string excluded); `value`: what `generate` returns for it;
    `num_tokens`: tokens generated (EOS included); `finish_reason`: "pattern" (the pattern allows
    nothing more), "eos", "stop" (a stop string) or "length" (`max_new_tokens`, or the
    `on_length="finish"` budget narrowed the tokens); `reasoning`: the reasoning section's
    text with `reasoning=`, else None.
    """

    text: str
    value: Any
    num_tokens: int
    finish_reason: str
    reasoning: str | None = None


@dataclass(frozen=True)
class _Request:
    prompts: tuple[Prompt, ...]
    batch: bool
    constraints: tuple[Constraint | None, ...]  # one per prompt
    options: GenerationOptions
    tools: ToolRequest | None = None
    reasoning: Reasoning | None = None  # the section of `options.reasoning`, if any


def _prepare(prompt: Any, schema: Any, regex: Any, options: GenerationOptions | None,
             keywords: dict[str, Any], cache_dir: Any) -> _Request:
    """Check every argument of a call (no model needed): the prompts, the options (`keywords`
    applied over `options`, default `GenerationOptions()`), then the constraint (the tools'
    when `keywords` has `tools`)."""
    prompts, batch = _normalize_prompts(prompt)
    if options is not None and not isinstance(options, GenerationOptions):
        raise UsageError(f"options must be a decoding.hf.options.GenerationOptions, got "
                         f"{type(options).__name__}")
    keywords = dict(keywords)
    tools = pop_tool_keywords(keywords)
    merged = with_keywords(options or GenerationOptions(), keywords)
    constraints = row_constraints(schema, regex, merged, cache_dir,
                                  len(prompts) if batch else None)
    if tools is not None:
        constraints = tuple(tools.constraint(c, merged, cache_dir) for c in constraints)
    section = Reasoning.of(merged.reasoning)
    if section is not None:
        if any(c is None for c in constraints):
            raise UsageError("reasoning= needs schema= or regex= for every prompt (the answer "
                             "after the section)")
        constraints = tuple(section.constraint(c) for c in constraints)
    return _Request(prompts, batch, constraints, merged, tools, section)


def _prepare_one(prompt: Any, schema: Any, regex: Any, options: GenerationOptions | None,
                 keywords: dict[str, Any], cache_dir: Any, partial: Any = False) -> _Request:
    """`_prepare` for a call that takes one prompt (streaming); `UsageError` for a batch, and
    for `partial` other than a bool or True without `schema=` (partial values are JSON ones)."""
    if not isinstance(partial, bool):
        raise UsageError(f"partial must be True or False, got {partial!r}")
    request = _prepare(prompt, schema, regex, options, keywords, cache_dir)
    if request.batch:
        raise UsageError("stream takes one prompt, not a list of prompts")
    if partial and schema is None:
        raise UsageError("partial=True parses JSON as it arrives and needs schema=; with regex= "
                         "or no constraint, stream the text (partial=False)")
    return request


def _normalize_prompts(prompt: Any) -> tuple[tuple[Prompt, ...], bool]:
    if isinstance(prompt, str):
        _check_text(prompt, "prompt")
        return (prompt,), False
    if not isinstance(prompt, Sequence) or isinstance(prompt, (bytes, bytearray)):
        raise UsageError(f"prompt must be a string, a list of chat messages or a list of prompts, "
                         f"got {type(prompt).__name__}")
    if len(prompt) == 0:
        raise UsageError("the prompt list is empty: pass at least one prompt")
    if all(isinstance(m, Mapping) for m in prompt):
        _check_messages(prompt, "prompt")
        return (prompt,), False
    for i, item in enumerate(prompt):
        if isinstance(item, str):
            _check_text(item, f"prompt[{i}]")
            continue
        if isinstance(item, Sequence) and item and all(isinstance(m, Mapping) for m in item):
            _check_messages(item, f"prompt[{i}]")
            continue
        raise UsageError(f"prompt[{i}] must be a string or a non-empty list of chat messages, "
                         f"got {type(item).__name__}")
    return tuple(prompt), True


def _check_text(text: str, where: str) -> None:
    if not text:
        raise UsageError(f"{where} is an empty string; give the model some text to continue")


def _check_messages(messages: Sequence[Mapping], where: str) -> None:
    for j, message in enumerate(messages):
        if "role" not in message or "content" not in message:
            raise UsageError(f"{where}[{j}] is not a chat message: it needs 'role' and 'content'")


# --- the loop ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowGuide:
    """What constrains one batch row: its guide (None: unconstrained), the guide's jump-forward
    planner (None: no jumps), the ids that end the row (EOS) and, with `on_length="finish"`,
    the guide's budget (`decoding.hf.budget`; None otherwise)."""

    guide: TokenGuide | None
    jumps: JumpForward | None
    eos_ids: frozenset[int]
    budget: Budget | None = None


@dataclass
class _Row:
    """One batch row's progress: its guide, guide state, raw output bytes, and how it ended."""

    spec: _RowGuide
    state: int
    out: bytearray = field(default_factory=bytearray)
    num_tokens: int = 0
    end: int | None = None          # length of the returned bytes when a stop string cut them
    finish_reason: str | None = None
    steered: bool = False           # the on_length="finish" budget narrowed a step's tokens

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def result_bytes(self) -> bytes:
        return bytes(self.out if self.end is None else self.out[: self.end])


class _Loop:
    """The masked decoding loop over one batch (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase,
                 vocabulary: Vocabulary, specs: Sequence[_RowGuide],
                 options: GenerationOptions, reasoning: Reasoning | None):
        self.model = model
        self.specs = specs
        self.options = options
        self.stops = options.stop_bytes()
        self.reasoning = reasoning
        self.token_bytes = vocabulary.token_bytes
        self.vocab_len = vocabulary.size
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = tokenizer.eos_token_id
        self.device = _device_of(model)
        self.masks = _RowMasks(specs, vocabulary.size, self.device)
        self.forward_args = _forward_args(model)
        # transformers 5 renamed `past_key_values` to `cache` (argument and output field).
        self.cache_arg = "cache" if "cache" in self.forward_args else "past_key_values"

    def run(self, prompt_ids: list[list[int]]) -> Iterator[list[_Row]]:
        """Yield the rows after every step; the last yield has every row done."""
        opts = self.options
        rows = [_start_row(spec) for spec in self.specs]
        for row in rows:
            if row.spec.budget is not None:
                row.spec.budget.check_start(row.state, opts.max_new_tokens)
        ids, attention = self._left_pad([list(p) + self._forced(row)
                                          for p, row in zip(prompt_ids, rows)])
        if all(row.done for row in rows):  # empty patterns, or their whole text was forced
            yield rows
            return
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        rng = None
        if opts.temperature > 0 and opts.seed is not None:
            rng = torch.Generator(device=self.device).manual_seed(opts.seed)
        past = None
        while True:
            # Inference mode per step, never across a yield (the caller's code runs there).
            with torch.inference_mode():
                out = self.model(**self._inputs(ids, attention, positions, past))
                past = getattr(out, self.cache_arg)
                logits = out.logits[:, -1, :].float()
                tokens = self._choose(self._masked(logits, rows), rng).tolist()
            feeds = []
            for row, token in zip(rows, tokens):
                feed = []
                if not row.done:
                    self._consume(row, token)
                    feed = [token] + self._forced(row)
                feeds.append(feed if not row.done else [])
            yield rows
            if all(row.done for row in rows):
                return
            ids, new = self._left_pad(feeds)
            attention = torch.cat([attention, new], dim=1)
            positions = positions[:, -1:] + new.cumsum(-1)

    def _forced(self, row: _Row) -> list[int]:
        """Consume the tokens forced at the row's state: jump-forward's, and the closing
        marker where `max_reasoning_tokens` is reached (then jump-forward's after it); return
        those to feed."""
        fed = self._jump(row)
        closing = self._closing(row)
        if closing:
            fed += self._feed(row, closing) + self._jump(row)
        return fed

    def _jump(self, row: _Row) -> list[int]:
        """Consume the tokens jump-forward forces at the row's state (none without it); return
        those to feed (a row that ends on one needs no more)."""
        jumps = row.spec.jumps
        if jumps is None or not self.options.jump_forward or row.done:
            return []
        return self._feed(row, jumps(row.state))

    def _closing(self, row: _Row) -> list[int]:
        """The closing marker's tokens when the row's reasoning must end now, else []."""
        section, limit = self.reasoning, self.options.max_reasoning_tokens
        if section is None or limit is None or row.done or row.num_tokens < limit \
                or not section.open_in(row.out):
            return []
        guide = row.spec.guide
        return section.closing(guide, speller_of(guide.vocabulary), row.state,
                               bytes(row.out))

    def _feed(self, row: _Row, tokens: Sequence[int]) -> list[int]:
        """Consume forced `tokens` (none where the budget would not keep a completion); return
        those to feed (a row that ends on one needs no more)."""
        budget = row.spec.budget
        if budget is not None and tokens:
            after = row.state
            for token in tokens:
                after = row.spec.guide.advance(after, token)
            if not budget.fits(row.state, after, len(tokens),
                                    self.options.max_new_tokens - row.num_tokens):
                return []
        fed = []
        for token in tokens:
            self._consume(row, token)
            fed.append(token)
            if row.done:
                break
        return fed

    def _left_pad(self, feeds: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids and attention for one forward: each row's ids right-aligned, padding before
        them with attention 0 (a row with nothing to feed is all padding)."""
        width = max(max(len(f) for f in feeds), 1)
        ids = torch.full((len(feeds), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(feeds), width), dtype=torch.long)
        for i, f in enumerate(feeds):
            if f:
                ids[i, width - len(f):] = torch.tensor(f, dtype=torch.long)
                attention[i, width - len(f):] = 1
        return ids.to(self.device), attention.to(self.device)

    def _inputs(self, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor,
                past: Any) -> dict[str, Any]:
        """Keyword arguments of one forward call; `past` is the model's cache object (None on
        the first step)."""
        inputs = {"input_ids": ids, "attention_mask": attention, "use_cache": True}
        if past is not None:
            inputs[self.cache_arg] = past
        if "position_ids" in self.forward_args:
            inputs["position_ids"] = positions
        for name in ("logits_to_keep", "num_logits_to_keep"):  # transformers 5 / older 4.x
            if name in self.forward_args:
                inputs[name] = 1
                break
        return inputs

    def _masked(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        if self.masks.constrained:
            allowed = self.masks(rows, logits.shape[-1])
            if any(row.spec.budget is not None for row in rows):
                allowed = self._steer(allowed, rows)
            logits = mask_logits(logits, allowed)
        elif logits.shape[-1] > self.vocab_len:
            logits = logits.clone()
            logits[:, self.vocab_len:] = float("-inf")
        best = logits.max(dim=-1).values
        for i, row in enumerate(rows):
            if not row.done and best[i] == float("-inf"):
                text = bytes(row.out).decode("utf-8", errors="replace")
                raise GenerationError(f"no token of the vocabulary can continue the pattern "
                                      f"after {text!r} (row {i})")
        return logits

    def _steer(self, allowed: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        """`allowed` narrowed per row by the budget (`decoding.hf.budget`)."""
        out = list(allowed)
        for i, row in enumerate(rows):
            if row.done or row.spec.budget is None:
                continue
            left = self.options.max_new_tokens - row.num_tokens
            narrowed = row.spec.budget.restrict(row.state, left, allowed[i])
            if narrowed is not None and not torch.equal(narrowed, allowed[i]):
                out[i] = narrowed
                row.steered = True
        return torch.stack(out)

    def _choose(self, logits: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
        opts = self.options
        if opts.temperature == 0:
            return logits.argmax(dim=-1)
        scaled = logits / opts.temperature
        if opts.top_p < 1:
            ordered, order = scaled.sort(dim=-1, descending=True)
            probs = ordered.softmax(dim=-1)
            # Keep the smallest prefix whose mass reaches top_p (the top token always stays).
            drop = probs.cumsum(dim=-1) - probs >= opts.top_p
            scaled = scaled.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
        return _sample(scaled.softmax(dim=-1), rng)

    def _consume(self, row: _Row, token: int) -> None:
        row.num_tokens += 1
        guide = row.spec.guide
        if token in row.spec.eos_ids:
            row.finish_reason = "eos"
            return
        if guide is not None:
            row.state = guide.advance(row.state, token)
        before = len(row.out)
        row.out += self.token_bytes[token]
        if self.stops and (guide is None or guide.is_accepting(row.state)):
            cut = _find_stop(row.out, before, self.stops)
            if cut is not None:
                row.end, row.finish_reason = cut, "stop"
                return
        if guide is not None and guide.is_finished(row.state):
            row.finish_reason = "pattern"
        elif row.num_tokens >= self.options.max_new_tokens:
            row.finish_reason = "length"


class _RowMasks:
    """The `[batch, vocab]` masks of a step, one row per batch row: its guide's mask at its
    state (a `StateMasks` per distinct guide), or, for an unconstrained row among constrained
    ones, every id of the vocabulary."""

    def __init__(self, specs: Sequence[_RowGuide], vocab_len: int, device: torch.device):
        self.vocab_len = vocab_len
        self.device = device
        self._per_guide = {id(s.guide): StateMasks(s.guide, device)
                           for s in specs if s.guide is not None}
        self._plain: torch.Tensor | None = None

    @property
    def constrained(self) -> bool:
        return bool(self._per_guide)

    def __call__(self, rows: Sequence[_Row], width: int) -> torch.Tensor:
        if len(self._per_guide) == 1 and all(row.spec.guide is not None for row in rows):
            masks = next(iter(self._per_guide.values()))
            return masks([row.state for row in rows])
        return torch.stack([self._row(row, width) for row in rows])

    def _row(self, row: _Row, width: int) -> torch.Tensor:
        if row.spec.guide is not None:
            return self._per_guide[id(row.spec.guide)].mask(row.state)
        if self._plain is None or self._plain.shape[-1] != width:
            self._plain = torch.arange(width, device=self.device) < self.vocab_len
        return self._plain


def _start_row(spec: _RowGuide) -> _Row:
    """A row at its guide's initial state; done at once ("pattern") if that state is final."""
    guide = spec.guide
    row = _Row(spec, guide.initial_state if guide is not None else 0)
    if guide is not None and guide.is_finished(row.state):
        row.finish_reason = "pattern"
    return row


def _sample(probs: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
    """One id per row drawn from `probs` by inverting the cumulative distribution.

    Much faster than `torch.multinomial` on a large vocabulary. A zero-probability (masked) id is
    never drawn: the first id whose cumulative sum exceeds the uniform draw has a positive
    probability, and a draw rounded up to the total falls back to the last positive id.
    """
    cdf = probs.double().cumsum(dim=-1)
    u = torch.rand((probs.shape[0], 1), generator=rng, dtype=cdf.dtype, device=cdf.device)
    ids = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(-1)
    over = ids >= probs.shape[-1]
    if over.any():
        last = probs.shape[-1] - 1 - (probs.flip(-1) > 0).int().argmax(dim=-1)
        ids = torch.where(over, last, ids)
    return ids


def _find_stop(out: bytearray, before: int, stops: tuple[bytes, ...]) -> int | None:
    """Start of the earliest stop string that ends after byte `before` of `out`, or None."""
    found = [i for s in stops if (i := out.find(s, max(0, before - len(s) + 1))) >= 0]
    return min(found) if found else None


def _device_of(model: torch.nn.Module) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def _forward_args(model: torch.nn.Module) -> frozenset[str]:
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(parameters)


def _logits_width(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase) -> int:
    """Columns of the model's logits: output embedding rows, else config.vocab_size."""
    get = getattr(model, "get_output_embeddings", None)
    layer = get() if callable(get) else None
    weight = getattr(layer, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(size) if size else len(tokenizer)


# --- Generator ----------------------------------------------------------------------------------


def _guide_bytes(compiled: tuple[TokenGuide, JumpForward | None]) -> int:
    """Mask memory of a memoized guide (an automaton guide's index; 0 for the partial engine)."""
    index = getattr(compiled[0], "index", None)
    return index.nbytes if isinstance(index, TokenIndex) else 0


class Generator:
    """A model, its tokenizer and the guides compiled for it, for repeated calls.

    `Generator(model=None, cache_dir=None)` accepts every form `decoding.hf.models.resolve_model`
    does and loads the model once; `cache_dir` (as for `cache.location.resolve_cache_dir`) holds
    the converted default model, vocabulary tables, automata and masks. Calls may run
    concurrently on one generator from several threads (see the module docstring). Its guides
    are kept like `compile`'s memo: at most `_MAX_GUIDES`, and their masks within
    `decoding.limits` `memo_bytes`.
    """

    _MAX_GUIDES = 64

    def __init__(self, model: Any = None, *, cache_dir: Any = None):
        loaded = resolve_model(model, cache_dir=cache_dir)
        self.cache_dir = cache_dir
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = loaded.name
        self.vocab_size = _logits_width(self.model, self.tokenizer)
        self._vocabulary: Vocabulary | None = None
        self._guides: LRU[tuple, tuple[TokenGuide, JumpForward | None]] = LRU(self._MAX_GUIDES)

    @property
    def vocabulary(self) -> Vocabulary:
        """The tokenizer's `decoding.tokens.vocabulary.Vocabulary` (built on first use)."""
        if self._vocabulary is None:
            from decoding.guides.guide import vocabulary_of

            vocabulary = vocabulary_of(self.tokenizer, cache_dir=self.cache_dir)
            if self.vocab_size < vocabulary.size:
                raise ModelLoadError(f"{self.name}: the model has {self.vocab_size} logits but "
                                     f"the tokenizer has {vocabulary.size} tokens")
            self._vocabulary = vocabulary
        return self._vocabulary

    def guide(self, constraint: Constraint) -> TokenGuide:
        """The compiled guide for `constraint`, memoized per generator."""
        return self._compiled(constraint)[0]

    def _compiled(self, constraint: Constraint) -> tuple[TokenGuide, JumpForward | None]:
        """The guide for `constraint` and its jump-forward planner (None where the guide is no
        `ForcedTextGuide`: the partial engine), memoized together."""
        def make() -> tuple[TokenGuide, JumpForward | None]:
            from decoding.guides.guide import compile

            guide = compile(constraint.pattern, self.vocabulary, vocab_size=self.vocab_size,
                            engine=constraint.engine, cache_dir=self.cache_dir)
            return guide, (JumpForward(guide, self._encode_forced)
                           if isinstance(guide, ForcedTextGuide) else None)

        found = self._guides.get_or_make(constraint.key, make)[0]
        # Guides hold their indexes: bounded like compile's memo, or they would outlive it.
        self._guides.trim(_guide_bytes, limits.current().memo_bytes)
        return found

    def _encode_forced(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def logits_processor(self, *, schema: Any = None, regex: Any = None,
                         **options: Any) -> RegexLogitsProcessor:
        """A `RegexLogitsProcessor` for this model's `generate` / pipeline calls.

        `options`: the fields of `decoding.hf.options.ConstraintOptions` (engine, lenient, ...).
        """
        return RegexLogitsProcessor(regex, self.vocabulary, schema=schema,
                                    vocab_size=self.vocab_size, cache_dir=self.cache_dir,
                                    **options)

    def generate(self, prompt: Any, *, schema: Any = None, regex: Any = None,
                 options: GenerationOptions | None = None, **keywords: Any) -> Any:
        """The value (or list of values, for a batch) for `prompt`; see the module docstring.

        `keywords`: fields of `GenerationOptions`, applied over `options`.
        """
        request = _prepare(prompt, schema, regex, options, keywords, self.cache_dir)
        completions = self._execute(request)
        values = [c.value for c in completions]
        return values if request.batch else values[0]

    def complete(self, prompt: Any, *, schema: Any = None, regex: Any = None,
                 options: GenerationOptions | None = None,
                 **keywords: Any) -> Completion | list[Completion]:
        """Like `generate`, returning `Completion` records (text, value, tokens, finish reason)."""
        request = _prepare(prompt, schema, regex, options, keywords, self.cache_dir)
        completions = self._execute(request)
        return completions if request.batch else completions[0]

    def stream(self, prompt: Any, *, schema: Any = None, regex: Any = None,
               partial: bool = False, options: GenerationOptions | None = None,
               **keywords: Any) -> Iterator[Any]:
        """Yield the output for one prompt as it is generated: its text in pieces, or with
        `partial=True` (needs `schema=`) the value parsed so far.

        Text pieces (the default) join to the text `complete` returns; text that may still turn
        out to start a stop string, or an incomplete UTF-8 character, is held back until it is
        settled. A schema's value is validated at the end but not returned (use `complete` or
        `partial=True` for it).

        `partial=True`: each time the JSON parsed so far changes, its plain value (dicts, lists,
        strings, numbers: `decoding.hf.partial_json` says what a prefix shows: the members
        complete so far and the string being written), then, last, the validated value
        `generate` returns (a Pydantic instance for a model). The partial values grow: each one
        extends the one before. Do not mutate them (they share their completed parts).

        With `reasoning=`, text pieces are the whole text, reasoning section included; partial
        values are those of the answer after the closing marker.

        Either way, raises `IncompleteGeneration` at the end like `generate`.
        """
        request = _prepare_one(prompt, schema, regex, options, keywords, self.cache_dir, partial)
        return self._stream(request, partial)

    def _stream(self, request: _Request, partial: bool) -> Iterator[Any]:
        return self._stream_values(request) if partial else self._stream_text(request)

    def _stream_text(self, request: _Request) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        row = None
        for settled, row in self._settled(request):
            piece = decoder.decode(settled)
            if piece:
                yield piece
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
        self._finish(request, [row])

    def _stream_values(self, request: _Request) -> Iterator[Any]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parser = PartialJSON()
        section = request.reasoning
        held: str | None = ""  # with a reasoning section: the text up to its closing marker
        row = None
        for settled, row in self._settled(request):
            if row.done:  # the whole text: its value is the validated one
                break
            text = decoder.decode(settled)
            if section is not None and held is not None:
                held += text
                if section.close not in held:
                    continue
                text, held = section.split(held)[1], None
            parser.feed(text)
            if parser.changed:
                yield parser.value()
        yield self._finish(request, [row])[0].value

    def _settled(self, request: _Request) -> Iterator[tuple[bytes, _Row]]:
        """After every step of one prompt's loop: the output bytes settled since the last step
        (none may still start a stop string; all once the row is done), and the row."""
        loop, prompt_ids = self._start(request)
        stops = request.options.stop_bytes()
        sent = 0
        for rows in loop.run(prompt_ids):
            row = rows[0]
            safe = len(row.result_bytes()) if row.done else \
                len(row.out) - _pending_stop_prefix(row.out, stops)
            yield bytes(row.out[sent:safe]) if safe > sent else b"", row
            sent = max(sent, safe)

    def _execute(self, request: _Request) -> list[Completion]:
        loop, prompt_ids = self._start(request)
        rows = None
        for rows in loop.run(prompt_ids):
            pass
        return self._finish(request, rows)

    def _start(self, request: _Request) -> tuple[_Loop, list[list[int]]]:
        vocabulary = self.vocabulary
        prompt_ids = [self._encode(p, i if request.batch else None, request.tools)
                      for i, p in enumerate(request.prompts)]
        finish = request.options.on_length == "finish"
        specs = [self._row_guide(c, vocabulary, finish) for c in request.constraints]
        return (_Loop(self.model, self.tokenizer, vocabulary, specs, request.options,
                      request.reasoning), prompt_ids)

    def _row_guide(self, constraint: Constraint | None, vocabulary: Vocabulary,
                   finish: bool) -> _RowGuide:
        """A row's guide, jump planner, EOS ids and (`finish`: `on_length="finish"`) budget
        under `constraint` (None: unconstrained)."""
        if constraint is None:
            return _RowGuide(None, None, self._plain_eos(vocabulary))
        guide, jumps = self._compiled(constraint)
        return _RowGuide(guide, jumps, vocabulary.eos_token_ids,
                         budget_of(guide) if finish else None)

    def _plain_eos(self, vocabulary: Vocabulary) -> frozenset[int]:
        """EOS ids for unconstrained generation: the tokenizer's and the generation config's."""
        config = getattr(self.model, "generation_config", None)
        extra = getattr(config, "eos_token_id", None)
        if extra is None:
            extra = []
        elif isinstance(extra, int):
            extra = [extra]
        return frozenset(vocabulary.eos_token_ids) | frozenset(extra)

    def _encode(self, prompt: Prompt, index: int | None,
                tools: ToolRequest | None = None) -> list[int]:
        where = "prompt" if index is None else f"prompt[{index}]"
        template = getattr(self.tokenizer, "chat_template", None)
        extra: dict[str, Any] = {}
        if tools is not None:
            prompt, extra = tools.render(prompt, template)
        if isinstance(prompt, str):
            ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        else:
            if not template:
                raise UsageError(f"{where} is a list of chat messages but {self.name}'s tokenizer "
                                 f"has no chat template; pass a string prompt")
            text = self.tokenizer.apply_chat_template(list(prompt), tokenize=False,
                                                      add_generation_prompt=True, **extra)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) == 0:
            raise UsageError(f"{where} encodes to no tokens; give the model some text to continue")
        return list(ids)

    def _finish(self, request: _Request, rows: list[_Row]) -> list[Completion]:
        completions, incomplete = [], []
        section = request.reasoning
        for i, (row, constraint) in enumerate(zip(rows, request.constraints)):
            text = row.result_bytes().decode("utf-8", errors="replace")
            guide = row.spec.guide
            if guide is not None and row.finish_reason == "length" \
                    and not guide.is_accepting(row.state):
                incomplete.append(i)
                value = None
            else:
                value = constraint.parse(text) if constraint is not None else text
            reason = "length" if row.steered else row.finish_reason
            completions.append(Completion(text, value, row.num_tokens, reason,
                                          section.split(text)[0] if section else None))
        if incomplete:
            first = completions[incomplete[0]]
            where = f" (prompt{'s' if len(incomplete) > 1 else ''} " \
                    f"{', '.join(map(str, incomplete))})" if request.batch else ""
            raise IncompleteGeneration(
                f"max_new_tokens={request.options.max_new_tokens} ran out before the output "
                f"could end{where}; partial output: {_preview(first.text)}", first.text,
                first.num_tokens, tuple(completions))
        return completions


def _pending_stop_prefix(out: bytearray, stops: tuple[bytes, ...]) -> int:
    """Length of the longest end of `out` that is a proper beginning of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(out)), longest, -1):
            if out.endswith(stop[:n]):
                longest = n
                break
    return longest


def _preview(text: str, limit: int = 200) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


# --- generate() ---------------------------------------------------------------------------------

_SHARED: LRU[tuple, Generator] = LRU(2)  # get_or_make: a model is loaded once


def _shared_generator(model: Any, cache_dir: Any) -> Generator:
    """A Generator for `model`; embedded models and model folders are loaded once per process."""
    embedded = embedded_model(model)
    if embedded is not None:
        name = embedded.name
    elif isinstance(model, (str, os.PathLike)):
        name = os.path.abspath(os.fspath(model))
    else:
        return Generator(model, cache_dir=cache_dir)
    key = (name, str(resolve_cache_dir(cache_dir)))
    return _SHARED.get_or_make(key, lambda: Generator(model, cache_dir=cache_dir))[0]


def generate(prompt: Any, *, schema: Any = None, regex: Any = None, model: Any = None,
             cache_dir: Any = None, options: GenerationOptions | None = None,
             **keywords: Any) -> Any:
    """Generate from `prompt` under `schema` or `regex` (or neither) with `model`.

    Returns the matched text (regex), the validated JSON value (JSON Schema), the validated value
    of a Python type (a Pydantic instance, an Enum member, a `list[int]`...), or the plain text;
    a list of prompts returns a list. `model`: a text-generation pipeline, a `(model, tokenizer)`
    pair, a local model folder, an embedded model's name ("gemma3-270m"), or None for the
    default model (loaded once per process). `keywords`: the fields of `decoding.hf.options.GenerationOptions` (max_new_tokens,
    stop, temperature, top_p, seed, engine, jump_forward, and the schema translator's lenient,
    extra_properties, whitespace, max_depth), applied over `options`; and `tools`, `tool_choice`,
    `tool_format` for a tool call (a `decoding.ToolCall` back; see `decoding.hf.tool_calls`).
    All arguments are checked before the model is loaded. See the module docstring for the
    decoding contract.
    """
    request = _prepare(prompt, schema, regex, options, keywords, cache_dir)
    completions = _shared_generator(model, cache_dir)._execute(request)
    values = [c.value for c in completions]
    return values if request.batch else values[0]


def stream(prompt: Any, *, schema: Any = None, regex: Any = None, partial: bool = False,
           model: Any = None, cache_dir: Any = None, options: GenerationOptions | None = None,
           **keywords: Any) -> Iterator[Any]:
    """`generate` for one prompt, yielding the text piece by piece, or with `partial=True` the
    value parsed so far and last the validated value (see `Generator.stream`).

    The arguments are checked when `stream` is called, before the model is loaded.
    """
    request = _prepare_one(prompt, schema, regex, options, keywords, cache_dir, partial)
    return _shared_generator(model, cache_dir)._stream(request, partial)
