"""Child processes for tests/cache/test_cache_crash.py, which kills them, starves them of disk or
runs them side by side. Run as `python -m tests.cache.crash_child MODE JSON-ARGUMENTS`.

Modes (each prints one JSON line per report on stdout, flushed at once):
- `store`: open the cache in a new Store, check every entry this mode writes (`check_store`),
  report, then write entries (plain puts in SQLite rows and in value files, `merge_arrays`, and
  puts queued on a `BackgroundWriter` thread) for `rounds` rounds or until killed; with `stall`,
  it stops while creating the database, inside a merge or half-way through a value file and
  reports `{"stalled": ...}`.
- `compile`: load a tokenizer from a folder, report `{"imported": ...}`, then compile `PATTERNS`
  with the cache and report their `mask_digests`, then compile and walk a new pattern per round
  (vocabulary tables on a cold cache, then automata and entries, written by the persist
  layer's writer thread) for `rounds` rounds or until killed.
- `writer`: overwrite the same keys with self-consistent values (every element equal to one
  generation number) for `seconds`; `reader`: read them for `seconds`, judging every read.

With a `log` argument every store write is logged (`B <thread> <what>` before, `E <thread>`
after, one `os.write` each, so a line is never torn): a `B` with no `E` after a kill is a write
the kill interrupted. Values are self-describing, so a check needs no record of what was
written: `value(kind, i, g)` holds its key index `i`, its generation `g` and data whose length
depends on both and whose elements all equal `g`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import threading
import time
import warnings
from collections.abc import Callable

import numpy as np

KEYS = 12  # keys per kind
LARGE_ITEMS = 5_000  # int64 elements: 40 kB, above diskcache's 32 KiB file threshold
PATTERNS = [
    r' ?\{"name": ?"[^"\\]*", ?"tags": ?\[("[a-z]+"(, ?"[a-z]+")*)?\]\}',
    r" ?(?i)(yes|no|maybe) [0-9]{1,3}(\.[0-9]+)?",
    r" ?[a-z]{2,12}@[a-z]{2,8}\.(com|org|net)",
    r" ?(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
    r" ?\([0-9]{3}\) [0-9]{3}-[0-9]{4}",
    r" ?[A-Z][a-z]+( [A-Z][a-z]+){0,3}",
]
VERIFY_SEED = 7


def report(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def value(kind: str, i: int, g: int) -> dict[str, np.ndarray]:
    """The self-consistent value of key `i` of `kind` at generation `g`."""
    n = (LARGE_ITEMS if kind in ("large", "queued") else 4) + (g * 7 + i) % 97
    return {"key": np.array([i]), "gen": np.array([g]), "data": np.full(n, g, dtype=np.int64)}


def is_whole(kind: str, i: int, got: dict[str, np.ndarray]) -> bool:
    """Whether `got` is exactly `value(kind, i, g)` for the generation it names."""
    if got.keys() != {"key", "gen", "data"} or got["gen"].shape != (1,):
        return False
    want = value(kind, i, int(got["gen"][0]))
    return all(got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]) for k in want)


def union(old: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"ids": np.union1d(old["ids"], new["ids"])}


def log_writes(path: str) -> None:
    """Log every `diskcache.Cache.set` and `Store.merge_arrays` to `path` (module docstring)."""
    import diskcache

    from cache.store import Store

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def logged(method: Callable, what: Callable[[tuple], str]) -> Callable:
        def run(*args: object, **kwargs: object) -> object:
            thread = threading.current_thread().name.replace(" ", "_")
            os.write(fd, f"B {thread} {what(args)}\n".encode())
            try:
                return method(*args, **kwargs)
            finally:
                os.write(fd, f"E {thread}\n".encode())
        return run

    diskcache.Cache.set = logged(diskcache.Cache.set, lambda a: f"set:{a[1].split('/')[2]}")
    Store.merge_arrays = logged(Store.merge_arrays, lambda a: "merge_arrays")


def check_store(store: object) -> dict:
    """Read every key `write_store` writes: counts of whole values and misses, the keys whose
    value is not whole, and the merged id sets."""
    out: dict = {"whole": 0, "miss": 0, "bad": [], "merged": {}}
    for kind in ("small", "large", "queued"):
        for i in range(KEYS):
            got = store.get_arrays(kind, str(i))
            if got is None:
                out["miss"] += 1
            elif is_whole(kind, i, got):
                out["whole"] += 1
            else:
                out["bad"].append(f"{kind}/{i}")
    for i in range(KEYS):
        got = store.get_arrays("merged", str(i))
        if got is None:
            out["miss"] += 1
            continue
        ids = got.get("ids")
        if got.keys() != {"ids"} or ids.ndim != 1 or not np.array_equal(ids, np.unique(ids)):
            out["bad"].append(f"merged/{i}")
        else:
            out["merged"][str(i)] = ids.tolist()
    return out


def _stall(where: str) -> None:
    report(stalled=where)
    time.sleep(600)  # until killed


def stall_in_value_file(thread: str) -> None:
    """The first value file that `thread` writes stops half-way: the child reports
    `{"stalled": ...}` and sleeps until killed."""
    import diskcache

    real_open = open

    class Stalling:
        def __init__(self, file):
            self._file = file

        def write(self, data):
            self._file.write(bytes(data[: len(data) // 2]))
            self._file.flush()
            _stall(f"{thread}:value file")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._file.close()

    def stalling_open(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return Stalling(file) if "x" in mode and threading.current_thread().name == thread \
            else file

    diskcache.core.open = stalling_open


def stall_in_creation() -> None:
    """Creating a new cache database stops half-way through diskcache's settings: the child
    reports `{"stalled": "creation"}` and sleeps until killed."""
    import diskcache

    reset, calls = diskcache.Cache.reset, []

    def stalling_reset(cache, *args, **kwargs):
        calls.append(1)
        if len(calls) == 8:
            _stall("creation")
        return reset(cache, *args, **kwargs)

    diskcache.Cache.reset = stalling_reset


def write_store(store: object, run: int, rounds: int, stall: str | None = None) -> None:
    """Write every kind over and over: generation numbers are unique to the run and round.
    `stall="merge"`: the first merge stops inside `merge_arrays` (holding the write lock);
    `stall=<thread name>`: the first value file that thread writes stops half-way."""
    from cache.writer import BackgroundWriter

    if stall not in (None, "merge"):
        stall_in_value_file(stall)
    merge = union if stall != "merge" else lambda old, new: _stall("merge_arrays")
    writer = BackgroundWriter(lambda exc: report(writer_error=repr(exc)), name="cache-writer")
    for step in range(rounds):
        g, i = run * 1_000_000 + step, step % KEYS
        writer.submit(lambda g=g, i=i: store.put_arrays("queued", str(i), value("queued", i, g)))
        store.put_arrays("small", str(i), value("small", i, g))
        store.put_arrays("large", str(i), value("large", i, g))
        store.merge_arrays("merged", str(i), {"ids": np.arange(g * 64, g * 64 + 64)}, merge)
    writer.flush()


def mask_digests(compile_: Callable, tokenizer: object, cache_dir: object, seed: int,
                 patterns: list[str] = PATTERNS, walks: int = 3, steps: int = 10
                 ) -> dict[str, str]:
    """Per pattern, a digest of the masks and accepting flags along seeded random walks (state
    numbers are not hashed: they differ between a warm and a cold process)."""
    out = {}
    for pattern in patterns:
        guide = compile_(pattern, tokenizer, cache_dir=cache_dir)
        rng, digest = random.Random(seed), hashlib.sha256()
        for _ in range(walks):
            state = guide.initial_state
            for _ in range(steps):
                mask = guide.allowed_tokens(state)
                digest.update(mask.numpy().tobytes() + bytes([guide.is_accepting(state)]))
                ids = mask.nonzero().flatten().tolist()
                if not ids:
                    break
                state = guide.advance(state, rng.choice(ids))
        out[pattern] = digest.hexdigest()
    return out


def _recorded(action: Callable[[], object]) -> tuple[object, list[str]]:
    """`action()` and every warning it emitted, as 'Category: message'."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


