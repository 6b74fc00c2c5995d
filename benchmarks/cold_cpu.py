"""The cold path in CPU time: `benchmarks.masks`' cold run and `benchmarks.batched_masks`' cold
first pass, timed with the measuring thread's CPU clock (`time.thread_time`) instead of the wall
clock, so that a before/after comparison on a shared, loaded machine measures the work, not the
load.

Run: `python -m benchmarks.cold_cpu [--model gemma3-270m] [--engine typedecode|llguidance]
[--batched]`, once per process (the process is the cold part: compare checkouts by alternating
runs of each, `PYTHONPATH=<checkout>`). Prints one JSON line.

- masks (default): the masks benchmark's sample (`--schemas N --seed S`, the dev schemas plus the
  RELLM regex, instances tokenized here) in this process, after the engine's setup; typedecode on
  an empty cache folder. Per case the first mask (compile included) and every step along its
  valid instances (`benchmarks.measure`); cases the engine refuses, or that fail, are left out,
  and so are those named by `--skip` (default: the case whose emptiness check runs out of
  derivatives after some 20 s, the same for every checkout). Reported: first mask p50 and mean,
  step p50, p99 and mean over the cases the engine compiled.
- `--batched` (typedecode only): the 64 rows of `batched_masks` (seed 0), chosen here and measured
  in a fresh process with no disk cache, as its cold worker: the first pass of 128 steps, its
  setup (compiles and first masks) and step p50, p90, p99, max.

A thread's CPU clock does not see work on other threads (llguidance's pool, if it used one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

CPU_CLOCK = types.SimpleNamespace(perf_counter=time.thread_time,
                                  perf_counter_ns=time.thread_time_ns)
"""Stands for the `time` module in `batched_masks` (the masks run uses `measure`'s own clock,
`BENCH_CLOCK=cpu`, as `benchmarks.masks --clock cpu` does)."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.batched_worker:
        print(json.dumps(_batched_worker(Path(args.batched_worker))))
        return 0
    if args.batched and args.engine != "typedecode":
        parser.error("--batched measures typedecode only")
    os.environ["BENCH_CLOCK"] = "cpu"  # read by `benchmarks.measure` when imported
    if args.batched:
        os.environ["TYPEDECODE_CACHE_DIR"] = "off"  # choosing the rows compiles them: no cache
    from transformers import AutoTokenizer

    from benchmarks.smollm2 import save_tokenizer

    with tempfile.TemporaryDirectory(prefix="typedecode-cold-cpu-") as tmp:
        work = Path(tmp)
        save_tokenizer(work / "tokenizer", args.model)
        tokenizer = AutoTokenizer.from_pretrained(work / "tokenizer")  # as the workers load it
        result = _batched(tokenizer, work) if args.batched else _masks(tokenizer, args, work)
    print(json.dumps({"model": args.model, "engine": args.engine, **result}))
    return 0


def _masks(tokenizer, args: argparse.Namespace, work: Path) -> dict:
    from benchmarks import measure
    from benchmarks.cases import RELLM_CASE, sample_schemas, tokenize_case
    from benchmarks.engines import load

    cases = [*sample_schemas(Path(args.data), args.schemas, args.seed), RELLM_CASE]
    tasks = [tokenize_case(c, tokenizer) for c in cases if c.id not in args.skip]
    os.environ["TYPEDECODE_CACHE_DIR"] = str(work / "cache")  # an empty folder: the cold run
    if measure.CLOCK != "cpu":  # set in `main` before `measure` is imported
        raise RuntimeError("benchmarks.measure was imported before BENCH_CLOCK=cpu was set")
    engine = load(args.engine)
    start = time.thread_time()
    engine.setup(tokenizer)
    setup = time.thread_time() - start
    firsts, steps = [], []
    for task in tasks:
        result = measure.measure(engine, task)
        if result["status"] == "ok":
            firsts.append(result["first_mask_s"] * 1e3)
            steps += result["step_ns"]
    us = np.array(steps) / 1e3
    return {"setup_s": round(setup, 3), "cases": len(firsts), "steps": len(us),
            "first_ms_p50": round(float(np.median(firsts)), 2),
            "first_ms_mean": round(float(np.mean(firsts)), 2),
            "step_us_p50": round(float(np.median(us)), 1),
            "step_us_p99": round(float(np.percentile(us, 99)), 1),
            "step_us_mean": round(float(us.mean()), 1)}


def _batched(tokenizer, work: Path) -> dict:
    """The rows chosen here (choosing compiles them), measured in a fresh process, as
    `batched_masks` does."""
    from benchmarks import batched_masks

    rows = batched_masks.choose_rows(tokenizer, 64, 0)
    (work / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "benchmarks.cold_cpu", "--batched-worker",
                          str(work)], capture_output=True, text=True, check=True,
                         env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _batched_worker(work: Path) -> dict:
    from transformers import AutoTokenizer

    import decoding
    from benchmarks import batched_masks

    tokenizer = AutoTokenizer.from_pretrained(work / "tokenizer")
    rows = json.loads((work / "rows.json").read_text(encoding="utf-8"))
    decoding.compile("a", tokenizer)  # the vocabulary tables, as the benchmark's workers have
    batched_masks.time = CPU_CLOCK
    result = batched_masks.run_typedecode(rows, tokenizer, 128, passes=1, preload=False)
    us = np.array(result["passes"][0]) / 1e3
    return {"setup_ms": round(result["first_s"] * 1e3, 1),
            **{f"step_us_{name}": round(float(np.percentile(us, q)), 1)
               for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}}


def _parser() -> argparse.ArgumentParser:
    from benchmarks.cases import DEFAULT_DATA_DIR
    from decoding.hf.embedded import DEFAULT, EMBEDDED

    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--engine", default="typedecode", choices=["typedecode", "llguidance"])
    parser.add_argument("--batched", action="store_true")
    parser.add_argument("--schemas", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--skip", nargs="*", default=["Handwritten---allany19"])
    parser.add_argument("--batched-worker", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
