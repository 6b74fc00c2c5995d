"""Budgets that still parse: the share of calls that end in a valid object at a small token
budget, `on_length="raise"` (the default) against `on_length="finish"`, on the e2e harness's
workloads (`benchmarks.e2e.build_workloads`: the RELLM agent-action regex and `--schemas`
dev-set JSON Schemas, each in the default model's chat template; same selection and seed).

Each workload runs once per mode, greedy, with `max_new_tokens=--budget` (64 by default), on
the default model (SmolLM2-135M-Instruct) with an empty temporary disk cache. A call counts as
valid when it returns and its text validates (jsonschema for a schema, `regex.fullmatch` for
the regex); `IncompleteGeneration` counts as not valid. Writes budget.md and budget.json to
`--out` (default benchmarks/results). The selection, as in `benchmarks.e2e`, needs
lm-format-enforcer (the `bench` extra). Run from the repository root:

    python -m benchmarks.budget [--budget 64] [--schemas 10] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from benchmarks.e2e import RESULTS_DIR, Workload, _constraint, _validator, build_workloads

MODES = ("raise", "finish")


def run_mode(gen: Any, workload: Workload, budget: int, mode: str) -> dict[str, Any]:
    """One greedy call under `mode`: tokens, seconds, whether it returned a valid object."""
    from decoding.errors import IncompleteGeneration

    start = time.perf_counter()
    try:
        done = gen.complete(workload.prompt, max_new_tokens=budget, on_length=mode,
                            **_constraint(workload))
    except IncompleteGeneration as exc:
        return {"workload": workload.id, "mode": mode, "tokens": exc.num_tokens, "valid": False,
                "seconds": time.perf_counter() - start, "finish": "IncompleteGeneration",
                "text": exc.text}
    return {"workload": workload.id, "mode": mode, "tokens": done.num_tokens,
            "valid": _validator(workload)(done.text), "seconds": time.perf_counter() - start,
            "finish": done.finish_reason, "text": done.text}


def table(runs: list[dict[str, Any]], budget: int) -> str:
    """Markdown: one row per workload, the valid counts per mode at the end."""
    lines = [f"| workload | raise (budget {budget}) | finish (budget {budget}) |",
             "| --- | --- | --- |"]
    by = {(r["workload"], r["mode"]): r for r in runs}
    for workload in dict.fromkeys(r["workload"] for r in runs):
        cells = []
        for mode in MODES:
            r = by[(workload, mode)]
            cells.append(f"{'valid' if r['valid'] else 'no object'}, {r['tokens']} tokens "
                         f"({r['finish']})")
        lines.append(f"| {workload} | {' | '.join(cells)} |")
    totals = [sum(r["valid"] for r in runs if r["mode"] == m) for m in MODES]
    count = len(runs) // len(MODES)
    lines.append(f"| **valid objects** | **{totals[0]} of {count}** | **{totals[1]} of {count}** |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--schemas", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.budget < 1 or args.schemas < 0:
        parser.error("--budget must be >= 1, --schemas >= 0")

    import torch

    from decoding import Generator

    torch.set_num_threads(args.threads)
    default = Generator()
    workloads = build_workloads(default.tokenizer, args.schemas, args.seed)
    runs = []
    with tempfile.TemporaryDirectory(prefix="typedecode-budget-") as cache_dir:
        gen = Generator((default.model, default.tokenizer), cache_dir=cache_dir)
        for workload in workloads:
            for mode in MODES:
                runs.append(run_mode(gen, workload, args.budget, mode))
                r = runs[-1]
                print(f"{workload.id} {mode}: valid={r['valid']} tokens={r['tokens']} "
                      f"{r['seconds']:.1f} s", flush=True)
    command = " ".join(["python -m benchmarks.budget", *(sys.argv[1:] if argv is None else argv)])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"# Budgets that still parse\n\n`{command}` ({date}; {default.name}; "
            f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s))\n\n"
            f"{table(runs, args.budget)}\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "budget.md").write_text(text)
    (args.out / "budget.json").write_text(json.dumps({"command": command, "date": date,
                                                      "runs": runs}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
