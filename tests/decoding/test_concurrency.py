"""Sharing the decoding core between threads and processes.

Guides from `compile` share one automaton and token index per pattern; these tests walk them
from many threads at once (random walks of `allowed_tokens` / `advance` / `forced_bytes` from
fresh `compile` calls, shared and distinct regexes and JSON schemas, cache off and on) and
compare everything with a single-threaded run: masks bit for bit, next states by state key
(state numbers follow discovery order, which threads change). `sys.setswitchinterval` is
lowered meanwhile to provoke races. A `RegexLogitsProcessor` and a `Generator` are shared the
same way, and four spawned processes fill one cache folder at once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch

import decoding.guides.guide as guide_mod
from decoding.errors import TokenRejected
from decoding.guides.guide import compile as decoding_compile
from decoding.guides.guide import vocabulary_of
from decoding.persist import cached as persist
from decoding.util import LRU

THREADS = 8
CALLS = 200
STEPS = 4

SHARED = [
    r"(yes|no|maybe)!",
    r"[a-z]{1,12}( [a-z]{1,12}){0,5}\.",
    r'\{"id": [0-9]{1,6}, "tags": \[("[a-z]{1,8}"(, )?){0,4}\]\}',
    r"(\p{L}|[0-9 ,.]){0,40}",
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                      "age": {"type": "integer", "minimum": 0}},
     "required": ["name", "age"]},
    {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 4},
]


def pattern_of(thread: int, call: int) -> Any:
    """Mostly shared patterns (a schema one call in twenty), some of the thread's own (a schema
    one call in twenty)."""
    kind = call % 20
    if kind == 19:
        return {"type": "object", "required": [f"k{thread}"],
                "properties": {f"k{thread}": {"type": "integer", "maximum": 10 * (call % 4 + 1)}}}
    if kind == 18:
        return SHARED[4 + (thread + call) % 2]
    if kind % 10 >= 7:
        return rf"[a-z]{{{thread + 1}}}-{call % 3}[0-9]{{1,{3 + thread}}}"
    return SHARED[(thread + call) % 4]


def digest(mask: torch.Tensor) -> bytes:
    """A digest of every bit of a boolean mask."""
    return hashlib.blake2b(np.packbits(mask.numpy()).tobytes(), digest_size=16).digest()


def random_walk(guide: Any, seed: int, steps: int = STEPS) -> list[tuple]:
    """What the guide says along a random walk: state keys, masks, forced bytes, next states.
    The walk's choices depend only on `seed` and on what the guide says."""
    rng = random.Random(seed)
    key = guide.automaton.key
    state = guide.initial_state
    out = []
    for _ in range(steps):
        if rng.random() < 0.3:  # advance before the state's entry exists: walked per token
            token = rng.randrange(guide.vocabulary.size)
            try:
                out.append(("try", token, key(guide.advance(state, token))))
            except TokenRejected:  # compared with the other run too
                out.append(("try", token, None))
        ids = guide.allowed_token_ids(state)
        out.append((key(state), digest(guide.allowed_tokens(state)), guide.forced_bytes(state),
                    guide.is_accepting(state), guide.is_finished(state)))
        if not len(ids):
            break
        state = guide.advance(state, int(ids[rng.randrange(len(ids))]))
        out.append(key(state))
    return out


def job(tokenizer: Any, cache_dir: Any, thread: int, call: int,
        steps: int = STEPS) -> list[tuple]:
    guide = decoding_compile(pattern_of(thread, call), tokenizer, cache_dir=cache_dir)
    return random_walk(guide, thread * 1000 + call, steps)


@contextmanager
def fast_switching() -> Iterator[None]:
    """Threads switch every microsecond (instead of 5 ms), so races show up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(work: Callable[[int, int], Any], threads: int = THREADS,
                calls: int = CALLS) -> list[list[Any]]:
    """`work(thread, call)` for every call of every thread, the threads started together;
    results per thread in call order. An exception in any thread is raised here."""
    barrier = threading.Barrier(threads)

    def body(t: int) -> list[Any]:
        barrier.wait()
        return [work(t, c) for c in range(calls)]

    with fast_switching(), ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(body, t) for t in range(threads)]
        return [f.result() for f in futures]


def sequential(work: Callable[[int, int], Any], threads: int = THREADS,
               calls: int = CALLS) -> list[list[Any]]:
    return [[work(t, c) for c in range(calls)] for t in range(threads)]


@pytest.fixture
def fresh(monkeypatch):
    """Call to empty the in-process memos of compiled automata and indexes (the next compile
    starts cold, or from the disk cache)."""
    monkeypatch.setattr(persist, "_OPEN", weakref.WeakSet())

    def reset() -> None:
        persist.flush()
        monkeypatch.setattr(guide_mod, "_AUTOMATA", LRU(guide_mod._MEMO_SIZE))
        monkeypatch.setattr(guide_mod, "_INDEXES", LRU(guide_mod._MEMO_SIZE))

    reset()
    return reset


def assert_masks_intact(guide: Any) -> None:
    """Every mask handed out still says what its entry's token ids say (nothing wrote to it)."""
    index = guide.index
    eos = sorted(guide.vocabulary.eos_token_ids)
    for state, entry in list(index._entries.items()):
        expected = np.zeros(index.width, dtype=bool)
        expected[entry.token_ids] = True
        expected[eos] = guide.is_accepting(state)
        assert np.array_equal(entry.mask.numpy(), expected), state


def warnings_state() -> tuple:
    return (list(warnings.filters), warnings.showwarning)


