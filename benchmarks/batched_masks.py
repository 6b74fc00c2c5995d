"""Batched masks: a batch of 64 rows, each a different JSONSchemaBench dev schema walked along one
of its valid instances, filled into one int32 bitmask per step, typedecode vs llguidance.

    python -m benchmarks.batched_masks [--model SmolLM2-135M-Instruct|gemma3-270m] [--rows 64]
                                       [--steps 128] [--seed 0] [--json FILE]

Work: schemas drawn as `benchmarks.cases.sample_schemas` draws them (`--seed`), kept when both
engines compile them and accept every token of their first valid instance (serialized compactly,
tokenized once here), until `--rows` are found. A batch step commits one token per row and fills
the whole bitmask: typedecode `Guide.advance` per row and one `fill_bitmasks(rows, out)`;
llguidance `consume_token_par` and `fill_next_token_bitmask_par` on one `LLExecutor` (its
thread pool, over the machine's cores). A row that reaches the end of its instance starts it
again, so every step has `--rows` rows. Each engine runs in its own fresh process:
- llguidance: every mask computed at its step (llguidance keeps no masks);
- typedecode cold: no disk cache, so each state's entry is computed when first met (the
  first pass over the instances), then `hot`: the same steps again in the same process (every
  entry memoized: a long-running engine's steady state);
- typedecode warm: a fresh process on a cache folder warmed beforehand
  (`decoding.hf.warm.warm`, what `typedecode cache warm` runs, with these instances) and opened
  read-only (`TYPEDECODE_CACHE_READONLY=1`): a fleet's engine serving schemas known in advance;
  the pattern's stored entries are read in one record at compile time and each state's entry
  is unpacked from it when first met;
- typedecode preloaded: the same, with `Guide.preload()` after compiling (every stored entry
  unpacked at compile time, counted in its setup).
Reported: per-step wall time p50 / p90 / p99 / max and the ratios to llguidance.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cases import DEFAULT_DATA_DIR, sample_schemas
from decoding.hf.embedded import DEFAULT, EMBEDDED

ROOT = Path(__file__).resolve().parents[1]


def choose_rows(tokenizer, count: int, seed: int) -> list[dict]:
    """The first `count` sampled schemas both engines compile and walk (module docstring)."""
    import warnings

    import llguidance.hf
    from llguidance import LLMatcher

    from decoding.hf.warm import Target, guide_for

    lltok = llguidance.hf.from_tokenizer(tokenizer)
    rows = []
    for case in sample_schemas(DEFAULT_DATA_DIR, count * 4, seed):
        if not case.valid:
            continue
        tokens = list(tokenizer(case.valid[0], add_special_tokens=False)["input_ids"])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                guide = guide_for(Target(case.id, "schema", case.source), tokenizer,
                                  cache_dir=False)
            state = guide.initial_state
            for token in tokens:
                state = guide.advance(state, token)
            if not guide.is_accepting(state):
                continue
            matcher = LLMatcher(lltok, LLMatcher.grammar_from_json_schema(case.source),
                                log_level=0)
            if matcher.is_error() or not all(matcher.consume_token(t) for t in tokens):
                continue
        except Exception:  # unsupported by either engine, or an instance one rejects
            continue
        rows.append({"id": case.id, "schema": case.source,
                     "instance": json.loads(case.valid[0]), "tokens": tokens})
        print(f"[batched] row {len(rows)}: {case.id} ({len(tokens)} tokens)", file=sys.stderr)
        if len(rows) == count:
            break
    return rows


def _tokens_at(rows: list[dict], step: int) -> list[int]:
    return [row["tokens"][step % len(row["tokens"])] for row in rows]


def run_typedecode(rows: list[dict], tokenizer, steps: int, passes: int,
                   preload: bool) -> dict:
    from decoding.guides.bitmask import allocate, fill_bitmasks
    from decoding.hf.warm import Target, guide_for

    t0 = time.perf_counter()
    guides = [guide_for(Target(r["id"], "schema", r["schema"]), tokenizer) for r in rows]
    for guide in guides if preload else ():
        guide.preload()
    out = allocate(len(rows), max(g.vocab_size for g in guides))
    fill_bitmasks([(g, g.initial_state) for g in guides], out)
    first = time.perf_counter() - t0
    timings = []
    for _ in range(passes):
        states = [g.initial_state for g in guides]
        times = []
        for step in range(steps):
            tokens = _tokens_at(rows, step)
            t = time.perf_counter_ns()
            for i, (guide, token) in enumerate(zip(guides, tokens)):
                if step % len(rows[i]["tokens"]) == 0:
                    states[i] = guide.initial_state
                states[i] = guide.advance(states[i], token)
            fill_bitmasks(list(zip(guides, states)), out)
            times.append(time.perf_counter_ns() - t)
        timings.append(times)
    return {"first_s": first, "passes": timings}


def run_llguidance(rows: list[dict], tokenizer, steps: int) -> dict:
    import llguidance.hf
    from llguidance import LLExecutor, LLMatcher
    from llguidance.numpy import (
        allocate_token_bitmask,
        consume_token_par,
        fill_next_token_bitmask_par,
    )

    lltok = llguidance.hf.from_tokenizer(tokenizer)
    executor = LLExecutor()
    t0 = time.perf_counter()
    matchers = [LLMatcher(lltok, LLMatcher.grammar_from_json_schema(r["schema"]), log_level=0)
                for r in rows]
    out = allocate_token_bitmask(len(rows), lltok.vocab_size)
    fill_next_token_bitmask_par(executor, [(m, i) for i, m in enumerate(matchers)], out)
    first = time.perf_counter() - t0
    times = []
    for step in range(steps):
        tokens = _tokens_at(rows, step)
        t = time.perf_counter_ns()
        for i, matcher in enumerate(matchers):
            if step % len(rows[i]["tokens"]) == 0:
                matcher.reset()
        ok = consume_token_par(executor, list(zip(matchers, tokens)))
        fill_next_token_bitmask_par(executor, [(m, i) for i, m in enumerate(matchers)], out)
        times.append(time.perf_counter_ns() - t)
        assert all(ok), f"llguidance rejected a token at step {step}"
    return {"first_s": first, "passes": [times]}


def worker(engine: str, work: Path, steps: int) -> dict:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work / "tokenizer")
    rows = json.loads((work / "rows.json").read_text(encoding="utf-8"))
    if engine == "llguidance":
        return run_llguidance(rows, tokenizer, steps)
    return run_typedecode(rows, tokenizer, steps, passes=2 if engine == "typedecode-cold" else 1,
                          preload=engine == "typedecode-preloaded")


def _spawn(engine: str, work: Path, steps: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.batched_masks", "--worker", engine,
                          "--work", str(work), "--steps", str(steps)],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    if out.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(model: str, count: int, steps: int, seed: int) -> dict:
    from benchmarks.smollm2 import save_tokenizer
    from decoding.hf.warm import Target, warm

    with tempfile.TemporaryDirectory(prefix="typedecode-batched-") as tmp:
        work = Path(tmp)
        tokenizer = save_tokenizer(work / "tokenizer", model)
        rows = choose_rows(tokenizer, count, seed)
        (work / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
        cache = work / "cache"
        t0 = time.perf_counter()
        warm([Target(r["id"], "schema", r["schema"], (r["instance"],)) for r in rows],
             tokenizer, max_states=0, cache_dir=cache)
        warm_s = time.perf_counter() - t0
        shared = {"TYPEDECODE_CACHE_DIR": str(cache), "TYPEDECODE_CACHE_READONLY": "1"}
        results = {
            "llguidance": _spawn("llguidance", work, steps, {}),
            "typedecode-cold": _spawn("typedecode-cold", work, steps,
                                      {"TYPEDECODE_CACHE_DIR": "off"}),
            "typedecode-warm": _spawn("typedecode-warm", work, steps, shared),
            "typedecode-preloaded": _spawn("typedecode-preloaded", work, steps, shared),
        }
    return {"model": model, "rows": len(rows), "steps": steps, "seed": seed,
            "ids": [r["id"] for r in rows], "warm_s": warm_s, "results": results,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}"}


def markdown(result: dict) -> str:
    def stats(ns: list[int]) -> list[float]:
        return [float(np.percentile(np.asarray(ns) / 1e3, q)) for q in (50, 90, 99, 100)]

    base = stats(result["results"]["llguidance"]["passes"][0])
    lines = [f"Batched masks, {result['model']} tokenizer: {result['rows']} rows of different "
             f"dev-set schemas, {result['steps']} steps (seed {result['seed']}; "
             f"{result['machine']}). Per batch step: commit one token per row and fill the "
             f"{result['rows']}-row int32 bitmask.", "",
             "| engine | setup: compile + first masks | step us p50 | p90 | p99 | max "
             "| p50 / llguidance | p99 / llguidance |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    labels = [("llguidance", "llguidance", 0), ("typedecode-cold", "typedecode cold (first pass)", 0),
              ("typedecode-cold", "typedecode hot (second pass, same process)", 1),
              ("typedecode-warm", "typedecode warm (fresh process, pre-warmed read-only "
               "cache, entries read when met)", 0),
              ("typedecode-preloaded", "typedecode warm + `Guide.preload()` at compile", 0)]
    for key, label, n in labels:
        res = result["results"][key]
        p50, p90, p99, top = stats(res["passes"][n])
        setup = f"{res['first_s'] * 1e3:.0f} ms" if n == 0 else "-"
        lines.append(f"| {label} | {setup} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {top:.0f} "
                     f"| {p50 / base[0]:.2f}x | {p99 / base[2]:.2f}x |")
    lines += ["", f"Warming the cache folder for these rows (`decoding.hf.warm.warm`, as "
                  f"`typedecode cache warm` does): {result['warm_s']:.1f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batched_masks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.work, args.steps)))
        return 0
    result = run(args.model, args.rows, args.steps, args.seed)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
