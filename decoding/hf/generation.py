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
- `schema` / `regex` / neither: see `decoding.hf.constraint` for the value returned.
- `tools=[...]` (callables, Pydantic models), `tool_choice=` ("required", "auto" or a tool's
  name), `tool_format=` (a `ToolFormat`): the value is a `decoding.ToolCall`, or with "auto"
  possibly the plain answer (`schema` / `regex` then constrain that answer); the tools are
  described to the model through the chat template or the prompt. See `decoding.hf.tool_calls`.

Loop contract (one guide state per batch row):
- The prompt is encoded once (left padding, position ids from the attention mask); every later
  step feeds only the new token and reuses the KV cache (`cache` / `past_key_values`).
- Under a constraint, logits are masked with `guide.allowed_tokens(state)`, so EOS is possible
  only in accepting states, and a row ends at once when `guide.is_finished(state)`.
  Without one, only ids past the tokenizer's vocabulary are masked.
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
from decoding.hf.constraint import Constraint, make_constraint
from decoding.hf.jump import JumpForward
from decoding.hf.embedded import embedded_model
from decoding.hf.models import resolve_model
from decoding.hf.options import GenerationOptions, with_keywords
from decoding.hf.processor import RegexLogitsProcessor, StateMasks, mask_logits
from decoding.hf.tool_calls import ToolRequest, pop_tool_keywords
from decoding.tokens.index import TokenIndex
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
    nothing more), "eos", "stop" (a stop string) or "length" (`max_new_tokens`).
    """

    text: str
    value: Any
    num_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class _Request:
    prompts: tuple[Prompt, ...]
    batch: bool
    constraint: Constraint | None
    options: GenerationOptions
    tools: ToolRequest | None = None


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
    constraint = make_constraint(schema=schema, regex=regex, options=merged, cache_dir=cache_dir)
    if tools is not None:
        constraint = tools.constraint(constraint, merged, cache_dir)
    return _Request(prompts, batch, constraint, merged, tools)


def _prepare_one(prompt: Any, schema: Any, regex: Any, options: GenerationOptions | None,
                 keywords: dict[str, Any], cache_dir: Any) -> _Request:
    """`_prepare` for a call that takes one prompt (streaming); `UsageError` for a batch."""
    request = _prepare(prompt, schema, regex, options, keywords, cache_dir)
    if request.batch:
        raise UsageError("stream takes one prompt, not a list of prompts")
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


@dataclass
class _Row:
    """One batch row's progress: guide state, raw output bytes, and how it ended."""

    state: int
    out: bytearray = field(default_factory=bytearray)
    num_tokens: int = 0
    end: int | None = None          # length of the returned bytes when a stop string cut them
    finish_reason: str | None = None

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def result_bytes(self) -> bytes:
        return bytes(self.out if self.end is None else self.out[: self.end])


