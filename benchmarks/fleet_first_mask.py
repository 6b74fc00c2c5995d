"""A fleet's second engine process: time to the first mask on a shared disk cache.

    python -m benchmarks.fleet_first_mask [--schemas 20] [--model NAME] [--json FILE]

An "engine process" here is a fresh Python process that, with the tokenizer loaded and the
imports done (not timed), serves N dev-set schemas (`benchmarks.cache_warm.pick_schemas`) one
after the other the way an engine does: the vocabulary table (`decoding.vocabulary_of`, once per
process), then per schema `decoding.hf.warm.guide_for` (the guide `generate` uses) and its first
mask row (`fill_bitmasks`). Timed: the vocabulary, and each schema's compile + first mask.
Processes, in order, on one cache folder:
1. first: the folder empty (it fills it, as the first engine of a fleet does);
2. second: a new process on that folder, read-only (`TYPEDECODE_CACHE_READONLY=1`): another
   engine of the fleet, on the same node or with a copy of the folder;
3. warmed: a new folder prepared by `typedecode cache warm` (the same schemas, `--max-states
   64`), then a read-only process on it.
Ratios: first / second per schema (compile + first mask, and with the vocabulary counted in the
first schema of each process) and for the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decoding.hf.embedded import DEFAULT, EMBEDDED

ROOT = Path(__file__).resolve().parents[1]


def worker(tokenizer_dir: str, schemas_file: str) -> dict:
    from transformers import AutoTokenizer

    import schema2re  # noqa: F401 - imported before the clock starts, like the rest
    from decoding.guides.bitmask import allocate, fill_bitmasks
    from decoding.guides.guide import vocabulary_of
    from decoding.hf.warm import Target, guide_for

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    schemas = json.loads(Path(schemas_file).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    vocabulary_of(tokenizer)
    vocabulary_ms = (time.perf_counter() - t0) * 1e3
    per_schema, walks = [], 0
    for record in schemas:
        t = time.perf_counter()
        guide = guide_for(Target(record["id"], "schema", record["schema"]), tokenizer)
        out = allocate(1, guide.vocab_size)
        fill_bitmasks([(guide, guide.initial_state)], out)
        per_schema.append((time.perf_counter() - t) * 1e3)
        walks += getattr(guide.index, "walks", 0)
    return {"vocabulary_ms": vocabulary_ms, "schema_ms": per_schema,
            "total_ms": (time.perf_counter() - t0) * 1e3, "walks": walks}


def _spawn(tokenizer_dir: Path, schemas_file: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.fleet_first_mask", "--worker",
                          str(tokenizer_dir), str(schemas_file)],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(count: int, model: str) -> dict:
    from benchmarks.cache_warm import pick_schemas
    from benchmarks.smollm2 import save_tokenizer

    with tempfile.TemporaryDirectory(prefix="typedecode-fleet-") as tmp:
        root = Path(tmp)
        save_tokenizer(root / "tokenizer", model)
        schemas = pick_schemas(count)
        schemas_file = root / "schemas.json"
        schemas_file.write_text(json.dumps(schemas), encoding="utf-8")
        shared = root / "shared-cache"
        first = _spawn(root / "tokenizer", schemas_file, {"TYPEDECODE_CACHE_DIR": str(shared)})
        second = _spawn(root / "tokenizer", schemas_file,
                        {"TYPEDECODE_CACHE_DIR": str(shared), "TYPEDECODE_CACHE_READONLY": "1"})
        warmed = root / "warmed-cache"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "decoding.cli", "cache", "warm", "--from-list",
                        str(schemas_file), "--tokenizer", str(root / "tokenizer"), "--max-states", "64",
                        "--cache-dir", str(warmed)], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
        warm_s = time.perf_counter() - t0
        prewarmed = _spawn(root / "tokenizer", schemas_file,
                           {"TYPEDECODE_CACHE_DIR": str(warmed), "TYPEDECODE_CACHE_READONLY": "1"})
    return {"model": model, "ids": [s["id"] for s in schemas], "first": first,
            "second": second, "warmed": prewarmed, "warm_command_s": warm_s}


def markdown(result: dict) -> str:
    first, second, warmed = result["first"], result["second"], result["warmed"]
    lines = [f"{len(result['ids'])} dev-set schemas, {result['model']} tokenizer; "
             "compile + first mask per schema, ms.", "",
             "| schema | first process | second (read-only) | first / second "
             "| pre-warmed folder (read-only) |", "|---|---:|---:|---:|---:|"]
    ratios = []
    for i, name in enumerate(result["ids"]):
        a, b, c = first["schema_ms"][i], second["schema_ms"][i], warmed["schema_ms"][i]
        ratios.append(a / b)
        lines.append(f"| {name} | {a:.1f} | {b:.2f} | {a / b:.0f}x | {c:.2f} |")
    with_vocab = ((first["vocabulary_ms"] + first["schema_ms"][0])
                  / (second["vocabulary_ms"] + second["schema_ms"][0]))
    lines += ["",
              f"- per schema, first / second: geometric mean "
              f"{statistics.geometric_mean(ratios):.0f}x (min {min(ratios):.0f}x, "
              f"max {max(ratios):.0f}x); entries computed by the second process: "
              f"{second['walks']} (first: {first['walks']})",
              f"- first schema of each process with the vocabulary table: "
              f"{first['vocabulary_ms'] + first['schema_ms'][0]:.0f} ms vs "
              f"{second['vocabulary_ms'] + second['schema_ms'][0]:.1f} ms ({with_vocab:.0f}x)",
              f"- whole process (vocabulary + every schema's first mask): "
              f"{first['total_ms']:.0f} ms vs {second['total_ms']:.0f} ms "
              f"({first['total_ms'] / second['total_ms']:.0f}x); on the folder pre-warmed by "
              f"`typedecode cache warm` ({result['warm_command_s']:.0f} s, the command's start-up "
              f"included): {warmed['total_ms']:.0f} ms"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_first_mask",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=int, default=20)
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    result = run(args.schemas, args.model)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
