"""Where a cold step's time goes: `benchmarks.cold_cpu`'s masks run (the same sample, an empty
cache folder, the measuring thread's CPU clock) with a timer around each function a first visit
runs, reported for the slowest steps.

Run: `python -m benchmarks.cold_steps [--model gemma3-270m] [--schemas N] [--seed S] [--top K]
[--opcodes]` (once per process: the process is the cold part). Prints one JSON line (step p50,
p90, p99 and mean in us, first mask p50 in ms), then for the top 1% and for the p90-p99 band of
steps (by CPU time) each phase's exclusive CPU time (without the phases it calls) and calls, and
the K slowest steps with their case, token, new states and largest phases. `--opcodes` prints
instead one JSON line: the rows computed and the Python bytecodes and calls run in them
(`count_row_opcodes`), a measure of the rows' Python work that the machine's load does not move.

Phases: `rows` (`Automaton._compute_row`: derivatives, interning), `kernel` (the C walk call),
`walk` (`TrieWalk._depth_first` around it: rounds, set-aside nodes), `reach` (`TrieWalk.reach`'s
arrays), `lexeme_tables` (`Lexemes._build`: a counting walk's automaton), `crossing`
(`Lexemes._flags`), `inside_bits`, `split_head`, `mask_class`, `entry` (the rest of
`TokenIndex._compute`), `save` (`PersistentIndex._take_unsaved`, without `snapshot_take` and
`pack_record`), `advance` (`Guide.advance`), `fill` (`bits.fill_rows`). A step's time not in a
phase is its glue (the bitmask matcher, the collector at the end of an entry). Each timed call
adds about 1-3 us (two clock reads) to the phase that calls it: compare phases within one run.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

_now = time.thread_time_ns


class Phases:
    """Exclusive CPU time and calls per phase, for wrapped functions that may call each other:
    a call's time goes to its own phase less the time of the wrapped calls inside it. Only
    calls on the thread that made it are timed (the cache's writer packs records too)."""

    def __init__(self) -> None:
        self.ns: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self._inner: list[int] = []  # per open call: the time of the wrapped calls inside it
        self._thread = threading.get_ident()  # the measuring thread: the only one timed

    def wrap(self, name: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if threading.get_ident() != self._thread:  # the cache's writer: not a step's time
                return fn(*args, **kwargs)
            start = _now()
            self._inner.append(0)
            try:
                return fn(*args, **kwargs)
            finally:
                took = _now() - start
                self.ns[name] += took - self._inner.pop()
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1] += took
        return timed

    def patch(self, owner: object, attribute: str, name: str) -> None:
        setattr(owner, attribute, self.wrap(name, getattr(owner, attribute)))

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        """The times and calls since the last `take`, and start again."""
        out = dict(self.ns), dict(self.calls)
        self.ns.clear()
        self.calls.clear()
        return out


def instrument(phases: Phases) -> None:
    """Wrap the cold path's functions (see the module docstring) in `phases`' timers."""
    from decoding.automaton import dfa
    from decoding.guides import bitmask, guide
    from decoding.persist import cached, snapshot
    from decoding.tokens import index, lexemes, walk

    phases.patch(dfa.Automaton, "_compute_row", "rows")
    phases.patch(dfa.Automaton, "mask_class", "mask_class")
    kernel = walk._kernel()
    if kernel is not None:
        walk._kernel = lambda: phases.wrap("kernel", kernel)
    phases.patch(walk.TrieWalk, "_depth_first", "walk")
    phases.patch(walk.TrieWalk, "reach", "reach")
    phases.patch(lexemes.Lexemes, "_build", "lexeme_tables")
    phases.patch(lexemes.Lexemes, "_flags", "crossing")
    phases.patch(lexemes.Lexemes, "inside_bits", "inside_bits")
    phases.patch(index, "split_head", "split_head")
    phases.patch(index.TokenIndex, "_compute", "entry")
    phases.patch(cached.PersistentIndex, "_take_unsaved", "save")
    phases.patch(snapshot, "take", "snapshot_take")
    phases.patch(snapshot, "pack_record", "pack_record")
    phases.patch(guide.Guide, "advance", "advance")
    phases.patch(bitmask.packed, "fill_rows", "fill")


def run(tokenizer, tasks: list[dict], phases: Phases) -> tuple[list[dict], list[float]]:
    """Each task's first mask (ms) and its valid instances' steps, walked as `benchmarks.measure`
    walks them (invalid instances walked untimed after, as there); per step its CPU time, its
    phases and how many states the automaton gained."""
    from benchmarks.engines import load

    engine = load("typedecode")
    engine.setup(tokenizer)
    steps, firsts = [], []
    for task in tasks:
        start = _now()
        try:
            matcher = engine.compile(task["kind"], task["source"])
            matcher.mask()
        except Exception as exc:  # noqa: BLE001 - a refusal or failure: left out, as measure does
            print(f"{task['id']}: {type(exc).__name__}", file=sys.stderr)
            continue
        firsts.append((_now() - start) / 1e6)
        for tokens in task["valid"]:
            _walk(matcher, tokens, task["id"], tokenizer, phases, steps)
        for tokens in task["invalid"]:
            _walk(matcher, tokens, task["id"], tokenizer, phases, None)
    return steps, firsts


def _walk(matcher, tokens: list[int], case: str, tokenizer, phases: Phases,
          steps: list[dict] | None) -> None:
    matcher.reset()
    mask = matcher.mask()
    for i, token in enumerate(tokens):
        if not matcher.allows(mask, token):
            return
        automaton = matcher._guide.automaton
        before = automaton.num_states
        phases.take()
        start = _now()
        committed = matcher.advance(token)
        if committed:
            mask = matcher.mask()
        took = _now() - start
        ns, calls = phases.take()
        if steps is not None:
            steps.append({"ns": took, "case": case, "i": i, "ns_by_phase": ns, "calls": calls,
                          "token": tokenizer.convert_ids_to_tokens(token),
                          "new_states": automaton.num_states - before})
        if not committed:
            return


def report(steps: list[dict], firsts: list[float], top: int) -> str:
    us = np.array([s["ns"] for s in steps]) / 1e3
    lines = [json.dumps({"steps": len(us), "step_us_p50": round(float(np.median(us)), 1),
                         "step_us_p90": round(float(np.percentile(us, 90)), 1),
                         "step_us_p99": round(float(np.percentile(us, 99)), 1),
                         "step_us_mean": round(float(us.mean()), 1),
                         "first_ms_p50": round(float(np.median(firsts)), 2)})]
    order = sorted(steps, key=lambda s: -s["ns"])
    one, ten = len(order) // 100 + 1, len(order) // 10
    for label, band in (("top 1%", order[:one]), ("p90-p99", order[one:ten])):
        ns: collections.Counter[str] = collections.Counter()
        calls: collections.Counter[str] = collections.Counter()
        for s in band:
            ns.update(s["ns_by_phase"])
            calls.update(s["calls"])
        total = sum(s["ns"] for s in band)
        lines.append(f"{label}: {len(band)} steps, {total / 1e3:.0f} us")
        lines += [f"  {name:14s} {t / 1e3:8.0f} us {100 * t / total:4.0f}%  {calls[name]} calls"
                  for name, t in ns.most_common()]
        lines.append(f"  {'(glue)':14s} {(total - sum(ns.values())) / 1e3:8.0f} us")
    lines.append(f"slowest {top} steps (us): case, token index, token, new states, phases")
    for s in order[:top]:
        big = sorted(s["ns_by_phase"].items(), key=lambda kv: -kv[1])[:6]
        lines.append(f"  {s['ns'] / 1e3:6.0f} {s['case'][:36]:36s} {s['i']:4d} "
                     f"{s['token']!r:14s} {s['new_states']:3d}  "
                     + " ".join(f"{k}={v / 1e3:.0f}" for k, v in big))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    phases = Phases()
    if args.opcodes:
        counts = count_row_opcodes()
    else:
        instrument(phases)
    with tempfile.TemporaryDirectory(prefix="typedecode-cold-steps-") as tmp:
        tokenizer, tasks = cold_sample(args, Path(tmp))
        steps, firsts = run(tokenizer, tasks, phases)
    print(json.dumps(counts) if args.opcodes else report(steps, firsts, args.top))
    return 0


def count_row_opcodes() -> dict[str, int]:
    """Trace `Automaton._compute_row` and all it calls: the dict returned, filled as the run
    goes, counts the rows computed ("rows"), the Python bytecodes ("opcode") and the Python
    calls ("call") in them. A count, unlike a time, does not move with the machine's load: an
    A/B of the rows' Python work (a call into C counts as one bytecode, whatever it does)."""
    from decoding.automaton import dfa

    counts = {"rows": 0, "opcode": 0, "call": 0}

    def trace(frame, event, arg):
        frame.f_trace_opcodes = True
        if event in counts:
            counts[event] += 1
        return trace

    compute = dfa.Automaton._compute_row

    def traced(self, state: int) -> None:
        counts["rows"] += 1
        sys.settrace(trace)
        try:
            compute(self, state)
        finally:
            sys.settrace(None)

    dfa.Automaton._compute_row = traced
    return counts


def cold_sample(args: argparse.Namespace, work: Path) -> tuple[Any, list[dict]]:
    """The tokenizer of `args.model` (saved under `work` and loaded as the workers load it) and
    the sample's tasks (`--schemas`, `--seed`, `--data`, less `--skip`, plus the RELLM regex);
    the disk cache is pointed at an empty folder under `work`: the cold run."""
    from transformers import AutoTokenizer

    from benchmarks.cases import RELLM_CASE, sample_schemas, tokenize_case
    from benchmarks.smollm2 import save_tokenizer

    save_tokenizer(work / "tokenizer", args.model)
    tokenizer = AutoTokenizer.from_pretrained(work / "tokenizer")
    cases = [*sample_schemas(Path(args.data), args.schemas, args.seed), RELLM_CASE]
    tasks = [tokenize_case(c, tokenizer) for c in cases if c.id not in args.skip]
    os.environ["TYPEDECODE_CACHE_DIR"] = str(work / "cache")  # empty: the cold run
    return tokenizer, tasks


def _parser() -> argparse.ArgumentParser:
    from benchmarks.cases import DEFAULT_DATA_DIR
    from decoding.hf.embedded import DEFAULT, EMBEDDED

    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_steps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--schemas", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--skip", nargs="*", default=["Handwritten---allany19"])
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--opcodes", action="store_true",
                        help="instead of timing, count the rows' Python bytecodes and calls")
    return parser


if __name__ == "__main__":
    sys.exit(main())