class _Loop:
    """The masked decoding loop over one batch (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase,
                 vocabulary: Vocabulary, guide: TokenGuide | None,
                 options: GenerationOptions, eos_ids: frozenset[int],
                 jumps: JumpForward | None = None):
        self.model = model
        self.guide = guide
        self.options = options
        self.stops = options.stop_bytes()
        self.jumps = jumps if options.jump_forward else None
        self.token_bytes = vocabulary.token_bytes
        self.vocab_len = vocabulary.size
        self.eos_ids = eos_ids
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = tokenizer.eos_token_id
        self.device = _device_of(model)
        self.masks = StateMasks(guide, self.device) if guide is not None else None
        self.forward_args = _forward_args(model)
        # transformers 5 renamed `past_key_values` to `cache` (argument and output field).
        self.cache_arg = "cache" if "cache" in self.forward_args else "past_key_values"

    def run(self, prompt_ids: list[list[int]]) -> Iterator[list[_Row]]:
        """Yield the rows after every step; the last yield has every row done."""
        guide, opts = self.guide, self.options
        rows = [_Row(guide.initial_state if guide is not None else 0) for _ in prompt_ids]
        if guide is not None and guide.is_finished(guide.initial_state):
            for row in rows:
                row.finish_reason = "pattern"
            yield rows
            return
        ids, attention = self._left_pad([list(p) + self._jump(row)
                                          for p, row in zip(prompt_ids, rows)])
        if all(row.done for row in rows):  # the pattern's whole text was forced
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
                    feed = [token] + self._jump(row)
                feeds.append(feed if not row.done else [])
            yield rows
            if all(row.done for row in rows):
                return
            ids, new = self._left_pad(feeds)
            attention = torch.cat([attention, new], dim=1)
            positions = positions[:, -1:] + new.cumsum(-1)

    def _jump(self, row: _Row) -> list[int]:
        """Consume the tokens forced at the row's state (none without jump-forward); return
        those to feed (a row that ends on one needs no more)."""
        if self.jumps is None or row.done:
            return []
        fed = []
        for token in self.jumps(row.state):
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
        if self.masks is not None:
            logits = mask_logits(logits, self.masks([row.state for row in rows]))
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
        guide = self.guide
        if token in self.eos_ids:
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
               options: GenerationOptions | None = None, **keywords: Any) -> Iterator[str]:
        """Yield the text of one prompt piece by piece as it is generated.

        The pieces join to the text `complete` returns; text that may still turn out to start a
        stop string, or an incomplete UTF-8 character, is held back until it is settled. Raises
        `IncompleteGeneration` at the end like `generate`; a schema's value is validated but
        not returned (use `complete` for it).
        """
        return self._stream(_prepare_one(prompt, schema, regex, options, keywords,
                                         self.cache_dir))

    def _stream(self, request: _Request) -> Iterator[str]:
        loop, prompt_ids = self._start(request)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = request.options.stop_bytes()
        sent = 0
        row = None
        for rows in loop.run(prompt_ids):
            row = rows[0]
            safe = len(row.result_bytes()) if row.done else \
                len(row.out) - _pending_stop_prefix(row.out, stops)
            if safe > sent:
                piece = decoder.decode(bytes(row.out[sent:safe]))
                sent = safe
                if piece:
                    yield piece
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
        self._finish(request, [row])

    def _execute(self, request: _Request) -> list[Completion]:
        loop, prompt_ids = self._start(request)
        rows = None
        for rows in loop.run(prompt_ids):
            pass
        return self._finish(request, rows)

    def _start(self, request: _Request) -> tuple[_Loop, list[list[int]]]:
        guide, jumps = self._compiled(request.constraint) if request.constraint is not None \
            else (None, None)
        vocabulary = self.vocabulary
        prompt_ids = [self._encode(p, i if request.batch else None, request.tools)
                      for i, p in enumerate(request.prompts)]
        eos = vocabulary.eos_token_ids if guide is not None else self._plain_eos(vocabulary)
        return _Loop(self.model, self.tokenizer, vocabulary, guide, request.options, eos,
                     jumps), prompt_ids

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
        constraint = request.constraint
        completions, incomplete = [], []
        for i, row in enumerate(rows):
            text = row.result_bytes().decode("utf-8", errors="replace")
            if constraint is not None and row.finish_reason == "length" \
                    and not self.guide(constraint).is_accepting(row.state):
                incomplete.append(i)
                value = None
            else:
                value = constraint.parse(text) if constraint is not None else text
            completions.append(Completion(text, value, row.num_tokens, row.finish_reason))
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


def stream(prompt: Any, *, schema: Any = None, regex: Any = None, model: Any = None,
           cache_dir: Any = None, options: GenerationOptions | None = None,
           **keywords: Any) -> Iterator[str]:
    """`generate` for one prompt, yielding the text piece by piece (see `Generator.stream`).

    The arguments are checked when `stream` is called, before the model is loaded.
    """
    request = _prepare_one(prompt, schema, regex, options, keywords, cache_dir)
    return _shared_generator(model, cache_dir)._stream(request)
