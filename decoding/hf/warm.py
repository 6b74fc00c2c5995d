"""Warming a cache folder ahead of time (`typedecode cache warm`): compile schemas and patterns
for a tokenizer and walk their automata, so that processes started later (a fleet's engines,
possibly on a read-only copy of the folder, see `cache.store`) find their masks on disk.

Contract:
- A `Target` is a regex (text) or a JSON Schema (a JSON value), with instances: texts for a
  regex, JSON values for a schema (serialized compactly, keys in their order, as
  `benchmarks.cases.serialize` does).
- `guide_for(target, tokenizer, ...)` is the guide `generate` (and `decoding.compile`) uses for
  it: a schema is translated with `ConstraintOptions`' defaults, a regex compiled as it is; the
  automaton engine, masks `vocab_size` wide.
- `warm(targets, tokenizer, ...)` gives an entry (mask and transitions) to every state that the
  tokens of each instance reach (a rejected instance is counted, not an error), then to states
  breadth-first from the initial one through the allowed tokens' next states until `max_states`
  states have one; saves them, and at the end folds the database's log into its file
  (`Store.checkpoint`) so that read-only processes see everything. A target that fails to
  compile (a `TypedecodeError`) is reported in its result and skipped; the others go on.
- `progress(result)` is called after each target.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from decoding.automaton.dfa import DEAD
from decoding.errors import TokenRejected, TypedecodeError
from decoding.guides.guide import Guide, compile
from decoding.hf.constraint import make_constraint
from decoding.persist import cached as persist


@dataclass(frozen=True)
class Target:
    """A regex (`kind == "regex"`, `source` its text) or a JSON Schema (`kind == "schema"`),
    with instances of it; `name` labels it in progress and results."""

    name: str
    kind: str
    source: Any
    instances: tuple[Any, ...] = ()

    def texts(self) -> list[str]:
        """The instances as the texts a model would write."""
        if self.kind == "regex":
            return [str(t) for t in self.instances]
        return [json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in self.instances]


@dataclass(frozen=True)
class Warmed:
    """What warming one target did: states given an entry, instances walked and rejected,
    seconds taken, and the error that stopped it (None when it compiled)."""

    target: Target
    states: int
    instances: int
    rejected: int
    seconds: float
    error: str | None = None


def guide_for(target: Target, tokenizer: Any, *, vocab_size: int | None = None,
              cache_dir: Any = None) -> Guide:
    """The guide `generate` uses for `target` (see the module docstring): the pattern of
    `make_constraint` with the default options, as `generate` and `decoding.vllm` make it."""
    constraint = make_constraint(**{target.kind: target.source}, cache_dir=cache_dir)
    return compile(constraint.pattern, tokenizer, vocab_size=vocab_size, cache_dir=cache_dir)


def warm(targets: Iterable[Target], tokenizer: Any, *, max_states: int = 256,
         vocab_size: int | None = None, cache_dir: Any = None,
         progress: Callable[[Warmed], None] | None = None) -> list[Warmed]:
    """Warm the cache at `cache_dir` for `targets` (see the module docstring)."""
    results = []
    for target in targets:
        result = _warm_one(target, tokenizer, max_states, vocab_size, cache_dir)
        results.append(result)
        if progress is not None:
            progress(result)
    persist.flush()
    store = persist.store_for(cache_dir)
    if store is not None:
        store.checkpoint()
    return results


def _warm_one(target: Target, tokenizer: Any, max_states: int, vocab_size: int | None,
              cache_dir: Any) -> Warmed:
    start = time.perf_counter()
    try:
        guide = guide_for(target, tokenizer, vocab_size=vocab_size, cache_dir=cache_dir)
        texts = target.texts()
        seen: set[int] = {guide.initial_state}
        rejected = sum(not _walk_instance(guide, _encode(tokenizer, t), seen) for t in texts)
        _breadth_first(guide, max_states, seen)
        guide.save()
    except TypedecodeError as exc:
        return Warmed(target, 0, 0, 0, time.perf_counter() - start,
                      f"{type(exc).__name__}: {exc}")
    return Warmed(target, len(seen), len(texts), rejected, time.perf_counter() - start)


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _walk_instance(guide: Guide, tokens: Sequence[int], seen: set[int]) -> bool:
    """Give an entry to each state `tokens` pass through (adding them to `seen`); False when
    the guide rejects a token (the states before it are kept)."""
    state = guide.initial_state
    guide.index.entry(state)
    for token in tokens:
        try:
            state = guide.advance(state, token)
        except TokenRejected:
            return False
        guide.index.entry(state)
        seen.add(state)
    return True


def _breadth_first(guide: Guide, max_states: int, seen: set[int]) -> None:
    """Give entries to states breadth-first from the initial one until `seen` holds
    `max_states` states (those already in it count, and are expanded too)."""
    queue = deque([guide.initial_state])
    expanded: set[int] = set()
    while queue and len(seen) < max_states:
        state = queue.popleft()
        if state in expanded:
            continue
        expanded.add(state)
        entry = guide.index.entry(state)
        nexts = entry.next_states if entry.next_states is not None else guide.index.walk(state)
        for nxt in sorted(set(nexts[nexts != DEAD].tolist())):
            if nxt not in expanded:
                queue.append(nxt)
            if nxt not in seen and len(seen) < max_states:
                seen.add(nxt)
                guide.index.entry(nxt)