def _store_mode(cache_dir: str, run: int, rounds: int, stall: str | None) -> None:
    from cache.store import Store

    if stall == "creation":
        stall_in_creation()
    store, opened = _recorded(lambda: Store(cache_dir))
    checked, read = _recorded(lambda: check_store(store))
    report(checked=checked, warnings=opened + read, enabled=store.enabled)
    write_store(store, run, rounds, stall)


def _compile_mode(cache_dir: str, tokenizer_dir: str, run: int, rounds: int) -> None:
    from transformers import AutoTokenizer

    from decoding.guides.guide import compile as compile_

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    report(imported=True)
    digests, caught = _recorded(
        lambda: mask_digests(compile_, tokenizer, cache_dir, VERIFY_SEED))
    report(digests=digests, warnings=caught)
    for step in range(rounds):  # a new pattern each round: a new automaton and new entries
        pattern = f" ?r{run}s{step}[a-z]{{1,{6 + step % 5}}}( [0-9]{{1,3}}){{0,4}}"
        mask_digests(compile_, tokenizer, cache_dir, step, [pattern], walks=3, steps=16)


def _writer_mode(cache_dir: str, w: int, writers: int, seconds: float) -> None:
    from cache.store import Store

    store, deadline, step = Store(cache_dir), time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        g = w + writers * step
        for kind in ("small", "large"):
            store.put_arrays(kind, str(step % 4), value(kind, step % 4, g))
        step += 1
    report(writes=2 * step, enabled=store.enabled)


def _reader_mode(cache_dir: str, seconds: float) -> None:
    from cache.store import Store

    def read() -> dict:
        store, deadline = Store(cache_dir), time.monotonic() + seconds
        counts = {"whole": 0, "miss": 0, "bad": 0}
        while time.monotonic() < deadline:
            for kind in ("small", "large"):
                for i in range(4):
                    got = store.get_arrays(kind, str(i))
                    which = "miss" if got is None else "whole" if is_whole(kind, i, got) else "bad"
                    counts[which] += 1
        return counts

    counts, caught = _recorded(read)
    report(**counts, warnings=caught)


def main(argv: list[str]) -> None:
    mode, args = argv[0], json.loads(argv[1])
    if args.get("log"):
        log_writes(args["log"])
    if mode == "store":
        _store_mode(args["cache"], args["run"], args["rounds"], args.get("stall"))
    elif mode == "compile":
        _compile_mode(args["cache"], args["tokenizer"], args["run"], args["rounds"])
    elif mode == "writer":
        _writer_mode(args["cache"], args["w"], args["writers"], args["seconds"])
    elif mode == "reader":
        _reader_mode(args["cache"], args["seconds"])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