@pytest.fixture(scope="module")
def reference(smollm2_tokenizer) -> list[list[list[tuple]]]:
    """Every job's walk, one after another, cold, without the disk cache."""
    memos = guide_mod._AUTOMATA, guide_mod._INDEXES
    guide_mod._AUTOMATA = LRU(guide_mod._MEMO_SIZE)  # nothing from earlier tests
    guide_mod._INDEXES = LRU(guide_mod._MEMO_SIZE)
    try:
        return sequential(lambda t, c: job(smollm2_tokenizer, False, t, c))
    finally:
        guide_mod._AUTOMATA, guide_mod._INDEXES = memos


def test_threads_share_guides_without_the_cache(smollm2_tokenizer, reference, fresh):
    before = warnings_state()
    assert run_threads(lambda t, c: job(smollm2_tokenizer, False, t, c)) == reference
    assert warnings_state() == before  # no thread left the process's filters changed
    for pattern in SHARED:
        assert_masks_intact(decoding_compile(pattern, smollm2_tokenizer, cache_dir=False))


def test_threads_share_guides_with_a_cache_folder(smollm2_tokenizer, reference, fresh,
                                                  tmp_path):
    before = warnings_state()
    for _ in ("cold", "warm"):  # the second run restores what the first stored
        assert run_threads(lambda t, c: job(smollm2_tokenizer, tmp_path, t, c)) == reference
        assert warnings_state() == before
        persist.save_all()
        fresh()


@pytest.mark.slow
def test_threads_share_guides_on_long_walks(smollm2_tokenizer, fresh, tmp_path):
    """The larger variant: walks of 16 steps (deeper into the automata), 8 threads x 400
    calls, cache on."""
    def work(t: int, c: int) -> list[tuple]:
        return job(smollm2_tokenizer, tmp_path, t, c, steps=16)

    reference = sequential(lambda t, c: job(smollm2_tokenizer, False, t, c, steps=16),
                           calls=400)
    fresh()
    assert run_threads(work, calls=400) == reference


def test_masks_and_entry_arrays_are_read_only(smollm2_tokenizer, fresh):
    guide = decoding_compile(SHARED[1], smollm2_tokenizer, cache_dir=False)
    entry = guide.index.entry(guide.initial_state)
    for array in (entry.token_ids, entry.next_states):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


# -- the logits processor and the generator ---------------------------------------------------

def processor_run(processor: Any, width: int, seed: int) -> list[bytes]:
    """One `generate`-like sequence of calls (batch of two rows choosing allowed tokens at
    random); the digest of each step's allowed positions."""
    rng = random.Random(seed)
    ids = torch.tensor([[seed % 50 + 5, 7], [seed % 50 + 5, 9]])
    out = []
    for _ in range(STEPS):
        scores = processor(ids, torch.zeros((2, width)))
        allowed = torch.isfinite(scores)
        out.append(digest(allowed))
        rows = [int(rng.choice(np.flatnonzero(a))) for a in allowed.numpy()]
        ids = torch.cat([ids, torch.tensor(rows)[:, None]], dim=1)
    return out


@pytest.mark.usefixtures("torch_one_thread")
def test_one_logits_processor_serves_threads(smollm2_tokenizer, fresh):
    from decoding.hf.processor import RegexLogitsProcessor

    processor = RegexLogitsProcessor(SHARED[2], smollm2_tokenizer, cache_dir=False)
    width = processor.guide.vocab_size
    reference = sequential(lambda t, c: processor_run(processor, width, t * 100 + c), calls=20)
    assert run_threads(lambda t, c: processor_run(processor, width, t * 100 + c),
                       calls=20) == reference


@pytest.mark.usefixtures("torch_one_thread")
def test_one_generator_serves_threads(bpe_tokenizer, fresh):
    from decoding.hf.generation import Generator
    from tests.tiny_models import tiny_llama

    generator = Generator((tiny_llama(bpe_tokenizer, seed=3), bpe_tokenizer), cache_dir=False)
    patterns = [r"[a-z]{2,8}( [a-z]{2,8}){1,3}", r'\{"n": [0-9]{1,4}\}', r"(yes|no)"]

    def call(t: int, c: int) -> Any:
        return generator.complete("Hello", regex=patterns[(t + c) % 3], temperature=1.0,
                                  seed=t * 10 + c, max_new_tokens=24)

    reference = sequential(call, threads=4, calls=2)
    assert run_threads(call, threads=4, calls=2) == reference


# -- processes ---------------------------------------------------------------------------------

PROCESS_JOBS = [(t, c) for t in range(4) for c in (0, 7, 18, 19)]


def process_walks(vocabulary: Any, cache_dir: Any, offset: int) -> list[list[tuple]]:
    """The walks of `PROCESS_JOBS` (rotated by `offset`, so processes start at different
    patterns) in this process, twice: cold from the cache, then with the in-process memo
    emptied so that the second pass loads what every process stored."""
    order = PROCESS_JOBS[offset:] + PROCESS_JOBS[:offset]
    passes = []
    for _ in range(2):
        walks = {(t, c): job(vocabulary, cache_dir, t, c) for t, c in order}
        persist.save_all()
        guide_mod._AUTOMATA = LRU(guide_mod._MEMO_SIZE)
        guide_mod._INDEXES = LRU(guide_mod._MEMO_SIZE)
        passes.append([walks[j] for j in PROCESS_JOBS])
    return passes


def test_processes_share_one_cache_folder(smollm2_tokenizer, fresh, tmp_path):
    vocabulary = vocabulary_of(smollm2_tokenizer, cache_dir=False)
    reference = [job(vocabulary, False, t, c) for t, c in PROCESS_JOBS]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(process_walks, [(vocabulary, tmp_path, 7 * i) for i in range(4)])
    for passes in results:
        assert passes == [reference, reference]
