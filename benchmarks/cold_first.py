"""Where a cold first mask's time goes: `benchmarks.cold_cpu`'s masks sample (the dev schemas
plus the RELLM regex, an empty cache folder, the engine's setup done), each case's compile and
first mask timed in the measuring thread's CPU clock, by phase.

Run: `python -m benchmarks.cold_first [--model gemma3-270m] [--schemas N] [--seed S] [--top K]` (once per
process: the process is the cold part; compare checkouts by alternating runs with
`PYTHONPATH=<checkout>`). Prints one JSON line (first mask p50 and mean in ms), then per phase
its exclusive CPU time (without the phases it calls) as p50 and sum over the cases, then the
`--top K` slowest cases' largest phases.

Phases: `translate` (`schema2re.to_expression` less the two below: the translator and its
expression nodes), `document` (`schema2re.document.Document`: the survey walk and the
meta-schema check), `json_check` (`schema2re.inputs._check_json`, the check walk),
`language` (the rest of `cached_schema_language`: the schema's JSON text and key, the record
lookup, the record's queued write), `open_index` (the rest of `persist.open_index`: keys, the
automaton and entries lookups), `automaton` (`Automaton()`: byte classes, the initial state),
`rows` (`Automaton._compute_row`), `walk` (`TrieWalk._depth_first` and the C walk inside it),
`save` (`PersistentIndex._take_unsaved`: the snapshot packed on this thread), `entry` (the rest
of the first `TokenIndex.entry`), `fill` (`bits.fill_rows`), `gc` (the collection that ends a
paused section, `decoding.util._resume_gc`), `compile` (the rest of `decoding.compile`). A case's
time not in a phase is its glue (the benchmark's matcher). Each timed call adds about 1-3 us
(two clock reads) to the phase that calls it: compare phases within one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.cold_steps import Phases, cold_sample

_now = time.thread_time_ns


def instrument(phases: Phases) -> None:
    """Wrap the cold first mask's functions (see the module docstring) in `phases`' timers."""
    import schema2re
    from decoding import util
    from decoding.automaton import dfa
    from decoding.guides import bitmask, guide
    from decoding.persist import cached
    from decoding.tokens import index, walk
    from schema2re import document, inputs

    phases.patch(schema2re, "to_expression", "translate")
    phases.patch(document.Document, "__init__", "document")
    phases.patch(inputs, "_check_json", "json_check")
    phases.patch(cached, "cached_schema_language", "language")
    phases.patch(cached, "open_index", "open_index")
    phases.patch(dfa.Automaton, "__init__", "automaton")
    phases.patch(dfa.Automaton, "_compute_row", "rows")
    phases.patch(walk.TrieWalk, "_depth_first", "walk")
    phases.patch(cached.PersistentIndex, "_take_unsaved", "save")
    phases.patch(index.TokenIndex, "entry", "entry")
    phases.patch(bitmask.packed, "fill_rows", "fill")
    phases.patch(util, "_resume_gc", "gc")
    phases.patch(guide, "compile", "compile")


def run(tokenizer, tasks: list[dict], phases: Phases) -> list[tuple[str, int, dict[str, int]]]:
    """Per compiled case: its id, its first mask's CPU time (ns, compile included) and that
    time by phase. Refusals and failures are left out, as `benchmarks.measure` does."""
    from benchmarks.engines import load

    engine = load("typedecode")
    engine.setup(tokenizer)
    out = []
    for task in tasks:
        phases.take()
        start = _now()
        try:
            engine.compile(task["kind"], task["source"]).mask()
        except Exception as exc:  # noqa: BLE001 - a refusal or failure: left out
            print(f"{task['id']}: {type(exc).__name__}", file=sys.stderr)
            continue
        took = _now() - start
        out.append((task["id"], took, phases.take()[0]))
    return out


def report(cases: list[tuple[str, int, dict[str, int]]], top: int) -> str:
    firsts = np.array([took for _, took, _ in cases]) / 1e6
    lines = [json.dumps({"cases": len(cases), "first_ms_p50": round(float(np.median(firsts)), 3),
                         "first_ms_mean": round(float(firsts.mean()), 3)}),
             f"{'phase':12s} {'p50 ms':>8s} {'sum ms':>8s} {'share':>6s}"]
    names = sorted({name for _, _, ns in cases for name in ns},
                   key=lambda name: -sum(ns.get(name, 0) for _, _, ns in cases))
    glue = np.array([took - sum(ns.values()) for _, took, ns in cases]) / 1e6
    for name, ms in [*((n, np.array([ns.get(n, 0) for _, _, ns in cases]) / 1e6) for n in names),
                     ("(glue)", glue), ("total", firsts)]:
        lines.append(f"{name:12s} {np.median(ms):8.3f} {ms.sum():8.2f} "
                     f"{ms.sum() / firsts.sum():6.1%}")
    lines.append(f"slowest {top} cases (ms): first mask, largest phases")
    for case, took, ns in sorted(cases, key=lambda c: -c[1])[:top]:
        big = sorted(ns.items(), key=lambda kv: -kv[1])[:5]
        lines.append(f"  {took / 1e6:7.2f} {case[:40]:40s} "
                     + " ".join(f"{k}={v / 1e6:.2f}" for k, v in big))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    phases = Phases()
    instrument(phases)
    with tempfile.TemporaryDirectory(prefix="typedecode-cold-first-") as tmp:
        tokenizer, tasks = cold_sample(args, Path(tmp))
        print(report(run(tokenizer, tasks, phases), args.top))
    return 0


def _parser() -> argparse.ArgumentParser:
    from benchmarks import cold_steps

    parser = cold_steps._parser()
    parser.prog = "python -m benchmarks.cold_first"
    parser.description = __doc__
    return parser


if __name__ == "__main__":
    sys.exit(main())
